import type { ScrubbedEvent } from './scrubber.js';
import type { EventStream } from './stream.js';
import type { Warehouse } from './warehouse.js';

const decoder = new TextDecoder();

/**
 * Moves scrubbed events from the stream into the warehouse: fetch a batch, apply it, then acknowledge. A
 * crash after applying and before acknowledging hands the batch out again; the warehouse ignores keys it
 * already holds, so an event applied twice counts once.
 */
export class WarehouseLoader {
  constructor(
    private readonly stream: EventStream,
    private readonly warehouse: Warehouse,
    private readonly consumer = 'warehouse',
    private readonly batchSize = 1000,
  ) {}

  /** Loads until the stream has nothing ready; returns how many events were new to the warehouse. */
  async drain(): Promise<{ applied: number; delivered: number }> {
    const total = { applied: 0, delivered: 0 };
    for (;;) {
      const batch = await this.stream.fetch(this.consumer, this.batchSize);
      if (batch.length === 0) return total;
      const events = batch.map((d) => JSON.parse(decoder.decode(d.data)) as ScrubbedEvent);
      total.applied += await this.warehouse.ingest(events);
      total.delivered += batch.length;
      for (const d of batch) await d.ack();
    }
  }
}
