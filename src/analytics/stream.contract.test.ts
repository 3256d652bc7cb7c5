import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { NatsStream } from './nats-stream.js';
import { type EventStream, InProcessStream, type StreamOptions } from './stream.js';

/**
 * One delivery contract, two implementations: the embedded in-process stream and NATS JetStream (the real
 * server when POLYCLINIC_TEST_NATS_URL is set, as in CI).
 */
const natsUrl = process.env.POLYCLINIC_TEST_NATS_URL;
const opts: StreamOptions = { ackWaitMs: 2000, duplicateWindowMs: 60_000 };
const opened: NatsStream[] = [];
afterAll(async () => {
  for (const s of opened) {
    await s.destroy();
    await s.close();
  }
});

const implementations: [string, () => Promise<EventStream>][] = [['in-process', async () => new InProcessStream(opts)]];
if (natsUrl)
  implementations.push([
    'NATS JetStream',
    async () => {
      const s = await NatsStream.open(natsUrl, `T${randomBytes(5).toString('hex')}`, opts);
      opened.push(s);
      return s;
    },
  ]);
else it.skip('NATS JetStream contract (set POLYCLINIC_TEST_NATS_URL)', () => {});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

for (const [name, open] of implementations)
  describe(`event stream contract: ${name}`, () => {
    it('stores a message id once, and hands messages out in order', async () => {
      const s = await open();
      expect(await s.publish('us-east', 'm1', bytes('one'))).toEqual({ duplicate: false });
      expect(await s.publish('us-east', 'm2', bytes('two'))).toEqual({ duplicate: false });
      expect(await s.publish('us-east', 'm1', bytes('one again'))).toEqual({ duplicate: true });
      await s.publish('eu-central', 'm3', bytes('three'));
      const got = await s.fetch('loader', 10);
      expect(got.map((d) => [d.subject, text(d.data)])).toEqual([
        ['us-east', 'one'],
        ['us-east', 'two'],
        ['eu-central', 'three'],
      ]);
      for (const d of got) await d.ack();
      expect(await s.fetch('loader', 10)).toEqual([]);
      // Another durable consumer has its own position.
      expect((await s.fetch('other', 2)).map((d) => text(d.data))).toEqual(['one', 'two']);
    });

    it('hands an unacknowledged message out again after the ack wait, never an acknowledged one', async () => {
      const s = await open();
      await s.publish('r', 'a', bytes('a'));
      await s.publish('r', 'b', bytes('b'));
      const first = await s.fetch('loader', 10);
      expect(first).toHaveLength(2);
      await first[0]!.ack();
      // "b" is in flight: not handed out again before its ack wait runs out.
      expect(await s.fetch('loader', 10)).toEqual([]);
      await new Promise((r) => setTimeout(r, opts.ackWaitMs + 200));
      const again = await s.fetch('loader', 10);
      expect(again.map((d) => text(d.data))).toEqual(['b']);
      await again[0]!.ack();
      expect(await s.fetch('loader', 10)).toEqual([]);
    });
  });
