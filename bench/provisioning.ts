import { performance } from 'node:perf_hooks';
import { createClinic } from '../src/controlplane/provisioning.js';
import { startTestPlatform } from '../test/support/platform.js';
import { PLACEMENT_MODELS } from '../src/tenancy/naming.js';
import { benchServer, median } from './server.js';

/**
 * Provisioning time per placement: median of 20 clinic creations each (control-plane row, store, anchor).
 * The baseline is the pooled placement, measured in the same run; the others print as a ratio to it.
 * Run: npx tsx bench/provisioning.ts
 */
const N = Number(process.env.BENCH_N ?? 20);
const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
const results: Record<string, number> = {};
try {
  for (const model of PLACEMENT_MODELS) {
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const start = performance.now();
      await createClinic(t.p, {
        name: `Bench ${model} ${i}`,
        slug: `bench-${model}-${i}`,
        tier: 'small',
        dataRegion: 'us-east',
        placement: model,
      });
      times.push(performance.now() - start);
    }
    results[model] = median(times);
  }
  console.log(`provisioning, median of ${N} per placement, on ${server.kind}`);
  for (const model of PLACEMENT_MODELS)
    console.log(
      `  ${model.padEnd(9)} ${results[model]!.toFixed(1).padStart(8)} ms   ratio to pooled ${(results[model]! / results.pooled!).toFixed(1)}x`,
    );
} finally {
  await t.close();
  await server.stop();
}
