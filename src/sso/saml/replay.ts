import { sql, type Kysely } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';

/**
 * Assertion ids already used to sign in. A bearer assertion is good for anyone who holds it until it expires, so
 * one captured from a browser (history, a proxy log, a shared machine) must not work a second time. Each id is
 * kept until its assertion could no longer pass the time checks anyway; after that the signature check's clock
 * refuses it and the row can go.
 */
export interface SamlReplayCache {
  /** True when first seen (and now remembered until `until`); false when already used. */
  remember(connectionId: string, assertionId: string, until: Date): Promise<boolean>;
}

/** For unit tests and single-process tools only: API nodes share the PostgreSQL cache. */
export class InMemoryReplayCache implements SamlReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  async remember(connectionId: string, assertionId: string, until: Date): Promise<boolean> {
    const now = this.now().getTime();
    for (const [key, expires] of this.seen) if (expires <= now) this.seen.delete(key);
    const key = `${connectionId}\u0000${assertionId}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, until.getTime());
    return true;
  }
}

/**
 * The cache every API node shares, in the control-plane table `saml_replay`. The insert is the check: the
 * primary key makes two nodes racing with the same assertion end with one winner, without a lock or a read.
 */
export class PgReplayCache implements SamlReplayCache {
  private lastSweep = 0;

  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly opts: { sweepEveryMs?: number; sweepBatch?: number } = {},
  ) {}

  async remember(connectionId: string, assertionId: string, until: Date): Promise<boolean> {
    await this.sweepNow(false);
    // A row past its expiry but not swept yet still refuses its id. That is harmless: an assertion that old
    // fails the time checks before it gets here, so any conflict is a replay.
    const inserted = await this.db
      .insertInto('saml_replay')
      .values({ connection_id: connectionId, assertion_id: assertionId, expires_at: until })
      .onConflict((oc) => oc.columns(['connection_id', 'assertion_id']).doNothing())
      .returning('assertion_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /**
   * Deletes a batch of expired rows, at most once per `sweepEveryMs` per process unless forced. Sign-ins drive
   * it, so an idle deployment keeps a table that is small anyway; a bounded batch keeps any one sign-in quick.
   */
  async sweepNow(force = true): Promise<number> {
    const every = this.opts.sweepEveryMs ?? 10 * 60_000;
    if (!force && Date.now() - this.lastSweep < every) return 0;
    this.lastSweep = Date.now();
    const batch = this.opts.sweepBatch ?? 1000;
    const res = await sql`
      delete from saml_replay where ctid in (
        select ctid from saml_replay where expires_at < now() limit ${batch})`.execute(this.db);
    return Number(res.numAffectedRows ?? 0);
  }
}
