import { performance } from 'node:perf_hooks';
import { createClinic } from '../src/controlplane/provisioning.js';
import { startTestPlatform, type TestPlatform } from '../test/support/platform.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../src/tenancy/naming.js';
import { benchServer, median } from './server.js';

/**
 * Provisioning time per placement: median of N clinic creations each (control-plane row, store, anchor).
 * The baseline is the pooled placement, measured in the same run; the others print as a ratio to it.
 *
 * `claimed`: the platform keeps spare stores (`tenancy/spares.ts`); each creation claims one, and the refill it
 * starts is awaited before the next creation, outside the timing (a steady trickle of new clinics, not a burst).
 * `built`: a second platform on the same server keeps none, so each creation builds its store, as before spares.
 * Run: npx tsx bench/provisioning.ts
 */
const N = Number(process.env.BENCH_N ?? 20);
const server = await benchServer();
const results: Record<string, number> = {};

async function series(t: TestPlatform, label: string, model: PlacementModel): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    await t.p.spares.settled();
    const start = performance.now();
    await createClinic(t.p, {
      name: `Bench ${label} ${i}`,
      slug: `bench-${label}-${i}`,
      tier: 'small',
      dataRegion: 'us-east',
      placement: model,
    });
    times.push(performance.now() - start);
  }
  results[label] = median(times);
}

const withSpares = await startTestPlatform({ adminUrl: server.url, env: { POLYCLINIC_SPARE_STORES: '2' } });
const without = await startTestPlatform({ adminUrl: server.url });
try {
  for (const model of PLACEMENT_MODELS) await series(withSpares, model === 'pooled' ? model : `${model}-claimed`, model);
  for (const model of PLACEMENT_MODELS) if (model !== 'pooled') await series(without, `${model}-built`, model);
  console.log(`provisioning, median of ${N} per placement, on ${server.kind}`);
  for (const [label, ms] of Object.entries(results))
    console.log(`  ${label.padEnd(17)} ${ms.toFixed(1).padStart(8)} ms   ratio to pooled ${(ms / results.pooled!).toFixed(2)}x`);
} finally {
  await withSpares.close();
  await without.close();
  await server.stop();
}
