import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { TenantStores } from '../tenancy/stores.js';
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
 * 1. read a batch of unrelayed events and make sure every reference in them has a surrogate (committed on
 *    its own, so a resend after a crash carries the same surrogates as the first send);
 * 2. scrub each and publish it with its event key as the message id, one after the other, so the stream
 *    holds a clinic's events in order;
 * 3. mark the batch relayed.
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
    for (;;) {
      const { events, surrogates } = await this.deps.stores.transaction(clinic.id, 'write', async (scope) => {
        const rows = await scope.db
          .selectFrom('outbox')
          .select(['id', 'type', 'payload', 'occurred_at'])
          .where('relayed_at', 'is', null)
          .orderBy('id')
          .limit(this.batchSize)
          .execute();
        const events: OutboxEvent[] = rows.map((r) => ({ id: r.id, type: r.type, payload: r.payload, occurredAt: r.occurred_at }));
        return { events, surrogates: await surrogatesFor(scope, events.flatMap(referencesOf)) };
      });
      if (events.length === 0) return total;
      for (const event of events) {
        const scrubbed = scrub(event, facts, this.keyOf(event.id), surrogates);
        if (!scrubbed) {
          total.kept++;
          continue;
        }
        const { duplicate } = await this.deps.stream.publish(this.region, scrubbed.key, encode(scrubbed));
        if (duplicate) total.duplicates++;
        else total.published++;
      }
      await this.deps.stores.transaction(clinic.id, 'write', (scope) =>
        scope.db
          .updateTable('outbox')
          .set({ relayed_at: new Date() })
          .where(
            'id',
            'in',
            events.map((e) => e.id),
          )
          .execute(),
      );
      if (events.length < this.batchSize) return total;
    }
  }
}

const encoder = new TextEncoder();
export const encode = (event: unknown): Uint8Array => encoder.encode(JSON.stringify(event));
