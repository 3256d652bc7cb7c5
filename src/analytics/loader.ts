import { decode } from './envelope.js';
import type { EventStream } from './stream.js';
import type { Warehouse } from './warehouse.js';

/**
 * Moves scrubbed events from the stream into the warehouse: fetch messages (envelopes of a clinic's events,
 * `envelope.ts`), apply their events as one batch, then acknowledge. A crash after applying and before
 * acknowledging hands the messages out again; the warehouse ignores keys it already holds, so an event applied
 * twice counts once (as does an event a relay resent in an envelope cut differently).
 */
export class WarehouseLoader {
  constructor(
    private readonly stream: EventStream,
    private readonly warehouse: Warehouse,
    private readonly consumer = 'warehouse',
    /** Messages a fetch (each up to `ENVELOPE_EVENTS` events). */
    private readonly batchSize = 4,
  ) {}

  /** Loads until the stream has nothing ready; returns how many events were new to the warehouse, and how many came. */
  async drain(): Promise<{ applied: number; delivered: number }> {
    const total = { applied: 0, delivered: 0 };
    for (;;) {
      const batch = await this.stream.fetch(this.consumer, this.batchSize);
      if (batch.length === 0) return total;
      const events = batch.flatMap((d) => decode(d.data));
      total.applied += await this.warehouse.ingest(events);
      total.delivered += events.length;
      for (const d of batch) await d.ack();
    }
  }
}
