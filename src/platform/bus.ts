/**
 * Invalidation bus: tells every API node that a cached thing changed (a clinic's placement or status, a
 * user's sessions). The embedded default delivers in-process; a Redis pub/sub implementation of the same
 * interface carries it between nodes.
 *
 * Video visits (`video/signalling.ts`) ride the same channel under the `video` topic: a signalling message for a
 * participant connected to another node is published with the message as its key. Delivery is at-most-once
 * there too, which WebRTC's own retries and the client's reconnect absorb.
 *
 * `region` (key: the region id) says a region store's primary changed (`regions/`): nodes switch their pools at
 * once instead of on their next probe tick.
 */
export type InvalidationTopic = 'clinic' | 'user-sessions' | 'settings' | 'flags' | 'clinic-cache' | 'video' | 'region';

export interface InvalidationBus {
  publish(topic: InvalidationTopic, key: string): Promise<void>;
  subscribe(topic: InvalidationTopic, handler: (key: string) => void): () => void;
  /** Resolves once every subscription made so far is live. */
  ready(): Promise<void>;
  /** `handler` runs after the transport reconnects, when messages may have been missed: drop all caches. */
  onReconnect(handler: () => void): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements InvalidationBus {
  private readonly handlers = new Map<InvalidationTopic, Set<(key: string) => void>>();

  async publish(topic: InvalidationTopic, key: string): Promise<void> {
    for (const h of this.handlers.get(topic) ?? []) h(key);
  }

  subscribe(topic: InvalidationTopic, handler: (key: string) => void): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async ready(): Promise<void> {}

  onReconnect(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
