import { AsyncLocalStorage } from 'node:async_hooks';
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import { inlineParameters } from '../db/inline.js';
import type { TenantDB } from './tenant-db.js';

/**
 * The one-message entry (`TenantStores.transaction`): a tenant store's Kysely over a pool whose connections send a
 * transaction's pinning statement (and a write's or snapshot's BEGIN) in the same message as its first query.
 * `stores.ts` opens a `PendingEntry` for each transaction (in `pendingEntry`'s async context); the first
 * connection the transaction acquires takes it.
 */
export function kyselyOver(pool: pg.Pool, verify?: (client: pg.PoolClient) => Promise<void>): Kysely<TenantDB> {
  // EntryClient answers node-postgres's own QueryResult, which is what Kysely's Postgres driver reads.
  return new Kysely<TenantDB>({ dialect: new PostgresDialect({ pool: entryBatchingPool(pool, verify) as unknown as PostgresPool }) });
}

/**
 * How a transaction pins its clinic on the connection it was given:
 * - each: every query travels with the pinning statement in one simple-protocol message, which PostgreSQL runs
 *   as one implicit transaction; the pin (all `set_config(…, true)`) ends with that message. In READ COMMITTED
 *   every statement takes its own snapshot anyway, so a read of several queries sees what it saw before;
 * - begin: an explicit transaction still to open, together with the first query (writes; snapshots, one
 *   consistent view);
 * - open: the explicit transaction is open and pinned; queries go as they are, and the scope's end commits.
 */
export interface PendingEntry {
  pin: string;
  begin: string;
  state: 'each' | 'begin' | 'open';
  /**
   * The connection of the transaction: the first one acquired in its async context. Another pool used in the same
   * context (the audit trail) must not take the pin.
   */
  client: EntryClient | undefined;
  /** A query has returned rows to `fn` (until then nothing of it has run past the pin: it may be tried again). */
  answered: boolean;
}
export const pendingEntry = new AsyncLocalStorage<PendingEntry>();

function entryBatchingPool(pool: pg.Pool, verify?: (client: pg.PoolClient) => Promise<void>) {
  const clients = new WeakMap<pg.PoolClient, EntryClient>();
  return {
    async connect(): Promise<EntryClient> {
      const raw = await pool.connect();
      let client = clients.get(raw);
      if (!client) {
        // A connection's first use: the server must still be where this store lives (a replaced primary is not).
        if (verify)
          await verify(raw).catch((err: unknown) => {
            raw.release(true);
            throw err;
          });
        clients.set(raw, (client = new EntryClient(raw)));
      }
      const pending = pendingEntry.getStore();
      client.pending = pending && !pending.client ? ((pending.client = client), pending) : undefined;
      return client;
    },
    end: () => pool.end(),
  };
}

/**
 * A pooled connection that sends a transaction's pin (and a write's or snapshot's BEGIN) in the same message as
 * its first query, as one multi-statement simple query with the query's parameters inlined (`db/inline.ts`), so
 * a read costs one round trip and a write's entry none of its own. A query whose parameters cannot be inlined
 * gets an explicit transaction instead: BEGIN and the pin go first, the query follows with its parameters, and
 * the scope's end commits.
 */
class EntryClient {
  pending: PendingEntry | undefined;

  constructor(private readonly client: pg.PoolClient) {}

  async query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    const pending = this.pending;
    if (pending && pending.state !== 'open') {
      const inlined = values?.length ? inlineParameters(text, values) : text;
      const head = pending.state === 'begin' ? `${pending.begin}; ${pending.pin}` : pending.pin;
      if (inlined !== undefined) {
        if (pending.state === 'begin') pending.state = 'open';
        const results = (await this.client.query(`${head}; ${inlined}`)) as unknown as pg.QueryResult[];
        pending.answered = true;
        return results[results.length - 1]!;
      }
      // Open (and, on failure, roll back) the explicit transaction whatever happens to this message.
      pending.state = 'open';
      await this.client.query(`${pending.begin}; ${pending.pin}`);
    }
    const result = await this.client.query(text, values as unknown[] | undefined);
    if (pending) pending.answered = true;
    return result;
  }

  /** Ends the explicit transaction now, ahead of whoever takes this connection next (same wire, in order). */
  end(statement: 'commit' | 'rollback'): Promise<unknown> {
    return this.client.query(statement);
  }

  release(err?: Error | boolean): void {
    this.pending = undefined;
    this.client.release(err);
  }
}
