import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { ZodError } from 'zod';
import type { PhiAccess } from '../audit/trail.js';
import { searchAuditEvents, toAuditEvent } from '../audit/search.js';
import { readTrail } from '../audit/region-db.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import { createPatient, updatePatient } from '../patients/store.js';
import { PatientInput, PatientPatch } from '../patients/schemas.js';
import { bookAppointment, findSlots } from '../scheduling/booking.js';
import type { SchedulingDeps } from '../scheduling/deps.js';
import { BookingInput } from '../scheduling/schemas.js';
import { capabilityStatement } from './capability.js';
import { invalidResource, renderFhirError, resourceNotFound, sendFhir } from './outcome.js';
import { fhirId, ourId, type FhirEnv, type ResourceDef } from './resource-def.js';
import { PATIENT_REVINCLUDES, resourceDef, RESOURCES } from './resources.js';
import { appointmentDef, bookingOf } from './resources/scheduling.js';
import { fromFhirPatient, patchOf, patientDef } from './resources/patient.js';
import { parseSearch, MAX_COUNT, type SearchRequest } from './search.js';
import { authorizeUrlOf, smartConfiguration, tokenUrlOf } from './smart/configuration.js';
import type { FhirScopeDeps } from './scope.js';
import { requireValidR4 } from './validation.js';

/**
 * The FHIR R4 API of one clinic, inside `fhirScope` (`scope.ts`): read and search for every resource type of
 * `resources.ts`, create and update of Patient and create of Appointment (through the same booking as the REST
 * API), the CapabilityStatement and the SMART configuration. Bodies are `application/fhir+json`; every error is
 * an OperationOutcome (`outcome.ts`).
 */
export type FhirRouteDeps = FhirScopeDeps & SchedulingDeps & { clinics: Pick<ClinicDirectory, 'get'> };

const baseUrlOf = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir/R4/${(req.params as { clinicId: string }).clinicId}`;

export const fhirRoutes =
  (p: FhirRouteDeps): FastifyPluginAsync =>
  async (app) => {
    const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
      try {
        done(null, JSON.parse(body));
      } catch {
        done(Object.assign(new SyntaxError('The request body is not valid JSON'), { statusCode: 400 }));
      }
    };
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, parseJson);
    app.setNotFoundHandler((req, reply) => renderFhirError(resourceNotFound(req.url.split('?')[0] ?? 'resource'), req, reply));

    const open = (type: string) => ({ fhir: { type, interaction: 'read' as const, open: true } });
    app.get('/metadata', { config: open('CapabilityStatement'), schema: { hide: true } }, async (req, reply) =>
      sendFhir(reply, 200, capabilityStatement(baseUrlOf(req), tokenUrlOf(req), authorizeUrlOf(req))),
    );
    app.get('/.well-known/smart-configuration', { config: open('smart-configuration'), schema: { hide: true } }, async (req, reply) =>
      reply.header('cache-control', 'public, max-age=3600').send(smartConfiguration(req)),
    );

    const envOf = async (req: FastifyRequest): Promise<FhirEnv> => {
      const clinic = await p.clinics.get(req.fhir.clinicId);
      if (!clinic) throw notFound('clinic');
      return {
        clinic,
        auditTrail: async (q) =>
          q.id
            ? (
                await readTrail(p, clinic.id, (db) =>
                  db.selectFrom('events').selectAll().where('clinic_id', '=', clinic.id).where('id', '=', q.id!).execute(),
                )
              ).map(toAuditEvent)
            : (await searchAuditEvents(p, clinic.id, q)).items,
        slots: (providerId, q) => findSlots(p, clinic.id, providerId, q, Date.now()),
      };
    };

    for (const def of RESOURCES) {
      const config = { permission: def.permission, fhir: { type: def.type, interaction: 'read' as const } };
      app.get(`/${def.type}`, { config, schema: { hide: true } }, async (req, reply) => {
        const q = parseSearch(req.query as Record<string, unknown>, Object.keys(def.params), Object.keys(def.includes ?? {}), {
          revincludes: def.type === 'Patient' ? PATIENT_REVINCLUDES : [],
          sorts: Object.keys(def.sorts ?? {}),
        });
        return sendFhir(reply, 200, await search(req, def, q, await envOf(req)));
      });
      app.get(`/${def.type}/:id`, { config, schema: { hide: true } }, async (req, reply) => {
        const { id } = req.params as { id: string };
        const q: SearchRequest = { params: new Map([['_id', [id]]]), count: 1, offset: 0, include: [] };
        const env = await envOf(req);
        const access: PhiAccess = { action: 'read', resourceType: def.type, resourceId: id, patientId: null, detail: { fhir: true } };
        const [found] = await req.fhir.run(
          'read',
          (scope) => def.search(scope, req.fhir.confine(def, q), env),
          def.phi ? access : undefined,
          (r) => ({ patientId: r[0] ? def.patientOf(r[0]) : null }),
        );
        if (!found || found.id !== id.split(',')[0]) throw resourceNotFound(def.type);
        return sendFhir(withVersion(reply, found), 200, found);
      });
    }

    const write = (type: string, permission: 'patient.write' | 'schedule.write') => ({
      permission,
      fhir: { type, interaction: 'write' as const },
    });

    app.post('/Patient', { config: write('Patient', 'patient.write'), schema: { hide: true } }, async (req, reply) => {
      const input = parseAs(PatientInput, fromFhirPatient(requireValidR4(req.body, 'Patient') as never), PATIENT_ELEMENTS);
      const created = await req.fhir.run(
        'write',
        (scope) => createPatient(scope, input),
        { action: 'create', resourceType: 'Patient', resourceId: null, patientId: null, detail: { fhir: true } },
        (r) => ({ resourceId: r.id, patientId: r.id }),
      );
      return sendCreated(req, reply, await readOne(req, patientDef, fhirId(created.id)));
    });

    app.put('/Patient/:id', { config: write('Patient', 'patient.write'), schema: { hide: true } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const patientId = ourId(id, 'patient');
      if (!patientId) throw resourceNotFound('Patient');
      const resource = requireValidR4(req.body, 'Patient');
      if (resource.id !== undefined && resource.id !== id)
        throw invalidResource([
          { severity: 'error', code: 'invalid', details: { text: 'The id must be the one in the URL' }, expression: ['Patient.id'] },
        ]);
      const version = versionOf(req.headers['if-match']);
      const patch = parseAs(PatientPatch, patchOf(resource as never, version), PATIENT_ELEMENTS);
      await req.fhir.run('write', (scope) => updatePatient(scope, patientId, patch), {
        action: 'update',
        resourceType: 'Patient',
        resourceId: patientId,
        patientId,
        detail: { fhir: true },
      });
      const updated = await readOne(req, patientDef, id);
      return sendFhir(withVersion(reply, updated), 200, updated);
    });

    app.post('/Appointment', { config: write('Appointment', 'schedule.write'), schema: { hide: true } }, async (req, reply) => {
      const input = parseAs(BookingInput, bookingOf(requireValidR4(req.body, 'Appointment') as never), APPOINTMENT_ELEMENTS);
      // The booking's own idempotency: a client that retries with the same Idempotency-Key gets the same appointment.
      const header = req.headers['idempotency-key'];
      const key = typeof header === 'string' && /^[A-Za-z0-9._:-]{8,128}$/.test(header) ? header : randomUUID();
      const fhir = req.fhir;
      const result = await fhir.audited(
        { action: 'create', resourceType: 'Appointment', resourceId: null, patientId: input.patientId, detail: { fhir: true } },
        () => bookAppointment(p, fhir.clinicId, input, key, fhir.userId, Date.now()),
        (r) => ({ resourceId: r.body.id }),
      );
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return sendCreated(req, reply, await readOne(req, appointmentDef, fhirId(result.body.id)));
    });

    /** A search: the page, what `_include` adds, and the audit records of the patients it shows. */
    async function search(req: FastifyRequest, def: ResourceDef, q: SearchRequest, env: FhirEnv): Promise<Bundle> {
      const patientParam = q.params.get('patient')?.[0] ?? q.params.get('subject')?.[0];
      const access: PhiAccess = {
        action: 'search',
        resourceType: def.type,
        resourceId: null,
        patientId: patientParam ? ourId(patientParam.replace(/^.*Patient\//, ''), 'patient') : null,
        detail: { fhir: true, params: [...q.params.keys()].sort().join(',') || 'none' },
      };
      const rows = await req.fhir.run(
        'read',
        (scope) => def.search(scope, req.fhir.confine(def, q), env),
        def.phi ? access : undefined,
        (r) => ({
          detail: { ...access.detail, count: Math.min(r.length, q.count) },
        }),
      );
      const page = rows.slice(0, q.count);
      const included: Resource[] = [];
      for (const name of q.include) {
        const include = def.includes![name]!;
        const target = resourceDef(include.target)!;
        if (!req.fhir.may(target.type, 'read', target.permission)) continue; // what the caller may not read is left out
        const ids = [...new Set(page.flatMap((r) => include.refs(r)))];
        if (!ids.length) continue;
        const tq: SearchRequest = { params: new Map([['_id', [ids.join(',')]]]), count: MAX_COUNT, offset: 0, include: [] };
        included.push(...(await req.fhir.run('read', (scope) => target.search(scope, req.fhir.confine(target, tq), env))));
      }
      // `_revinclude=Observation:patient` on a Patient search: that type's resources of the page's patients.
      for (const name of q.revinclude ?? []) {
        const source = resourceDef(name.split(':')[0]!)!;
        if (!req.fhir.may(source.type, 'read', source.permission)) continue; // as for _include: left out
        const ids = page.map((r) => r.id).filter((x): x is string => !!x);
        if (!ids.length) continue;
        const sq: SearchRequest = {
          params: new Map([['patient', [ids.map((id) => `Patient/${id}`).join(',')]]]),
          count: MAX_COUNT,
          offset: 0,
          include: [],
        };
        const found = await req.fhir.run('read', (scope) => source.search(scope, req.fhir.confine(source, sq), env));
        included.push(...found.slice(0, MAX_COUNT));
      }
      // One record per patient the page shows, so the trail answers "who looked at this patient".
      const shown = [...page, ...included]
        .map((r) => ({ r, patientId: resourceDef(r.resourceType)?.phi ? (resourceDef(r.resourceType)?.patientOf(r) ?? null) : null }))
        .filter((x) => x.patientId);
      if (shown.length)
        await req.fhir.record(
          shown.map(({ r, patientId }) => ({
            action: 'search' as const,
            resourceType: r.resourceType,
            resourceId: r.id ?? null,
            patientId,
          })),
        );
      const base = baseUrlOf(req);
      const link = (offset: number) => {
        const params = new URLSearchParams();
        for (const [k, vs] of q.params) for (const v of vs) params.append(k, v);
        for (const i of q.include) params.append('_include', i);
        for (const i of q.revinclude ?? []) params.append('_revinclude', i);
        if (q.sort?.length) params.set('_sort', q.sort.map((x) => `${x.desc ? '-' : ''}${x.param}`).join(','));
        params.set('_count', String(q.count));
        if (offset) params.set('_offset', String(offset));
        return `${base}/${def.type}?${params}`;
      };
      const entry = (r: Resource, mode: 'match' | 'include'): BundleEntry => ({
        fullUrl: `${base}/${r.resourceType}/${r.id}`,
        resource: r,
        search: { mode },
      });
      return {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [
          { relation: 'self', url: link(q.offset) },
          ...(rows.length > q.count ? [{ relation: 'next', url: link(q.offset + q.count) }] : []),
          ...(q.offset > 0 ? [{ relation: 'previous', url: link(Math.max(0, q.offset - q.count)) }] : []),
        ],
        entry: [...page.map((r) => entry(r, 'match')), ...included.map((r) => entry(r, 'include'))],
      };
    }

    /** One resource just written, read back in its FHIR form (not audited again: the write was). */
    async function readOne(req: FastifyRequest, def: ResourceDef, id: string): Promise<Resource> {
      const q: SearchRequest = { params: new Map([['_id', [id]]]), count: 1, offset: 0, include: [] };
      const env = await envOf(req);
      const [found] = await req.fhir.run('read', (scope) => def.search(scope, req.fhir.confine(def, q), env));
      if (!found) throw resourceNotFound(def.type);
      return found;
    }

    function sendCreated(req: FastifyRequest, reply: FastifyReply, resource: Resource): FastifyReply {
      reply.header(
        'location',
        `${baseUrlOf(req)}/${resource.resourceType}/${resource.id}${resource.meta?.versionId ? `/_history/${resource.meta.versionId}` : ''}`,
      );
      return sendFhir(withVersion(reply, resource), 201, resource);
    }
  };

function withVersion(reply: FastifyReply, r: Resource): FastifyReply {
  return r.meta?.versionId ? reply.header('etag', `W/"${r.meta.versionId}"`) : reply;
}

/** `If-Match: W/"3"` → 3 (check-and-set on the record's version); absent → no check. */
function versionOf(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(header.trim());
  if (!m)
    throw invalidResource([
      {
        severity: 'error',
        code: 'invalid',
        details: { text: 'If-Match must be an ETag this server sent, W/"n"' },
        expression: ['If-Match'],
      },
    ]);
  return Number(m[1]);
}

const PATIENT_ELEMENTS: Record<string, string> = {
  givenName: 'Patient.name.given',
  familyName: 'Patient.name.family',
  birthDate: 'Patient.birthDate',
  sex: 'Patient.gender',
  mrn: 'Patient.identifier',
  email: 'Patient.telecom',
  phone: 'Patient.telecom',
};
const APPOINTMENT_ELEMENTS: Record<string, string> = {
  patientId: 'Appointment.participant.actor',
  providerId: 'Appointment.participant.actor',
  appointmentType: 'Appointment.appointmentType',
  startsAt: 'Appointment.start',
};

/** Our own rules on top of R4 (a birth date not in the future, an e-mail that is one), naming the FHIR element. */
function parseAs<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  value: unknown,
  elements: Record<string, string>,
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw invalidResource(
    parsed.error.issues.map((i) => ({
      severity: 'error' as const,
      code: 'invalid' as const,
      details: { text: i.message },
      expression: [elements[String(i.path[0])] ?? 'Resource'],
    })),
  );
}
