import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { TenantStores } from '../tenancy/stores.js';
import { readBatch, readPosition, type RelayPosition, pruneRelayed, savePosition } from './relay-position.js';
import { type ClinicFacts, leavesRegion, type OutboxEvent, referencesOf, scrubPart } from './scrubber.js';
import { type Envelope, ENVELOPE_EVENTS, encode, messageId } from './envelope.js';
import { EventKeys } from './event-keys.js';
import type { EventStream } from './stream.js';
import { Pairings } from './pairings.js';
import { SurrogateCache, surrogatesFor } from './surrogates.js';

export interface RelayDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'list'>;
  stream: EventStream;
  /** The deployment secret: the event keys are keyed hashes under a key derived from it per region. */
  secret: string;
  log?: Logger;
  /** How long relayed rows stay in the outbox before they are deleted (at most twice this). Default a week. */
  keepRelayedMs?: number;
}

const WEEK_MS = 7 * 24 * 60 * 60_000;

/**
 * The outbox relay of one region: it runs in the region, beside the clinic stores, and is the only way an
 * event leaves. For each clinic of the region, in commit order (`relay-position.ts`):
 *
 * 1. read a batch of rows after the clinic's position and make sure every reference in them has a surrogate
 *    (committed before anything is sent, so a resend after a crash carries the same surrogates as the first
 *    send); references this relay has seen before are answered from its cache (`SurrogateCache`);
 * 2. scrub each and publish the batch as envelopes of up to `ENVELOPE_EVENTS`, each under a message id made of
 *    its first and last event keys, in outbox order (the acknowledgements are awaited together);
 * 3. record the position of the batch's last row: in the transaction that reads the next batch (after the last,
 *    on its own), so a batch costs one transaction of at most three statements (position, read, surrogates).
 *
 * A crash between 2 and 3 sends the batch again: cut the same way, its envelopes carry the same message ids and
 * the stream drops them (its duplicate window); cut otherwise (more rows had become readable), the warehouse
 * ignores the event keys it has (idempotent consumer). So the effect is exactly once while delivery is at least
 * once. Events whose type has no allow-list move the position without leaving. Relayed rows are deleted a
 * retention later (`pruneRelayed`). One relay per region at a time (a job on the queue, later): two would still
 * be correct, but could interleave one clinic's batches.
 */
export class OutboxRelay {
  private readonly keys: EventKeys;
  /** Pairings seen by this region's relay: it lives as long as the relay (the pipeline keeps one per region). */
  readonly surrogates = new SurrogateCache();

  constructor(
    private readonly deps: RelayDeps,
    readonly region: string,
    private readonly batchSize = 1000,
  ) {
    this.keys = new EventKeys(deps.secret, region);
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
    const keep = this.deps.keepRelayedMs ?? WEEK_MS;
    const total = { published: 0, duplicates: 0, kept: 0 };
    let position: RelayPosition | undefined;
    let pruneDue = false;
    // The position of the batch sent last, recorded in the transaction that reads the next one.
    let sent: RelayPosition | undefined;
    for (;;) {
      const record = sent;
      const batch = await this.deps.stores.transaction(clinic.id, 'write', async (scope) => {
        if (record) await savePosition(scope, record);
        else ({ position, pruneDue } = await readPosition(scope, keep));
        const { events, last } = await readBatch(scope, position!, this.batchSize);
        const known = new Pairings();
        const missing = this.surrogates.resolve(clinic.id, events.flatMap(referencesOf), known);
        return { events, last, known, created: await surrogatesFor(scope, missing) };
      });
      if (!batch.last) break;
      this.surrogates.remember(clinic.id, batch.created);
      batch.known.addAll(batch.created);
      const r = await this.send(facts, batch.events, batch.known);
      total.published += r.published;
      total.duplicates += r.duplicates;
      total.kept += r.kept;
      position = sent = batch.last;
      if (batch.events.length < this.batchSize) {
        const at = sent;
        await this.deps.stores.transaction(clinic.id, 'write', (scope) => savePosition(scope, at));
        break;
      }
    }
    if (pruneDue) await this.pruneClinic(clinic, keep);
    return total;
  }

  /** Deletes the clinic's rows relayed more than `keepRelayedMs` ago (see `pruneRelayed`); returns how many. */
  pruneClinic(clinic: Pick<Clinic, 'id'>, keepRelayedMs = this.deps.keepRelayedMs ?? WEEK_MS): Promise<number> {
    return this.deps.stores.transaction(clinic.id, 'write', (scope) => pruneRelayed(scope, keepRelayedMs));
  }

  /**
   * Step 2 for one batch read with its surrogates: scrub each event, then publish the batch as envelopes, issued
   * in outbox order without waiting for each acknowledgement (both streams store a connection's messages in the
   * order they were issued) and awaited together. If one fails, the position does not move and the batch is sent
   * again. An envelope's message id is its first and last event keys: the rows between two rows below the
   * snapshot's xmin never change, so the same cut is the same envelope. (The benchmark measures this step alone
   * as well as the whole relay.)
   */
  async send(
    facts: ClinicFacts,
    events: readonly OutboxEvent[],
    surrogates: Pairings,
  ): Promise<{ published: number; duplicates: number; kept: number }> {
    const goes = events.filter((e) => leavesRegion(e.type));
    const total = { published: 0, duplicates: 0, kept: events.length - goes.length };
    // The keys of the events that leave, all in one call (an event that stays needs none).
    const keys = this.keys.of(goes.map((e) => e.id));
    const leaving = goes.map((event, i) => scrubPart(event, keys[i]!, surrogates)!);
    const acks: Promise<{ duplicate: boolean; events: number }>[] = [];
    for (let i = 0; i < leaving.length; i += ENVELOPE_EVENTS) {
      const envelope: Envelope = { clinic: facts, events: leaving.slice(i, i + ENVELOPE_EVENTS) };
      acks.push(
        this.deps.stream
          .publish(this.region, messageId(envelope), encode(envelope))
          .then((r) => ({ ...r, events: envelope.events.length })),
      );
    }
    for (const { duplicate, events: n } of await Promise.all(acks)) {
      if (duplicate) total.duplicates += n;
      else total.published += n;
    }
    return total;
  }
}
