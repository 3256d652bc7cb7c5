import { sql, type Kysely } from 'kysely';
import { precompiled } from '../db/precompiled.js';
import type { TenantDB } from '../tenancy/tenant-db.js';
import type { TrailDeps } from './region-db.js';
import { AUDIT_SCHEMA } from './region-migration.js';

interface Waiting {
  payloads: string[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** At most this many records per append statement. */
const MAX_BATCH = 500;

/**
 * One call of `audit.append`, compiled once: the function is named with its schema, so the same text runs on the
 * region's plain app-role pool whatever a tenant read left in the session (nothing: pins are transaction-local).
 */
export const appendBatch = precompiled((db: Kysely<TenantDB>, a: { clinicId: string; payloads: string[] }) =>
  db.selectNoFrom(sql<string>`${sql.id(AUDIT_SCHEMA, 'append')}(${a.clinicId}, ${a.payloads}::text[])`.as('seq')),
);

/**
 * Group commit for one clinic's chain on this node. Appends of one clinic serialise on its head row, and
 * each holds that lock through its commit (a WAL flush), so one clinic gets at most one append per flush
 * however many requests it serves. Here, while one `audit.append` of a clinic is in flight, the records
 * that arrive for the same clinic wait and go together in the next statement: one round trip, one lock, one
 * flush for the lot. An idle clinic's record goes out at once, so a lone request pays one round trip.
 */
class ClinicAppender {
  private queue: Waiting[] = [];
  private busy = false;

  constructor(
    private readonly db: Kysely<TenantDB>,
    private readonly clinicId: string,
    private readonly onIdle: () => void,
    private readonly observe?: (seconds: number, records: number) => void,
  ) {}

  append(payloads: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ payloads, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.queue.length) {
      const batch: Waiting[] = [];
      let size = 0;
      while (this.queue.length && (batch.length === 0 || size + this.queue[0]!.payloads.length <= MAX_BATCH)) {
        const next = this.queue.shift()!;
        batch.push(next);
        size += next.payloads.length;
      }
      try {
        await this.write(batch.flatMap((w) => w.payloads));
        for (const w of batch) w.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        // One bad record must not fail its neighbours' requests: retry each caller on its own.
        else for (const w of batch) await this.write(w.payloads).then(w.resolve, w.reject);
      }
    }
    this.busy = false;
    this.onIdle();
  }

  private async write(payloads: string[]): Promise<void> {
    const started = performance.now();
    await appendBatch(this.db, { clinicId: this.clinicId, payloads });
    this.observe?.((performance.now() - started) / 1000, payloads.length);
  }
}

const appenders = new WeakMap<TrailDeps, Map<string, ClinicAppender>>();

/**
 * Appends canonical payloads to a clinic's chain in region `regionId`; resolves once they are committed. Each
 * region keeps its own appender of the clinic: during a move to another region a node may append to both, and
 * their batches must not mix.
 */
export function appendToChain(p: TrailDeps, regionId: string, clinicId: string, payloads: string[]): Promise<void> {
  let byClinic = appenders.get(p);
  if (!byClinic) appenders.set(p, (byClinic = new Map()));
  const key = `${regionId}/${clinicId}`;
  let appender = byClinic.get(key);
  if (!appender) {
    const map = byClinic;
    const metrics = p.metrics;
    appender = new ClinicAppender(
      p.stores.regionDb(regionId),
      clinicId,
      () => map.delete(key),
      metrics && ((seconds, records) => metrics.observeAppend(regionId, seconds, records)),
    );
    byClinic.set(key, appender);
  }
  return appender.append(payloads);
}
