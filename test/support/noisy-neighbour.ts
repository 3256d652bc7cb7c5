import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TestPlatform } from './platform.js';
import { bearer } from './platform.js';

/**
 * The noisy-neighbour probe shared by the test (`src/fleet/noisy-neighbour.test.ts`, a generous bound) and the
 * benchmark (`bench/noisy-neighbour.ts`, the figures): a quiet clinic reads its patient list at a steady rate,
 * first alone, then while another clinic of the same pooled store floods the same node over many connections.
 * Real HTTP on localhost; the flood is `autocannon` in a process of its own, over one user's session.
 *
 * Each phase also says where the quiet clinic's time went: its latency as the probe saw it, the time the node
 * spent on its request (from the request's parse to the answer's last byte: the handler, its pool wait and
 * PostgreSQL), the node's event-loop delay (`monitorEventLoopDelay`: how long a ready callback waited for its
 * turn), and the region pools' longest queue of waiting requests. `arms` runs the flood once per arm, each after
 * its setup, against the same baseline: an A/B in one round, under the same load.
 */
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export interface PhaseFigures {
  p50: number;
  p99: number;
  failures: number;
  requests: number;
  /** Every latency of the phase (ms), for percentiles over several rounds. */
  latencies: number[];
  /** The node's own time on the quiet requests (ms): p50 and p99. */
  server: { p50: number; p99: number };
  /** Event-loop delay over the phase (ms). */
  loop: { p50: number; p99: number; max: number };
  /** The longest queue of requests waiting for a region pool connection seen during the phase. */
  poolWaitingMax: number;
}

export interface FloodFigures {
  requests: number;
  ok: number;
  refused429: number;
  other: number;
  perSecond: number;
}

export interface NeighbourFigures {
  baseline: PhaseFigures;
  /** The first arm's (the only one's, without arms). */
  flooded: PhaseFigures;
  flood: FloodFigures;
  arms: { flooded: PhaseFigures; flood: FloodFigures }[];
}

export async function noisyNeighbour(
  t: TestPlatform,
  opts: { seconds: number; quietPerSecond: number; floodConnections: number; arms?: (() => void)[] },
): Promise<NeighbourFigures> {
  // Mid tier: the quiet clinic's budget is not what is measured (a probe delayed by a busy machine catches up in
  // bursts); the flood's small-tier budget is.
  const quietClinic = await t.clinic({ placement: 'pooled', tier: 'mid' });
  const noisyClinic = await t.clinic({ placement: 'pooled', tier: 'small' });
  const quiet = await t.staff(quietClinic.id, 'physician');
  const noisy = await t.staff(noisyClinic.id, 'physician');
  for (const c of [
    { id: quietClinic.id, token: quiet.token },
    { id: noisyClinic.id, token: noisy.token },
  ])
    for (let i = 0; i < 20; i++)
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${c.id}/patients`,
        headers: bearer(c.token),
        payload: { givenName: `Given${i}`, familyName: `Family${i}`, birthDate: '1980-01-01', sex: 'female' },
      });
  const listening = t.app.server.address();
  const base =
    listening && typeof listening === 'object' ? `http://127.0.0.1:${listening.port}` : await t.app.listen({ port: 0, host: '127.0.0.1' });
  const get = (clinicId: string, token: string) =>
    fetch(`${base}/api/v1/clinics/${clinicId}/patients?limit=20`, { headers: bearer(token) }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  // The node's time on each quiet request: from its parse to its answer's last byte.
  const serverTimes: number[] = [];
  const quietPath = `/api/v1/clinics/${quietClinic.id}/`;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith(quietPath)) return;
    const started = performance.now();
    res.once('finish', () => serverTimes.push(performance.now() - started));
  };
  t.app.server.on('request', onRequest);

  const probe = async (): Promise<PhaseFigures> => {
    serverTimes.length = 0;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    let poolWaitingMax = 0;
    const sampler = setInterval(() => {
      for (const p of t.p.stores.poolStats()) if (p.pool.startsWith('region:')) poolWaitingMax = Math.max(poolWaitingMax, p.waiting);
    }, 5);
    const latencies: number[] = [];
    let failures = 0;
    const pending: Promise<void>[] = [];
    const every = 1000 / opts.quietPerSecond;
    const until = performance.now() + opts.seconds * 1000;
    for (let next = performance.now(); next < until; next += every) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      const started = performance.now();
      pending.push(
        get(quietClinic.id, quiet.token).then(
          (status) => {
            latencies.push(performance.now() - started);
            if (status !== 200) failures++;
          },
          () => void failures++,
        ),
      );
    }
    await Promise.all(pending);
    loop.disable();
    clearInterval(sampler);
    const ms = (ns: number) => Math.round(ns / 1e5) / 10;
    return {
      ...percentiles(latencies),
      failures,
      requests: latencies.length,
      latencies,
      server: percentiles(serverTimes),
      loop: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      poolWaitingMax,
    };
  };

  try {
    for (let i = 0; i < 20; i++) await get(quietClinic.id, quiet.token); // warm the node's caches and connections
    const baseline = await probe();
    const arms: NeighbourFigures['arms'] = [];
    for (const setup of opts.arms ?? [() => {}]) {
      setup();
      arms.push(await floodPhase(base, noisyClinic.id, noisy.token, opts, probe));
      // The flood's refusals end with its window: the next arm starts from a clinic in good standing.
      await new Promise((r) => setTimeout(r, 1500));
    }
    return { baseline, flooded: arms[0]!.flooded, flood: arms[0]!.flood, arms };
  } finally {
    t.app.server.off('request', onRequest);
  }
}

/** One flood of `opts.seconds` from another process, with the quiet probe running beside it. */
async function floodPhase(
  base: string,
  noisyClinicId: string,
  token: string,
  opts: { seconds: number; floodConnections: number },
  probe: () => Promise<PhaseFigures>,
): Promise<{ flooded: PhaseFigures; flood: FloodFigures }> {
  // The flood comes from another process, as it would from the network: it competes for the machine's cores,
  // not for this event loop's turns.
  const cannon = spawn(
    process.execPath,
    [
      AUTOCANNON,
      '--json',
      '-c',
      String(opts.floodConnections),
      '-d',
      String(opts.seconds + 1),
      '-H',
      `authorization=Bearer ${token}`,
      `${base}/api/v1/clinics/${noisyClinicId}/patients?limit=20`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  cannon.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  const finished = new Promise<void>((resolve) => cannon.on('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 700)); // the flood is under way before the probe starts
  const flooded = await probe();
  await finished;
  const result = JSON.parse(out) as { requests: { total: number; average: number }; statusCodeStats?: Record<string, { count: number }> };
  const count = (code: string) => result.statusCodeStats?.[code]?.count ?? 0;
  const total = Object.values(result.statusCodeStats ?? {}).reduce((n, s) => n + s.count, 0);
  const flood = {
    requests: total,
    ok: count('200'),
    refused429: count('429'),
    other: total - count('200') - count('429'),
    perSecond: Math.round(result.requests.average),
  };
  return { flooded, flood };
}

export function percentiles(xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0);
  return { p50: Math.round(at(0.5) * 10) / 10, p99: Math.round(at(0.99) * 10) / 10 };
}
