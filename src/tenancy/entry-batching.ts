import { AsyncLocalStorage } from 'node:async_hooks';
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import { inlineArguments, inlineParameters } from '../db/inline.js';
import { pgErrorCode, quoteIdent } from '../db/pg.js';
import { statementNames } from '../db/prepared-pool.js';
import type { TenantDB } from './tenant-db.js';

/**
 * The one-message entry (`TenantStores.transaction`): a tenant store's Kysely over a pool whose connections send a
 * transaction's pinning statement (and a write's or snapshot's BEGIN) in the same message as its first query.
 * `stores.ts` opens a `PendingEntry` for each transaction (in `pendingEntry`'s async context); the first
 * connection the transaction acquires takes it.
 */
export function kyselyOver(
  pool: pg.Pool,
  verify?: (client: pg.PoolClient) => Promise<void>,
  opts: { prepare?: boolean } = {},
): Kysely<TenantDB> {
  // EntryClient answers node-postgres's own QueryResult, which is what Kysely's Postgres driver reads.
  const dialect = new PostgresDialect({ pool: entryBatchingPool(pool, verify, opts.prepare ?? false) as unknown as PostgresPool });
  return new Kysely<TenantDB>({ dialect });
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

function entryBatchingPool(pool: pg.Pool, verify: ((client: pg.PoolClient) => Promise<void>) | undefined, prepare: boolean) {
  const clients = new WeakMap<pg.PoolClient, EntryClient>();
  const statements = prepare ? new PreparedReads() : undefined;
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
        clients.set(raw, (client = new EntryClient(raw, statements)));
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
  /** The names this connection has prepared (a session's `PREPARE` outlives transactions, failed ones too). */
  private readonly prepared = new Set<string>();

  constructor(
    private readonly client: pg.PoolClient,
    private readonly statements: PreparedReads | undefined,
  ) {}

  async query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    const pending = this.pending;
    if (pending?.state === 'each' && this.statements && values?.length) {
      const result = await this.executePrepared(pending, this.statements, text, values);
      if (result) return result;
    }
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

  /**
   * A read of a hot text runs as `EXECUTE` of a statement this connection prepared, in the same message as the pin:
   * parsed and analysed once per connection and, after five runs, planned once, where an inlined read is parsed,
   * analysed and planned on every request (a third of a patient page's PostgreSQL CPU and more). The first run on a
   * connection prepares it in that message, after the pin, so names resolve as the clinic's search_path and role
   * say. PostgreSQL analyses a prepared statement again whenever search_path or the role differs from the last
   * run (another clinic of a schema-placement region) or a table it reads changed, so it reads what the inlined
   * text would. Undefined when the text is not hot or a value cannot be inlined: the caller sends it inlined.
   *
   * Refusals that say the statement as prepared cannot serve (its result type changed under a migration: 0A000;
   * gone or already there because a failed message left the session's statements unknown: 26000, 42P05) make the
   * connection forget its statements and send the read inlined instead; nothing of it ran past the pin, so it
   * is still the first try. A text PostgreSQL cannot prepare (it cannot type a parameter: 42P18, 42P08) is never
   * prepared again. Any other error is the read's own and stands.
   */
  private async executePrepared(
    pending: PendingEntry,
    statements: PreparedReads,
    text: string,
    values: readonly unknown[],
  ): Promise<pg.QueryResult | undefined> {
    const name = statements.nameFor(text);
    const args = name === undefined ? undefined : inlineArguments(values);
    if (name === undefined || args === undefined) return undefined;
    const preparing = !this.prepared.has(name);
    const id = quoteIdent(name);
    try {
      const results = (await this.client.query(
        `${pending.pin}; ${preparing ? `prepare ${id} as ${text}; ` : ''}execute ${id}(${args})`,
      )) as unknown as pg.QueryResult[];
      if (preparing) this.prepared.add(name);
      pending.answered = true;
      return results[results.length - 1]!;
    } catch (err) {
      const code = pgErrorCode(err);
      if (preparing && (code === '42P18' || code === '42P08')) {
        statements.refuse(text);
        return undefined;
      }
      if (code !== '0A000' && code !== '26000' && code !== '42P05') throw err;
      await this.client.query('deallocate all');
      this.prepared.clear();
      return undefined;
    }
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

/**
 * The reads a tenant pool prepares: hot texts get names (`statementNames`), except those PostgreSQL refused
 * to prepare. Not for a pool behind a transaction-mode pooler, where a session's statements do not follow it.
 */
class PreparedReads {
  private readonly names = statementNames();
  private readonly refused = new Set<string>();

  nameFor(text: string): string | undefined {
    return this.refused.has(text) ? undefined : this.names.nameFor(text);
  }

  refuse(text: string): void {
    this.refused.add(text);
  }
}
