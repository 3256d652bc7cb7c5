import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { notFound } from '../errors.js';
import type { RolloutOutcome, RolloutStatus, WaveStatus } from './control-schema.js';

/** A rollout as the operator API, the CLI and the console show it: its waves with counts, its failures. */
export interface RolloutProgress {
  id: string;
  targetVersion: number;
  status: RolloutStatus;
  statusReason: string | null;
  maxFailureRate: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  waves: WaveProgress[];
  /** Clinics whose migration failed in this rollout, with the database's words. */
  failures: { clinicId: string; slug: string; wave: string; store: string; error: string }[];
  /** Clinics held by a version pin, with the version they are at. */
  held: { clinicId: string; slug: string; wave: string; version: number | null }[];
}

export type WaveCounts = Record<RolloutOutcome, number>;

export interface WaveProgress {
  position: number;
  name: string;
  status: WaveStatus;
  startedAt: string | null;
  finishedAt: string | null;
  total: number;
  counts: WaveCounts;
}

export async function rolloutProgress(db: Kysely<ControlDB>, rolloutId: string): Promise<RolloutProgress> {
  const r = await db.selectFrom('rollouts').selectAll().where('id', '=', rolloutId).executeTakeFirst();
  if (!r) throw notFound('rollout');
  const waves = await db.selectFrom('rollout_waves').selectAll().where('rollout_id', '=', rolloutId).orderBy('position').execute();
  const counts = await db
    .selectFrom('rollout_clinics')
    .select(['position', 'outcome', sql<number>`count(*)::int`.as('n')])
    .where('rollout_id', '=', rolloutId)
    .groupBy(['position', 'outcome'])
    .execute();
  const notable = await db
    .selectFrom('rollout_clinics as rc')
    .innerJoin('clinics as c', 'c.id', 'rc.clinic_id')
    .innerJoin('rollout_waves as w', (j) => j.onRef('w.rollout_id', '=', 'rc.rollout_id').onRef('w.position', '=', 'rc.position'))
    .select(['rc.clinic_id', 'c.slug', 'w.name as wave', 'rc.store', 'rc.outcome', 'rc.error', 'rc.version'])
    .where('rc.rollout_id', '=', rolloutId)
    .where('rc.outcome', 'in', ['failed', 'pinned'])
    .orderBy('rc.position')
    .orderBy('rc.clinic_id')
    .execute();
  return {
    id: r.id,
    targetVersion: r.target_version,
    status: r.status,
    statusReason: r.status_reason,
    maxFailureRate: r.max_failure_rate,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    waves: waves.map((w) => {
      const c: WaveCounts = { pending: 0, migrated: 0, 'up-to-date': 0, failed: 0, skipped: 0, pinned: 0 };
      for (const x of counts) if (x.position === w.position) c[x.outcome] = x.n;
      return {
        position: w.position,
        name: w.name,
        status: w.status,
        startedAt: w.started_at?.toISOString() ?? null,
        finishedAt: w.finished_at?.toISOString() ?? null,
        total: Object.values(c).reduce((a, b) => a + b, 0),
        counts: c,
      };
    }),
    failures: notable
      .filter((x) => x.outcome === 'failed')
      .map((x) => ({ clinicId: x.clinic_id, slug: x.slug, wave: x.wave, store: x.store, error: x.error ?? '' })),
    held: notable
      .filter((x) => x.outcome === 'pinned')
      .map((x) => ({ clinicId: x.clinic_id, slug: x.slug, wave: x.wave, version: x.version })),
  };
}

/** Rollouts, newest first. */
export async function listRollouts(db: Kysely<ControlDB>, limit = 20): Promise<RolloutProgress[]> {
  const ids = await db.selectFrom('rollouts').select('id').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return Promise.all(ids.map((r) => rolloutProgress(db, r.id)));
}
