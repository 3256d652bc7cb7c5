import type { AuditEvent as FhirAuditEvent } from '@medplum/fhirtypes';
import { toFhirAuditEvent } from '../../audit/fhir.js';
import { invalidSearch } from '../outcome.js';
import { ourId, type ResourceDef } from '../resource-def.js';
import { dateRange } from '../search.js';

/**
 * The clinic's hash-chained PHI access trail as AuditEvents (`audit/fhir.ts` maps a record, after IHE BALP).
 * The trail lives in the clinic's region beside its store, not in a tenant table, so the search is the
 * trail's own (`audit/search.ts`), newest first; `date` takes `ge`/`gt` and `lt`/`le` bounds.
 */
export const auditEventDef: ResourceDef = {
  type: 'AuditEvent',
  permission: 'audit.read',
  phi: true,
  params: {
    _id: { type: 'token', documentation: 'The logical id', where: () => [] },
    patient: { type: 'reference', documentation: 'The patient whose record was accessed (Patient/{id})', where: () => [] },
    date: { type: 'date', documentation: 'When the access was recorded (ge/gt/le/lt prefixes)', where: () => [] },
  },
  async search(_scope, q, env) {
    if (!env.auditTrail) return [];
    const byId = q.params.get('_id')?.[0];
    if (byId !== undefined) {
      const id = ourId(byId, 'audit');
      return id ? (await env.auditTrail({ id, limit: 1 })).map((e) => toFhirAuditEvent(e, env.clinic.id) as unknown as FhirAuditEvent) : [];
    }
    let patientId: string | undefined;
    let from: Date | undefined;
    let to: Date | undefined;
    for (const raw of q.params.get('patient') ?? []) {
      const id = ourId(raw.replace(/^Patient\//, ''), 'patient');
      if (!id) return [];
      patientId = id;
    }
    for (const raw of q.params.get('date') ?? []) {
      const m = /^(ge|gt|le|lt)(.+)$/.exec(raw);
      if (!m) throw invalidSearch('date on AuditEvent takes ge, gt, le or lt bounds', 'date');
      const [lo, hi] = dateRange(m[2]!, 'date');
      if (m[1] === 'ge') from = new Date(lo);
      if (m[1] === 'gt') from = new Date(hi);
      if (m[1] === 'lt') to = new Date(lo);
      if (m[1] === 'le') to = new Date(hi);
    }
    const found = await env.auditTrail({ patientId, from, to, limit: q.offset + q.count + 1 });
    return found.slice(q.offset).map((e) => toFhirAuditEvent(e, env.clinic.id) as unknown as FhirAuditEvent);
  },
  patientOf: () => null,
};
