import { createHash } from 'node:crypto';
import type pg from 'pg';
import { pgErrorCode } from './pg.js';

/**
 * A pool whose connections prepare the statements this process runs often, as pgjdbc's `prepareThreshold`
 * does: once a text has run `threshold` times, it is sent as a named statement, parsed and analysed once per
 * connection, and after five runs PostgreSQL plans it once (a generic plan) instead of on every call. The
 * control plane's hot statements (a booking's membership check and its notices' job insert) spent more time
 * being planned than being run: about 300 µs of PostgreSQL CPU per booking.
 *
 * Only for the control plane's pool: it is not behind a transaction pooler (a named statement lives on one
 * server session), and its texts carry their values as parameters. Tenant reads travel inlined beside their
 * pin in one simple-protocol message, so they prepare with SQL `PREPARE` instead (`tenancy/entry-batching.ts`),
 * by the same naming rule (`statementNames`).
 *
 * At most `max` texts are named (the first ones to reach the threshold), so a text built with its values
 * inlined never fills the server's memory. A migration that changes a prepared statement's result type
 * makes PostgreSQL refuse it ("cached plan must not change result type", 0A000): the connection is then
 * dropped, and a statement outside a transaction is run again on a fresh one (it did not run); inside a
 * transaction the error stands, as any other failed statement would.
 */
export function preparingPool(pool: pg.Pool, opts: { threshold?: number; max?: number } = {}): PreparingPool {
  const names = statementNames(opts);
  return {
    async connect() {
      return new PreparingClient(pool, await pool.connect(), names.nameFor);
    },
    end: () => pool.end(),
    prepared: () => names.size(),
  };
}

/**
 * Which texts deserve a name: once a text has run `threshold` times (5) it gets one, derived from the text, and
 * at most `max` texts (200) are ever named, so a text built with its values inlined never fills the server's
 * memory. Shared by the control plane's pool (protocol-level statements) and the tenant stores' (`PREPARE`,
 * `tenancy/entry-batching.ts`).
 */
export function statementNames(opts: { threshold?: number; max?: number } = {}): {
  nameFor: (text: string) => string | undefined;
  size: () => number;
} {
  const threshold = opts.threshold ?? 5;
  const max = opts.max ?? 200;
  const runs = new Map<string, number>();
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= max) return known;
    const n = (runs.get(text) ?? 0) + 1;
    if (n < threshold) {
      // Texts seen once or twice are forgotten in bulk, so the counts stay small whatever the traffic.
      if (runs.size >= 10_000) runs.clear();
      runs.set(text, n);
      return undefined;
    }
    runs.delete(text);
    const name = `pc_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    names.set(text, name);
    return name;
  };
  return { nameFor, size: () => names.size };
}

export interface PreparingPool {
  connect(): Promise<PreparingClient>;
  end(): Promise<void>;
  /** How many texts are sent as named statements. */
  prepared(): number;
}

const TRANSACTION_START = /^\s*(begin|start transaction)\b/i;
const TRANSACTION_END = /^\s*(commit|rollback|end|abort)\b/i;

class PreparingClient {
  /** Inside BEGIN … COMMIT: a failed statement there cannot be run again on another connection. */
  private inTransaction = false;
  private dropped = false;

  constructor(
    private readonly pool: pg.Pool,
    private client: pg.PoolClient,
    private readonly nameFor: (text: string) => string | undefined,
  ) {}

  // Kysely's driver calls query(text, values) and, for streams, query(cursor): anything else passes through.
  query(text: unknown, values?: unknown[]): Promise<pg.QueryResult> {
    if (typeof text !== 'string') return (this.client.query as (q: unknown) => Promise<pg.QueryResult>)(text);
    if (TRANSACTION_START.test(text)) this.inTransaction = true;
    else if (TRANSACTION_END.test(text)) this.inTransaction = false;
    const name = values?.length ? this.nameFor(text) : undefined;
    if (name === undefined) return this.client.query(text, values);
    return this.client.query({ name, text, values }).catch(async (err: unknown) => {
      if (!isStalePlan(err)) throw err;
      // The server keeps refusing this statement on this connection: give the connection up.
      if (this.inTransaction) {
        this.dropped = true;
        throw err;
      }
      this.client.release(true);
      this.client = await this.pool.connect();
      return this.client.query({ name, text, values });
    });
  }

  release(err?: Error | boolean): void {
    this.client.release(this.dropped || err);
  }
}

function isStalePlan(err: unknown): boolean {
  return pgErrorCode(err) === '0A000' && err instanceof Error && /cached plan must not change result type/.test(err.message);
}
