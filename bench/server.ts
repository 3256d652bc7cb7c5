import { createLogger } from '../src/logger.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { withClient } from '../src/db/pg.js';

/**
 * The PostgreSQL a benchmark runs on: POLYCLINIC_BENCH_DATABASE_URL (e.g. the machine's server) or the
 * embedded one. Both sides of every ratio run on the same server in the same run.
 */
export async function benchServer(): Promise<{ url: string; kind: string; stop: () => Promise<void> }> {
  const url = process.env.POLYCLINIC_BENCH_DATABASE_URL;
  if (url) {
    await withClient(url, (c) => c.query('select 1'));
    return { url, kind: 'external PostgreSQL', stop: async () => {} };
  }
  const server = await startEmbeddedPostgres({
    dataDir: '.polyclinic/bench',
    port: 54349,
    password: 'polyclinic-bench',
    log: createLogger('warn'),
  });
  return { url: server.url, kind: 'embedded PostgreSQL', stop: () => server.stop() };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
