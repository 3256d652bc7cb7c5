import pg from 'pg';
import { quoteLiteral } from '../db/pg.js';
import { STANDBY_APPLICATION_NAME } from './standby.js';

/**
 * What the failover controller says to a region's PostgreSQL servers, and nothing else. Each call opens its own
 * short connection with tight timeouts: a dead or partitioned server must answer "unreachable" within a
 * second, not hang a failover.
 *
 * The server-wide setting `polyclinic.primary_epoch` (in the server's `postgresql.auto.conf`, so every database
 * on it sees it and it survives a restart) says since which epoch the server is its region's primary. The control
 * plane records the epoch too (`primaries.ts`); a node accepts a connection only when the two agree. A promoted
 * standby is marked with the new epoch; the old primary keeps the old one, or `fenced` when the controller could
 * still reach it, so restarted it is refused by every node.
 */
export const EPOCH_SETTING = 'polyclinic.primary_epoch';
export const FENCED = 'fenced';

const TIMEOUT_MS = 1500;

async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>, timeoutMs = TIMEOUT_MS): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'polyclinic-failover',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs * 4,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface ServerState {
  reachable: boolean;
  error?: string;
  inRecovery?: boolean;
  epoch?: string | null;
  synchronousStandbyNames?: string;
  /** On a primary: its standbys as `pg_stat_replication` sees them. */
  standbys?: { name: string; state: string; syncState: string; replayLagMs: number | null }[];
  /** On a standby: the last WAL position received and replayed. */
  receivedLsn?: string | null;
  replayedLsn?: string | null;
}

export async function serverState(url: string): Promise<ServerState> {
  try {
    return await onServer(url, async (c) => {
      const { rows } = await c.query<{
        recovery: boolean;
        epoch: string | null;
        sync: string;
        received: string | null;
        replayed: string | null;
      }>(
        `select pg_is_in_recovery() as recovery, current_setting($1, true) as epoch,
                current_setting('synchronous_standby_names') as sync,
                pg_last_wal_receive_lsn()::text as received, pg_last_wal_replay_lsn()::text as replayed`,
        [EPOCH_SETTING],
      );
      const r = rows[0]!;
      const standbys = r.recovery
        ? []
        : (
            await c.query<{ name: string; state: string; sync_state: string; lag: number | null }>(
              `select application_name as name, state, sync_state,
                      (extract(epoch from replay_lag) * 1000)::float8 as lag from pg_stat_replication`,
            )
          ).rows.map((s) => ({ name: s.name, state: s.state, syncState: s.sync_state, replayLagMs: s.lag }));
      return {
        reachable: true,
        inRecovery: r.recovery,
        epoch: r.epoch === '' ? null : r.epoch,
        synchronousStandbyNames: r.sync,
        standbys,
        receivedLsn: r.received,
        replayedLsn: r.replayed,
      };
    });
  } catch (err) {
    return { reachable: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** The health probe: a fresh connection and a round trip, within `timeoutMs`. */
export async function probe(url: string, timeoutMs: number): Promise<boolean> {
  return onServer(url, (c) => c.query('select 1'), timeoutMs).then(
    () => true,
    () => false,
  );
}

/** Sets server-wide settings and waits until a new session sees them (a reload is asynchronous). */
async function alterSystem(url: string, settings: Record<string, string | null>): Promise<void> {
  await onServer(url, async (c) => {
    for (const [name, value] of Object.entries(settings))
      await c.query(value === null ? `alter system reset ${name}` : `alter system set ${name} = ${quoteLiteral(value)}`);
    await c.query('select pg_reload_conf()');
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const seen = await onServer(url, async (c) => {
      for (const [name, value] of Object.entries(settings)) {
        const { rows } = await c.query<{ v: string | null }>('select current_setting($1, true) as v', [name]);
        if (value !== null && rows[0]!.v !== value) return false;
      }
      return true;
    });
    if (seen) return;
    if (Date.now() > deadline) throw new Error(`settings ${Object.keys(settings).join(', ')} not in force on the server after reload`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Marks the server as its region's primary since `epoch`. */
export function markPrimary(url: string, epoch: number): Promise<void> {
  return alterSystem(url, { [EPOCH_SETTING]: String(epoch) });
}

/**
 * Synchronous replication on (our standby must have each commit on disk before it is acknowledged) or off.
 * Only ever on a primary with a standby; a promoted standby starts with it off, or every write would wait
 * for a standby that does not exist.
 */
export function setSynchronous(url: string, on: boolean): Promise<void> {
  return alterSystem(url, { synchronous_standby_names: on ? `"${STANDBY_APPLICATION_NAME}"` : null });
}

/**
 * Fences a primary that is still reachable (a failover by hand, or a server that only looked dead): it is marked
 * fenced and read-only, so it refuses writes even from a client that ignores the epoch, and every session on it
 * is ended. Answers the last WAL position it wrote, so the standby can be let catch up to it, or undefined when
 * it cannot be reached; the epoch in the control plane fences it then.
 */
export async function fence(url: string): Promise<string | undefined> {
  try {
    return await onServer(url, async (c) => {
      await c.query(`alter system set ${EPOCH_SETTING} = '${FENCED}'`);
      await c.query('alter system set default_transaction_read_only = on');
      await c.query('select pg_reload_conf()');
      await c.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend'`,
      );
      const { rows } = await c.query<{ lsn: string }>('select pg_current_wal_flush_lsn()::text as lsn');
      return rows[0]!.lsn;
    });
  } catch {
    return undefined;
  }
}

/**
 * Waits until a standby has received WAL up to `lsn` (the fenced primary's last write). A failover by hand
 * then loses nothing even without synchronous mode. Answers false if it did not within `timeoutMs`.
 */
export async function caughtUp(url: string, lsn: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await onServer(url, async (c) => {
      const { rows } = await c.query<{ ok: boolean | null }>('select pg_last_wal_receive_lsn() >= $1::pg_lsn as ok', [lsn]);
      return rows[0]!.ok === true;
    }).catch(() => false);
    if (done) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Promotes a standby and waits until it accepts writes. */
export async function promote(url: string): Promise<void> {
  await onServer(
    url,
    async (c) => {
      const { rows } = await c.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery');
      if (!rows[0]!.recovery) return;
      const done = await c.query<{ ok: boolean }>('select pg_promote(true, 30) as ok');
      if (!done.rows[0]!.ok) throw new Error('the standby did not finish its promotion within 30 s');
    },
    30_000,
  );
}
