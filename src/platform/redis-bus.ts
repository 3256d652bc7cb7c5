import { Redis } from 'ioredis';
import type { InvalidationBus, InvalidationTopic } from './bus.js';

/**
 * The invalidation bus between API nodes, over Redis pub/sub. Delivery is at-most-once, which is why every
 * cache it invalidates also has a short TTL; a node that reconnects after a gap drops all it holds.
 * Channels are prefixed by the deployment's instance so deployments sharing a Redis do not hear each other.
 */
export class RedisBus implements InvalidationBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<InvalidationTopic, Set<(key: string) => void>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private subscribing: Promise<unknown> = Promise.resolve();

  private constructor(
    url: string,
    private readonly prefix: string,
  ) {
    this.pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { lazyConnect: true });
    this.sub.on('message', (channel: string, key: string) => {
      const topic = channel.slice(this.prefix.length) as InvalidationTopic;
      for (const h of this.handlers.get(topic) ?? []) h(key);
    });
    let connectedOnce = false;
    this.sub.on('ready', () => {
      if (connectedOnce) for (const h of this.reconnectHandlers) h();
      connectedOnce = true;
    });
    this.pub.on('error', () => {});
    this.sub.on('error', () => {});
  }

  static async connect(url: string, instance: string): Promise<RedisBus> {
    const bus = new RedisBus(url, `${instance}:invalidate:`);
    await bus.pub.connect();
    await bus.sub.connect();
    return bus;
  }

  /** The connection that is not subscribed, for ordinary commands (the limiter's counters share it). */
  get commands(): Redis {
    return this.pub;
  }

  async publish(topic: InvalidationTopic, key: string): Promise<void> {
    await this.pub.publish(this.prefix + topic, key);
  }

  subscribe(topic: InvalidationTopic, handler: (key: string) => void): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      const channel = this.prefix + topic;
      this.subscribing = this.subscribing.then(() => this.sub.subscribe(channel));
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  async ready(): Promise<void> {
    await this.subscribing;
  }

  /** Called after a reconnect: messages may have been missed, so callers drop everything cached. */
  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.sub.disconnect();
    await this.pub.quit().catch(() => {});
  }
}
