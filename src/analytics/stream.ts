/**
 * The event stream between the regions' relays and the central warehouse loader. Production runs NATS
 * JetStream (`nats-stream.ts`); the embedded default is `InProcessStream` below. Both keep one contract,
 * which `stream.contract.test.ts` runs against each:
 *
 * - `publish` resolves once the message is stored; a message whose id was already stored inside the
 *   duplicate window is not stored again (`duplicate: true`): a relay that resends after a crash between
 *   send and acknowledge adds nothing.
 * - `fetch` hands a durable consumer the messages it has not acknowledged, in stream order; a message
 *   fetched and not acknowledged within `ackWaitMs` is handed out again (at least once).
 * - `ack` is final: an acknowledged message is never handed to that consumer again.
 */
export interface EventStream {
  publish(subject: string, messageId: string, data: Uint8Array): Promise<{ duplicate: boolean }>;
  fetch(consumer: string, max: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

export interface Delivery {
  seq: number;
  subject: string;
  data: Uint8Array;
  ack(): Promise<void>;
}

export interface StreamOptions {
  /** How long a fetched, unacknowledged message waits before it is handed out again. */
  ackWaitMs: number;
  /** How long a message id is remembered for deduplication. */
  duplicateWindowMs: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = { ackWaitMs: 30_000, duplicateWindowMs: 2 * 60 * 60_000 };

interface Stored {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/** The embedded default: the same contract, in this process's memory (one API node; lost on restart). */
export class InProcessStream implements EventStream {
  private readonly messages: Stored[] = [];
  private readonly ids = new Map<string, number>();
  private readonly consumers = new Map<string, { acked: Set<number>; floor: number; inFlight: Map<number, number> }>();

  constructor(
    private readonly opts: StreamOptions = DEFAULT_STREAM_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {}

  async publish(subject: string, messageId: string, data: Uint8Array): Promise<{ duplicate: boolean }> {
    const seen = this.ids.get(messageId);
    if (seen !== undefined && this.now() - seen < this.opts.duplicateWindowMs) return { duplicate: true };
    this.ids.set(messageId, this.now());
    this.messages.push({ seq: this.messages.length + 1, subject, data });
    if (this.ids.size > 100_000) this.forgetExpired();
    return { duplicate: false };
  }

  async fetch(consumer: string, max: number): Promise<Delivery[]> {
    let state = this.consumers.get(consumer);
    if (!state) this.consumers.set(consumer, (state = { acked: new Set(), floor: 0, inFlight: new Map() }));
    const out: Delivery[] = [];
    const now = this.now();
    for (let i = state.floor; i < this.messages.length && out.length < max; i++) {
      const m = this.messages[i]!;
      if (state.acked.has(m.seq)) continue;
      const handed = state.inFlight.get(m.seq);
      if (handed !== undefined && now - handed < this.opts.ackWaitMs) continue;
      state.inFlight.set(m.seq, now);
      const s = state;
      out.push({
        ...m,
        ack: async () => {
          s.inFlight.delete(m.seq);
          s.acked.add(m.seq);
          // Advance the floor past the acknowledged prefix so fetch does not rescan it.
          while (s.floor < this.messages.length && s.acked.has(this.messages[s.floor]!.seq)) s.acked.delete(this.messages[s.floor++]!.seq);
        },
      });
    }
    return out;
  }

  async close(): Promise<void> {}

  private forgetExpired(): void {
    const now = this.now();
    for (const [id, at] of this.ids) if (now - at >= this.opts.duplicateWindowMs) this.ids.delete(id);
  }
}
