import { noisyNeighbour } from '../test/support/noisy-neighbour.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer, median } from './server.js';

/**
 * Noisy neighbour: a quiet clinic reads its patient list at 20 req/s, alone (the baseline) and then while a
 * clinic of the same pooled store and the same node floods it with 64 connections (autocannon, another
 * process). Prints, per run, the quiet clinic's p50 and p99 under the flood over its own baseline of the same
 * run, and how the flood was answered (429 beyond its quota). The target: p99 within 1.3× of the baseline.
 * Run: npx tsx bench/noisy-neighbour.ts
 *   BENCH_SECONDS (per phase, 10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64), BENCH_SMALL_RPS (the small tier's
 *   quota, 50: the production default) change the load; BENCH_HOLD_MS (POLYCLINIC_QUOTA_HOLD_MS, 1000) set to 0
 *   answers every 429 at once, as before the paced refusals (`src/fleet/paced-refusals.ts`): the A/B of that design.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

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
const p99s: number[] = [];
const p50s: number[] = [];
try {
  console.log(
    `noisy neighbour on ${server.kind}: quiet 20 req/s, flood ${CONNECTIONS} connections, ${SECONDS} s per phase, 429s held up to ${t.p.config.fleet.refusalHoldMs} ms`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    const f = await noisyNeighbour(t, { seconds: SECONDS, quietPerSecond: 20, floodConnections: CONNECTIONS });
    const p99 = f.flooded.p99 / f.baseline.p99;
    const p50 = f.flooded.p50 / f.baseline.p50;
    p99s.push(p99);
    p50s.push(p50);
    console.log(
      `round ${round}: quiet p50 ${f.baseline.p50} → ${f.flooded.p50} ms (×${p50.toFixed(2)}), p99 ${f.baseline.p99} → ${f.flooded.p99} ms (×${p99.toFixed(2)}), ` +
        `quiet failures ${f.baseline.failures + f.flooded.failures}; flood ${f.flood.perSecond} req/s: ${f.flood.ok} × 200, ${f.flood.refused429} × 429, ${f.flood.other} other`,
    );
  }
  console.log(`median ratio under flood: p50 ×${median(p50s).toFixed(2)}, p99 ×${median(p99s).toFixed(2)} (target p99 ≤ ×1.3)`);
} finally {
  await t.app.close().catch(() => {});
  await t.close();
  await server.stop();
}
