import pg from 'pg';
import { processTicks, TICKS_PER_SECOND } from './server.js';

/**
 * What this process makes PostgreSQL do, for benchmarks that report cost per request rather than throughput
 * (a ratio of two throughputs moves by ±20 % per round on this shared machine; the CPU a request costs hardly
 * at all). Importing it wraps `pg.Client.prototype.query` once:
 *  - messages: every `query` call node-postgres sends, counted by its text's start (a message of several
 *    `;`-separated statements counts once);
 *  - backends: the server processes those calls went to, whose user + system time `/proc/<pid>/stat` gives,
 *    so the server must run on this machine (the machine's PostgreSQL or the embedded one).
 */
export const sent = new Map<string, number>();
const backends = new Set<number>();
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function counted(this: pg.Client & { processID?: number }, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
  const key = `${this.user}: ${text.replace(/\s+/g, ' ').slice(0, 600)}`;
  sent.set(key, (sent.get(key) ?? 0) + 1);
  if (this.processID) backends.add(this.processID);
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

/** User + system clock ticks of each backend this process has sent a query to. */
export function backendTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of backends) {
    const used = processTicks(pid);
    if (used === undefined)
      backends.delete(pid); // ended
    else ticks.set(pid, used);
  }
  return ticks;
}

/** Microseconds of CPU spent since `before` by the backends alive now (one that ended meanwhile takes its time with it). */
export function backendMicrosSince(before: Map<number, number>): number {
  let sum = 0;
  for (const [pid, t] of backendTicks()) sum += t - (before.get(pid) ?? 0);
  return (sum * 1e6) / TICKS_PER_SECOND;
}

/** Messages sent since `sent` was last cleared. */
export function messages(): number {
  return [...sent.values()].reduce((a, b) => a + b, 0);
}
