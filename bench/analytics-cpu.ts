import { withClient } from '../src/db/pg.js';
import { median, processTicks, TICKS_PER_SECOND } from './server.js';

/**
 * CPU time as the analytics benchmark counts it. The machine is shared, so wall-clock rates move with its
 * load; events per CPU-second move far less and are what "per core" means.
 */
export interface Figure {
  events: number;
  seconds: number;
  /** CPU-seconds of this process (user + system). */
  cpu: number;
  /** CPU-seconds of the PostgreSQL backends on the clinic's database; undefined when the server is not local. */
  dbCpu: number | undefined;
}

export const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

/**
 * CPU-seconds used so far by the backends connected to `database`, from /proc/<pid>/stat (utime + stime), or
 * undefined when they cannot be read (a server on another machine). A backend that ends between two readings
 * loses its share, so the pools must keep their connections for the run (they do: idle timeout 60 s).
 */
export async function backendCpuSeconds(adminUrl: string, database: string): Promise<number | undefined> {
  const host = new URL(adminUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', ''].includes(host) && !host.startsWith('/')) return undefined;
  const pids = await withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [database]);
    return rows.map((r) => r.pid);
  });
  let ticks = 0;
  for (const pid of pids) {
    const used = processTicks(pid);
    if (used === undefined) return undefined;
    ticks += used;
  }
  return ticks / TICKS_PER_SECOND;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** Medians of a figure's rounds: wall-clock events/s, then events per CPU-second of this process (and of the database). */
export function summary(figures: readonly Figure[], withDatabase = false): string {
  const wall = median(figures.map((f) => f.events / f.seconds));
  const cpu = median(figures.map((f) => f.events / f.cpu));
  let line = `${n(wall)} events/s, ${n(cpu)} per relay CPU-second`;
  if (withDatabase) {
    const db = figures.map((f) => f.dbCpu);
    if (db.every((d): d is number => d !== undefined)) {
      const both = median(figures.map((f, i) => f.events / (f.cpu + db[i]!)));
      line += `, ${n(both)} per CPU-second of relay + PostgreSQL (database ${median(db).toFixed(2)} s, relay ${median(figures.map((f) => f.cpu)).toFixed(2)} s a round)`;
    } else line += ' (PostgreSQL CPU not readable: server not on this machine)';
  }
  return line;
}
