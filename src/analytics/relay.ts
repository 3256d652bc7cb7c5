import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { type ClinicFacts, type OutboxEvent, referencesOf, scrub } from './scrubber.js';
import type { EventStream } from './stream.js';
import { surrogatesFor } from './surrogates.js';

export interface RelayDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'list'>;
  stream: EventStream;
  /** The deployment secret: the event keys are keyed hashes under a key derived from it per region. */
  secret: string;
  log?: Logger;
}

/**
 * The outbox relay of one region: it runs in the region, beside the clinic stores, and is the only way an
 * event leaves. For each clinic of the region, in outbox order (ids sort by creation time):
 *
 * 1. read a batch of unrelayed events and make sure every reference in them has a surrogate (committed
 *    before anything is sent, so a resend after a crash carries the same surrogates as the first send);
 * 2. scrub each and publish it with its event key as the message id, in outbox order, so the stream holds
 *    a clinic's events in order (the acknowledgements of a batch are awaited together, see `send`);
 * 3. mark the batch relayed: in the transaction that reads the next batch (after the last, on its own),
 *    so a batch costs one transaction of three set-based statements (mark, read, surrogates).
 *
 * A crash between 2 and 3 sends the batch again: the stream drops the resent message ids (its duplicate
 * window) and the warehouse ignores keys it has (idempotent consumer), so the effect is exactly once while
 * delivery is at least once. Events whose type has no allow-list are marked relayed without leaving.
 * One relay per region at a time (a job on the queue, later): two would still be correct, but could
 * interleave one clinic's batches.
 */
export class OutboxRelay {
  private readonly keyOf: (eventId: string) => string;

  constructor(
    private readonly deps: RelayDeps,
    readonly region: string,
    private readonly batchSize = 500,
  ) {
    const key = createHmac('sha256', deps.secret).update(`analytics-event-key:${region}`).digest();
    this.keyOf = (id) => createHmac('sha256', key).update(id).digest('base64url').slice(0, 32);
  }

  /** Drains every clinic of the region; returns how many events were published (and how many were already there). */
  async drain(): Promise<{ published: number; duplicates: number; kept: number }> {
    const total = { published: 0, duplicates: 0, kept: 0 };
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.clinics.list({ limit: 200, region: this.region, ...(after ? { after } : {}) });
      for (const clinic of page) {
        if (clinic.status !== 'active' && clinic.status !== 'suspended') continue;
        try {
          const r = await this.drainClinic(clinic);
          total.published += r.published;
          total.duplicates += r.duplicates;
          total.kept += r.kept;
        } catch (err) {
          // One clinic's store being away (a move, an outage) does not hold up the region.
          this.deps.log?.warn({ err, clinicId: clinic.id }, 'analytics relay: clinic skipped');
        }
      }
      if (page.length < 200) return total;
      after = page[page.length - 1]!.id;
    }
  }

  async drainClinic(clinic: Clinic): Promise<{ published: number; duplicates: number; kept: number }> {
    const facts: ClinicFacts = { clinicId: clinic.id, region: clinic.dataRegion, tier: clinic.tier, specialty: clinic.specialty };
    const total = { published: 0, duplicates: 0, kept: 0 };
    // The batch sent last, marked in the transaction that reads the next one (one transaction per batch).
    let sent: string[] = [];
    for (;;) {
      const marked = sent;
      const { events, surrogates } = await this.deps.stores.transaction(clinic.id, 'write', async (scope) => {
        if (marked.length > 0) await markRelayed(scope, marked);
        const rows = await scope.db
          .selectFrom('outbox')
          .select(['id', 'type', 'payload', 'occurred_at'])
          .where('clinic_id', '=', scope.clinicId)
          .where('relayed_at', 'is', null)
          .orderBy('id')
          .limit(this.batchSize)
          .execute();
        const events: OutboxEvent[] = rows.map((r) => ({ id: r.id, type: r.type, payload: r.payload, occurredAt: r.occurred_at }));
        return { events, surrogates: await surrogatesFor(scope, events.flatMap(referencesOf)) };
      });
      if (events.length === 0) return total;
      const r = await this.send(facts, events, surrogates);
      total.published += r.published;
      total.duplicates += r.duplicates;
      total.kept += r.kept;
      sent = events.map((e) => e.id);
      if (events.length < this.batchSize) {
        await this.deps.stores.transaction(clinic.id, 'write', (scope) => markRelayed(scope, sent));
        return total;
      }
    }
  }

  /**
   * Step 2 for one batch read with its surrogates: scrub each event and publish it under its event key. The
   * publishes are issued in outbox order without waiting for each acknowledgement (both streams store a
   * connection's messages in the order they were issued), then awaited together: a round trip per batch,
   * not per event. If one fails, the batch is not marked and is sent again; the stream drops what it already
   * holds, and an event that had failed may then land after later ones of its batch (the warehouse does not
   * depend on order). (The benchmark measures this step alone as well as the whole relay.)
   */
  async send(
    facts: ClinicFacts,
    events: readonly OutboxEvent[],
    surrogates: ReadonlyMap<string, string>,
  ): Promise<{ published: number; duplicates: number; kept: number }> {
    const total = { published: 0, duplicates: 0, kept: 0 };
    const acks: Promise<{ duplicate: boolean }>[] = [];
    for (const event of events) {
      const scrubbed = scrub(event, facts, this.keyOf(event.id), surrogates);
      if (scrubbed) acks.push(this.deps.stream.publish(this.region, scrubbed.key, encode(scrubbed)));
      else total.kept++;
    }
    for (const { duplicate } of await Promise.all(acks)) {
      if (duplicate) total.duplicates++;
      else total.published++;
    }
    return total;
  }
}

/**
 * One statement for a batch (its ids in outbox order): the ids travel as one array parameter, and the
 * batch's id range bounds the index scan, so the planner cannot choose to walk the clinic's whole outbox
 * (it did, with young statistics, when given only the list).
 */
async function markRelayed(scope: TenantScope, ids: readonly string[]): Promise<void> {
  await sql`update outbox set relayed_at = now()
    where clinic_id = ${scope.clinicId} and id between ${ids[0]} and ${ids[ids.length - 1]} and id = any(${ids}::text[])`.execute(scope.db);
}

const encoder = new TextEncoder();
export const encode = (event: unknown): Uint8Array => encoder.encode(JSON.stringify(event));
