import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, notFound } from '../errors.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { NewClinicInput } from '../controlplane/provisioning.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { BACKUP_STATUSES, RESTORE_MODES } from './control-schema.js';
import { takeBaseBackup } from './base-backup.js';
import { backupSets } from './location.js';
import { pruneBackups } from './retention.js';
import { restoreClinic } from './restore.js';

const tags = ['platform'];

const BackupSetView = z.object({
  name: z.string(),
  regions: z.array(z.string()),
  jurisdiction: z.string(),
  retentionDays: z.number().int(),
});
const BackupView = z.object({
  id: z.string(),
  status: z.enum(BACKUP_STATUSES),
  regions: z.array(z.string()),
  jurisdiction: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  startWal: z.string().nullable(),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().nullable(),
});
const Chain = z.object({
  ok: z.boolean(),
  records: z.number().int(),
  problem: z.object({ kind: z.string(), seq: z.number(), message: z.string() }).nullable(),
});
const RestoreView = z.object({
  id: z.string(),
  clinicId: z.string(),
  targetClinicId: z.string(),
  mode: z.enum(RESTORE_MODES),
  placement: z.enum(PLACEMENT_MODELS),
  backupId: z.string(),
  targetTime: z.string(),
  tables: z.array(z.object({ table: z.string(), rows: z.number().int(), checksum: z.string() })),
  backupTrail: Chain,
  trail: Chain,
  unreadableSecrets: z.number().int().optional().describe('restored sealed secrets no live key opens (a rotation since the backup)'),
  ok: z.boolean(),
  durationMs: z.number(),
});
const NewRestore = z.strictObject({
  at: z.string().datetime({ offset: true }),
  mode: z.enum(RESTORE_MODES),
  /** For `new-clinic`: the new clinic's slug, and its placement (the source's unless given). */
  slug: NewClinicInput.shape.slug.optional(),
  placement: z.enum(PLACEMENT_MODELS).optional(),
});
const Params = z.strictObject({ clinicId: idSchema('clinic') });

/**
 * The operator's backups (inside the operator-scoped plugin): the catalogue and each region's backup set, a
 * base backup and retention on demand (a scheduler or cron calls the same), and per-clinic restores with
 * their verification reports. A restore is synchronous: it answers with its report when the clinic is back.
 */
export const backupRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/backups', {
      schema: {
        tags,
        summary: 'The backup catalogue, newest first, and the backup set of each backed-up server',
        response: { 200: z.object({ sets: z.array(BackupSetView), items: z.array(BackupView) }), ...problemResponses },
      },
      handler: async () => {
        const rows = await p.control.selectFrom('backups').selectAll().orderBy('started_at', 'desc').limit(500).execute();
        return {
          sets: backupSets(p.config).map((s) => ({
            name: s.name,
            regions: s.regions.map((r) => r.id),
            jurisdiction: s.jurisdiction,
            retentionDays: s.retentionDays,
          })),
          items: rows.map((b) => ({
            id: b.id,
            status: b.status,
            regions: b.regions,
            jurisdiction: b.jurisdiction,
            startedAt: b.started_at.toISOString(),
            finishedAt: b.finished_at?.toISOString() ?? null,
            startWal: b.start_wal,
            bytes: b.bytes === null ? null : Number(b.bytes),
            sha256: b.sha256,
            error: b.error,
          })),
        };
      },
    });

    app.post('/backups', {
      schema: {
        tags,
        summary: 'Take a base backup of the server holding a region (of every backed-up server without one)',
        body: z.strictObject({ region: z.string().min(1).max(64).optional() }),
        response: { 201: z.object({ ids: z.array(z.string()) }), ...problemResponses },
      },
      handler: async (req, reply) => {
        const sets = backupSets(p.config).filter((s) => !req.body.region || s.regions.some((r) => r.id === req.body.region));
        if (sets.length === 0) throw notFound('backup set');
        const ids: string[] = [];
        for (const set of sets) ids.push((await takeBaseBackup(p, set)).id);
        return reply.code(201).send({ ids });
      },
    });

    app.post('/backups/prune', {
      schema: {
        tags,
        summary: 'Apply each backed-up server’s retention to its base backups and archived WAL',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                set: z.string(),
                retentionDays: z.number(),
                prunedBackups: z.array(z.string()),
                prunedWal: z.number(),
                keptBackups: z.number(),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
      handler: async () => ({ items: await Promise.all(backupSets(p.config).map((s) => pruneBackups(p, s))) }),
    });

    app.get('/clinics/:clinicId/restores', {
      schema: {
        tags,
        summary: 'Restores made of a clinic, with their verification reports',
        params: Params,
        response: { 200: z.object({ items: z.array(RestoreView) }), ...problemResponses },
      },
      handler: async (req) => {
        if (!(await p.clinics.get(req.params.clinicId))) throw notFound('clinic');
        const rows = await p.control
          .selectFrom('clinic_restores')
          .select('report')
          .where('clinic_id', '=', req.params.clinicId)
          .orderBy('created_at', 'desc')
          .execute();
        return { items: rows.map((r) => r.report as z.infer<typeof RestoreView>) };
      },
    });

    app.post('/clinics/:clinicId/restores', {
      schema: {
        tags,
        summary: 'Restore a clinic to a point in time from its region’s backups, in place or into a new clinic',
        description: 'An offboarded clinic is not restored: 410 clinic_offboarded (its data keys were destroyed).',
        params: Params,
        body: NewRestore,
        response: { 201: RestoreView, ...problemResponses, 410: Problem },
      },
      handler: async (req, reply) => {
        const { at, mode, slug, placement } = req.body;
        if (mode === 'new-clinic' && !slug)
          throw new AppError(422, 'slug_required', 'A restore into a new clinic needs the new clinic’s slug', { field: 'slug' });
        const report = await restoreClinic(
          p,
          req.params.clinicId,
          new Date(at),
          mode === 'new-clinic' ? { mode, slug: slug!, ...(placement ? { placement } : {}) } : { mode },
        );
        return reply.code(201).send(report);
      },
    });
  };
