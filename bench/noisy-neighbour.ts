import { noisyNeighbour, percentiles, type PhaseFigures } from '../test/support/noisy-neighbour.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer, median } from './server.js';

/**
 * Noisy neighbour: a quiet clinic reads its patient list at 20 req/s, alone (the baseline) and then while a
 * clinic of the same pooled store and the same node floods it with 64 connections (autocannon, another
 * process). Prints, per run, the quiet clinic's p50 and p99 under the flood over its own baseline of the same
 * run, how many samples the p99 stands on, where the time went (the node's own time on the quiet requests,
 * event-loop delay, region pool queue) and how the flood was answered (429 beyond its quota). At the end, the
 * percentiles over every round's samples together. The target: p99 within 1.3× of the baseline.
 * Run: npx tsx bench/noisy-neighbour.ts
 *   BENCH_SECONDS (per phase, 10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64), BENCH_SMALL_RPS (the small tier's
 *   quota, 50: the production default) change the load; BENCH_HOLD_MS (POLYCLINIC_QUOTA_HOLD_MS, 1000) set to 0
 *   answers every 429 at once, as before the paced refusals (`src/fleet/paced-refusals.ts`): the A/B of that design.
 *   Two mechanisms against what the flood's own quota of reads costs its neighbour, each switched per flood:
 *   `cap`, the small tier's transactions at once inside its pool share (POLYCLINIC_CLINIC_IN_FLIGHT_SMALL,
 *   BENCH_IN_FLIGHT_SMALL, 2: `src/fleet/pool-shares.ts`), and `burst`, the token bucket that spreads an admitted
 *   burst at the quota's rate (POLYCLINIC_QUOTA_BURST, BENCH_BURST, 10: `src/fleet/pacing.ts`). BENCH_ARMS lists
 *   the floods of each round, against one baseline (default `off,cap,burst,both`; `off` is neither): an A/B…
 *   under the same load, their order reversed every other round.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ARMS = (process.env.BENCH_ARMS ?? 'off,cap,burst,both').split(',');
const CAP = Number(process.env.BENCH_IN_FLIGHT_SMALL ?? 2);
const BURST = Number(process.env.BENCH_BURST ?? 10);

const server = await benchServer();
const t = await startTestPlatform({
  adminUrl: server.url,
  env: {
    POLYCLINIC_QUOTA_SMALL_RPS: process.env.BENCH_SMALL_RPS ?? '50',
    POLYCLINIC_QUOTA_USER_RPS: '100000', // the flood is one session: its clinic's quota is the one measured
    POLYCLINIC_QUOTA_WINDOW_SECONDS: '1',
    POLYCLINIC_QUOTA_HOLD_MS: process.env.BENCH_HOLD_MS ?? '1000',
  },
});
// The arms switch the settings between floods: the pool shares and the pacing read them at each request.
const fleet = t.p.config.fleet;
const arms = ARMS.map((name) => {
  const cap = name === 'cap' || name === 'both' ? CAP : 0;
  const burst = name === 'burst' || name === 'both' ? BURST : 0;
  return {
    name: `${name} (in flight ${cap || 'share'}, burst ${burst || 'off'})`,
    setup: () => {
      fleet.clinicInFlight.small = cap;
      fleet.clinicBurst = burst;
    },
  };
});
const ratios = arms.map(() => ({ p50: [] as number[], p99: [] as number[], latencies: [] as number[] }));
const baselineLatencies: number[] = [];

const share = (f: PhaseFigures) => `${f.requests - Math.floor(0.99 * f.requests)} of ${f.requests}`;
const where = (f: PhaseFigures) =>
  `node p50/p99 ${f.server.p50}/${f.server.p99} ms, loop delay p99 ${f.loop.p99} max ${f.loop.max} ms, pool queue ≤ ${f.poolWaitingMax}`;

try {
  console.log(
    `noisy neighbour on ${server.kind}: quiet 20 req/s, flood ${CONNECTIONS} connections, ${SECONDS} s per phase, 429s held up to ${t.p.config.fleet.refusalHoldMs} ms, arms: ${arms.map((a) => a.name).join(', ')}`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the arms' order, so that neither always runs on the warmer (or more loaded) side of the round.
    const order = round % 2 === 1 ? arms.map((_, i) => i) : arms.map((_, i) => i).reverse();
    const f = await noisyNeighbour(t, {
      seconds: SECONDS,
      quietPerSecond: 20,
      floodConnections: CONNECTIONS,
      arms: order.map((i) => arms[i]!.setup),
    });
    baselineLatencies.push(...f.baseline.latencies);
    console.log(
      `round ${round}: baseline p50 ${f.baseline.p50} ms, p99 ${f.baseline.p99} ms (the slowest ${share(f.baseline)}), ${where(f.baseline)}`,
    );
    for (const [k, i] of order.entries()) {
      const { flooded, flood } = f.arms[k]!;
      const r = ratios[i]!;
      r.p50.push(flooded.p50 / f.baseline.p50);
      r.p99.push(flooded.p99 / f.baseline.p99);
      r.latencies.push(...flooded.latencies);
      console.log(
        `  ${arms[i]!.name}: p50 ${flooded.p50} ms (×${r.p50.at(-1)!.toFixed(2)}), p99 ${flooded.p99} ms (×${r.p99.at(-1)!.toFixed(2)}, the slowest ${share(flooded)}), ` +
          `${where(flooded)}; quiet failures ${f.baseline.failures + flooded.failures}; ` +
          `flood ${flood.perSecond} req/s: ${flood.ok} × 200, ${flood.refused429} × 429, ${flood.other} other`,
      );
    }
  }
  const all = percentiles(baselineLatencies);
  console.log(`all rounds: baseline p50 ${all.p50} ms, p99 ${all.p99} ms over ${baselineLatencies.length} samples`);
  for (const [i, arm] of arms.entries()) {
    const r = ratios[i]!;
    const flooded = percentiles(r.latencies);
    console.log(
      `${arm.name}: median round ratio p50 ×${median(r.p50).toFixed(2)}, p99 ×${median(r.p99).toFixed(2)}; all rounds' samples: ` +
        `p50 ×${(flooded.p50 / all.p50).toFixed(2)}, p99 ${flooded.p99} ms ×${(flooded.p99 / all.p99).toFixed(2)} over ${r.latencies.length} samples (target p99 ≤ ×1.3)`,
    );
  }
} finally {
  await t.app.close().catch(() => {});
  await t.close();
  await server.stop();
}
