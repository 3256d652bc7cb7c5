import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InProcessBus, type InvalidationBus } from './bus.js';
import { RedisBus } from './redis-bus.js';

/**
 * One contract, every transport: the in-process bus of the embedded default and the Redis bus between nodes.
 * The Redis half needs POLYCLINIC_TEST_REDIS_URL (CI sets it and refuses skipped tests).
 */
const redisUrl = process.env.POLYCLINIC_TEST_REDIS_URL;
const transports: [string, (instance: string) => Promise<InvalidationBus>, boolean][] = [
  ['in-process', async () => shared ?? (shared = new InProcessBus()), true],
  ['redis', (instance) => RedisBus.connect(redisUrl!, instance), Boolean(redisUrl)],
];
let shared: InProcessBus | undefined;

for (const [name, open, available] of transports) {
  describe.skipIf(!available)(`invalidation bus contract: ${name}`, () => {
    it('delivers a published key to every subscriber of the topic, on every node, and not to other topics', async () => {
      shared = undefined;
      const instance = `t${randomBytes(4).toString('hex')}`;
      const nodeA = await open(instance);
      const nodeB = await open(instance);
      const got: string[] = [];
      nodeA.subscribe('clinic', (k) => got.push(`A:${k}`));
      nodeB.subscribe('clinic', (k) => got.push(`B:${k}`));
      nodeB.subscribe('user-sessions', (k) => got.push(`B-sessions:${k}`));
      await Promise.all([nodeA.ready(), nodeB.ready()]);
      await nodeA.publish('clinic', 'cln_1');
      await waitFor(() => got.length >= 2);
      expect(got.sort()).toEqual(['A:cln_1', 'B:cln_1']);
      await Promise.all([nodeA.close(), nodeB !== nodeA ? nodeB.close() : undefined]);
    });

    it('keeps deployments apart', async () => {
      shared = undefined;
      const one = await open(`t${randomBytes(4).toString('hex')}`);
      shared = undefined;
      const two = await open(`t${randomBytes(4).toString('hex')}`);
      const got: string[] = [];
      two.subscribe('clinic', (k) => got.push(k));
      await two.ready();
      await one.publish('clinic', 'cln_other');
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toEqual([]);
      await Promise.all([one.close(), two.close()]);
    });

    it('unsubscribing stops delivery', async () => {
      shared = undefined;
      const bus = await open(`t${randomBytes(4).toString('hex')}`);
      const got: string[] = [];
      const off = bus.subscribe('clinic', (k) => got.push(k));
      const keep: string[] = [];
      bus.subscribe('clinic', (k) => keep.push(k));
      await bus.ready();
      off();
      await bus.publish('clinic', 'x');
      await waitFor(() => keep.length === 1);
      expect(got).toEqual([]);
      await bus.close();
    });
  });
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for delivery');
    await new Promise((r) => setTimeout(r, 10));
  }
}
