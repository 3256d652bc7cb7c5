import { readFileSync } from 'node:fs';
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

/** Clock ticks per second in `/proc` (USER_HZ: 100 on every Linux this runs on, `getconf CLK_TCK`). */
export const TICKS_PER_SECOND = 100;

/**
 * User + system clock ticks process `pid` has used (`/proc/<pid>/stat`, so a process on this machine), or
 * undefined when it has ended. The fields after the command name (which may hold spaces) are read: utime is
 * the 14th field of the line, stime the 15th.
 */
export function processTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
