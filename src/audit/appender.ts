import { sql, type Kysely } from 'kysely';
import type { AuditDB, TrailDeps } from './region-db.js';
import { regionAuditDb } from './region-db.js';
import { AUDIT_SCHEMA } from './region-migration.js';

interface Waiting {
  clinicId: string;
  payloads: string[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** At most this many records per append statement. */
const MAX_BATCH = 500;
/** At most this many append statements of one region in flight from this node (each holds a pool connection). */
const MAX_IN_FLIGHT = 2;

/**
 * Group commit for a region's chains on this node. Each append is a durable commit, a WAL flush that takes
 * milliseconds on a real disk (4–7 ms on the development machine), and a clinic's appends serialise on its head
 * row, which each holds through its commit. So the records that arrive while a clinic's append is in flight
 * wait, and everything waiting in the region goes out together in the next statement, whatever the clinic:
 * one round trip, one transaction, one flush for the lot, and each request still answers only once its own
 * record is committed. The statement calls `audit.append` once per clinic, in clinic-id order, so two nodes
 * batching the same clinics lock their heads in the same order and cannot deadlock.
 *
 * A clinic is in at most one statement at a time, so its records are chained in the order they were handed
 * here. Up to `MAX_IN_FLIGHT` statements run at once for different clinics (a busy clinic waiting for its
 * head does not hold up the others). An idle region's record goes out at once: a lone request pays one round
 * trip. If a statement fails, its clinics are retried one by one and then their callers one by one, so one bad
 * record fails its own request and nobody else's.
 */
class RegionAppender {
  private readonly waiting: Waiting[] = [];
  /** Clinics with an append in flight. */
  private readonly busy = new Set<string>();
  private inFlight = 0;

  constructor(
    private readonly db: Kysely<AuditDB>,
    private readonly onIdle: () => void,
  ) {}

  append(clinicId: string, payloads: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ clinicId, payloads, resolve, reject });
      this.pump();
    });
  }

  /** Starts statements while there is work for clinics not in flight and room for another statement. */
  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.take();
      if (!batch.length) break;
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        for (const w of batch) this.busy.delete(w.clinicId);
        this.pump();
        if (this.inFlight === 0 && this.waiting.length === 0) this.onIdle();
      });
    }
  }

  /** The waiting records of clinics not in flight, oldest first, up to `MAX_BATCH` records. */
  private take(): Waiting[] {
    const batch: Waiting[] = [];
    const taken = new Set<string>();
    let size = 0;
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (batch.length > 0 && size + w.payloads.length > MAX_BATCH) break;
      if (this.busy.has(w.clinicId)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      batch.push(w);
      taken.add(w.clinicId);
      size += w.payloads.length;
    }
    for (const id of taken) this.busy.add(id);
    return batch;
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      await this.write(groupByClinic(batch));
      for (const w of batch) w.resolve();
      return;
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
    }
    // One bad record must not fail its neighbours' requests: retry each clinic, then each caller, on its own.
    for (const [clinicId, ofClinic] of groupWaiting(batch)) {
      try {
        await this.write(new Map([[clinicId, ofClinic.flatMap((w) => w.payloads)]]));
        for (const w of ofClinic) w.resolve();
      } catch (err) {
        if (ofClinic.length === 1) ofClinic[0]!.reject(err);
        else for (const w of ofClinic) await this.write(new Map([[clinicId, w.payloads]])).then(w.resolve, w.reject);
      }
    }
  }

  /** One statement, one transaction: each clinic's payloads appended to its chain, clinics in id order. */
  private async write(byClinic: Map<string, string[]>): Promise<void> {
    const [only] = byClinic;
    if (byClinic.size === 1 && only) {
      const [clinicId, payloads] = only;
      await sql`select ${sql.id(AUDIT_SCHEMA, 'append')}(${clinicId}, ${payloads}::text[])`.execute(this.db);
      return;
    }
    const groups = JSON.stringify([...byClinic].map(([clinic, payloads]) => ({ clinic, payloads })));
    // `count` consumes the ordered rows one after another: the appends run in clinic-id order.
    await sql`select count(${sql.id(AUDIT_SCHEMA, 'append')}(g.clinic, g.payloads)) from (
        select x.clinic, array(select jsonb_array_elements_text(x.payloads)) as payloads
        from jsonb_to_recordset(${groups}::jsonb) as x(clinic text, payloads jsonb)
        order by x.clinic collate "C") g`.execute(this.db);
  }
}

function groupWaiting(batch: Waiting[]): Map<string, Waiting[]> {
  const groups = new Map<string, Waiting[]>();
  for (const w of batch) {
    const group = groups.get(w.clinicId);
    if (group) group.push(w);
    else groups.set(w.clinicId, [w]);
  }
  return groups;
}

function groupByClinic(batch: Waiting[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [clinicId, ofClinic] of groupWaiting(batch))
    groups.set(
      clinicId,
      ofClinic.flatMap((w) => w.payloads),
    );
  return groups;
}

const appenders = new WeakMap<TrailDeps, Map<string, RegionAppender>>();

/** Appends canonical payloads to a clinic's chain in its region; resolves once they are committed. */
export function appendToChain(p: TrailDeps, regionId: string, clinicId: string, payloads: string[]): Promise<void> {
  let byRegion = appenders.get(p);
  if (!byRegion) appenders.set(p, (byRegion = new Map()));
  let appender = byRegion.get(regionId);
  if (!appender) {
    const map = byRegion;
    appender = new RegionAppender(regionAuditDb(p, regionId), () => map.delete(regionId));
    byRegion.set(regionId, appender);
  }
  return appender.append(clinicId, payloads);
}
