import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { AppError, notFound } from '../errors.js';
import { isId } from '../ids.js';
import type { TenantStores } from '../tenancy/stores.js';
import { type ExportRunner, PATIENT_COMPARTMENT, startExport } from './bulk-export.js';
import { invalidSearch, operationOutcome, resourceNotFound, sendFhir } from './outcome.js';
import { ourId } from './resource-def.js';
import { resourceDef, RESOURCES } from './resources.js';

/**
 * Bulk Data `$export` kick-off, status and files, inside the FHIR boundary. An export holds only types the
 * caller may read (staff: their permissions; clients: their scopes); asking for another is 403. Only the
 * caller who asked may read the status and the files, and each file read is recorded in the audit trail.
 */
export interface ExportDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  exportRunner: ExportRunner;
}

const baseOf = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir/R4/${req.fhir.clinicId}`;
const STATUS_CONFIG = { permission: 'patient.read' as const, fhir: { type: 'Patient', interaction: 'read' as const } };

export const exportRoutes =
  (p: ExportDeps): FastifyPluginAsync =>
  async (app) => {
    const kickOff = (level: 'system' | 'patient' | 'group') => async (req: FastifyRequest, reply: FastifyReply) => {
      // A launched app reads as one person does, page by page; a bulk copy of the clinic is not what it was given.
      if (req.fhir.isLaunchedApp) throw new AppError(403, 'forbidden', 'Bulk export is for staff and SMART Backend Services clients');
      if (!/respond-async/.test(String(req.headers.prefer ?? '')))
        throw invalidSearch('A bulk export needs the header Prefer: respond-async', 'Prefer');
      const query = req.query as Record<string, unknown>;
      for (const k of Object.keys(query))
        if (k !== '_type' && k !== '_since' && k !== '_outputFormat') throw invalidSearch(`${k} is not supported by $export here`, k);
      if (
        query._outputFormat !== undefined &&
        !['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(String(query._outputFormat))
      )
        throw invalidSearch('_outputFormat must be application/fhir+ndjson', '_outputFormat');
      const eligible = (level !== 'system' ? PATIENT_COMPARTMENT : RESOURCES.map((r) => r.type)).filter((t) => t !== 'AuditEvent');
      const asked = query._type === undefined ? null : String(query._type).split(',').filter(Boolean);
      for (const t of asked ?? []) if (!eligible.includes(t)) throw invalidSearch(`_type ${t} cannot be exported at this level`, '_type');
      const mayRead = (t: string) => req.fhir.may(t, 'read', resourceDef(t)!.permission);
      const refused = (asked ?? []).filter((t) => !mayRead(t));
      if (refused.length) throw new AppError(403, 'forbidden', `You may not read ${refused.join(', ')}`);
      const types = asked ?? eligible.filter(mayRead);
      let since: Date | null = null;
      if (query._since !== undefined) {
        since = new Date(String(query._since));
        if (Number.isNaN(since.getTime())) throw invalidSearch('_since must be an instant', '_since');
      }
      const fhir = req.fhir;
      // A Group (a provider's panel, `resources/group.ts`) must exist; its export is recorded as Patient-level
      // (the compartment types) and confined to the panel by the job, which carries the group's id.
      const groupId = level === 'group' ? await existingGroup(req) : null;
      const row = await fhir.audited(
        {
          action: 'export',
          resourceType: 'Bundle',
          resourceId: null,
          patientId: null,
          detail: { fhir: true, level, types: types.join(',') },
        },
        () =>
          startExport(p.stores, fhir.clinicId, {
            level: level === 'system' ? 'system' : 'patient',
            types,
            since,
            requestedBy: fhir.actorId,
            requestUrl: `${req.protocol}://${req.host}${req.url}`,
          }),
        (r) => ({ resourceId: r.id }),
      );
      await p.exportRunner.submit(fhir.clinicId, row.id, groupId ?? undefined);
      return reply
        .code(202)
        .header('content-location', `${baseOf(req)}/$export-status/${row.id}`)
        .send();
    };

    const config = { permission: 'patient.read' as const, fhir: { type: 'Patient', interaction: 'read' as const } };
    app.get('/$export', { config, schema: { hide: true } }, kickOff('system'));
    app.get('/Patient/$export', { config, schema: { hide: true } }, kickOff('patient'));
    app.get('/Group/:groupId/$export', { config, schema: { hide: true } }, kickOff('group'));

    /** The provider whose panel `Group/{id}` is, or 404 as for a read of a Group that does not exist. */
    const existingGroup = async (req: FastifyRequest): Promise<string> => {
      const providerId = ourId((req.params as { groupId: string }).groupId, 'provider');
      const found =
        providerId &&
        (await req.fhir.run('read', (scope) =>
          scope.db.selectFrom('providers').select('id').where('id', '=', providerId).executeTakeFirst(),
        ));
      if (!found) throw resourceNotFound('Group');
      return found.id;
    };

    /** The caller's own export, or 404 (someone else's export does not exist for them). */
    const ownExport = async (req: FastifyRequest) => {
      const { exportId } = req.params as { exportId: string };
      if (!isId('fhirExport', exportId)) throw notFound('export');
      const row = await req.fhir.run('read', (scope) =>
        scope.db.selectFrom('fhir_exports').selectAll().where('id', '=', exportId).executeTakeFirst(),
      );
      if (!row || row.requested_by !== req.fhir.actorId) throw notFound('export');
      return row;
    };

    app.get('/$export-status/:exportId', { config: STATUS_CONFIG, schema: { hide: true } }, async (req, reply) => {
      const row = await ownExport(req);
      if (row.status === 'accepted' || row.status === 'in_progress')
        return reply.code(202).header('x-progress', row.status.replace('_', ' ')).header('retry-after', '2').send();
      if (row.status === 'failed')
        return sendFhir(reply, 500, operationOutcome(500, 'export_failed', 'The export failed; ask for it again'));
      const files = await req.fhir.run('read', (scope) =>
        scope.db
          .selectFrom('fhir_export_files')
          .select(['resource_type'])
          .select((eb) => eb.fn.sum<number>('lines').as('count'))
          .where('export_id', '=', row.id)
          .groupBy('resource_type')
          .execute(),
      );
      return reply.header('expires', new Date(Date.now() + 3_600_000).toUTCString()).send({
        transactionTime: (row.completed_at ?? row.created_at).toISOString(),
        request: row.request_url,
        requiresAccessToken: true,
        output: row.types
          .map((type) => ({ type, count: Number(files.find((f) => f.resource_type === type)?.count ?? 0) }))
          .filter((f) => f.count > 0)
          .map((f) => ({ ...f, url: `${baseOf(req)}/$export-file/${row.id}/${f.type}.ndjson` })),
        error: [],
      });
    });

    app.delete('/$export-status/:exportId', { config: STATUS_CONFIG, schema: { hide: true } }, async (req, reply) => {
      const row = await ownExport(req);
      await req.fhir.run('write', (scope) => scope.db.deleteFrom('fhir_exports').where('id', '=', row.id).execute());
      return reply.code(202).send();
    });

    app.get('/$export-file/:exportId/:file', { config: STATUS_CONFIG, schema: { hide: true } }, async (req, reply) => {
      const row = await ownExport(req);
      const type = (req.params as { file: string }).file.replace(/\.ndjson$/, '');
      if (!row.types.includes(type)) throw notFound('export_file');
      const fhir = req.fhir;
      const parts = await fhir.run(
        'read',
        (scope) =>
          scope.db
            .selectFrom('fhir_export_files')
            .select('ndjson')
            .where('export_id', '=', row.id)
            .where('resource_type', '=', type)
            .orderBy('part')
            .execute(),
        { action: 'export', resourceType: type, resourceId: row.id, patientId: null, detail: { fhir: true, file: true } },
      );
      return reply
        .code(200)
        .type('application/fhir+ndjson')
        .send(parts.map((x) => x.ndjson).join(''));
    });
  };
