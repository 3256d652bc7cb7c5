import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { ClinicPoolerTarget } from '../config/regions.js';
import pg from 'pg';
import { poolerRole } from './naming.js';

/**
 * Points a region's clinic pooler (PgBouncer) at the server that is the region's primary now. PgBouncer's admin
 * console can pause, reload and reconnect, but not change a database's host (its `SET` covers the `[pgbouncer]`
 * section only), so the platform owns one file that PgBouncer's `[databases]` section `%include`s, holding the one
 * wildcard entry, and after rewriting it asks the console to `RELOAD` (read it) and `RECONNECT` (close every server
 * connection once its transaction has ended; the next one goes to the new host). Clients stay connected to the
 * pooler throughout; nothing a transaction-mode client holds lives on a server connection between transactions.
 *
 * Every node calls this when it switches a region's stores (`TenantStores.switchRegion`, on the failover bus
 * message or at start when the record names another server), so a pooler beside each node (the file on its own
 * disk) and one shared pooler (the file on a volume the nodes mount) both follow. The calls are idempotent: the
 * same line, a reload, a reconnect. A node starting (nothing changed) reloads but reconnects only if it had to
 * rewrite the line, so a rolling restart of the nodes does not cycle the pooler's server connections each time.
 * Connections the pooler opens to a server that is not the primary at the control plane's epoch are still refused
 * by `regions/primaries.ts`, so a pooler left behind (its console unreachable) answers 503, never a write to the
 * old primary.
 */
export async function pointPooler(
  target: ClinicPoolerTarget,
  serverUrl: string,
  instance: string,
  /** `always` when the primary has just changed (a writer before may have died between its write and the console). */
  reconnect: 'always' | 'if-changed' = 'always',
): Promise<{ changed: boolean }> {
  const line = databasesLine(serverUrl, instance);
  const changed = current(target.databasesFile) !== line;
  if (changed) {
    // A rename is atomic: PgBouncer reads the old line or the new one, never half of one.
    const tmp = `${target.databasesFile}.${process.pid}.tmp`;
    writeFileSync(tmp, line, { mode: 0o644 });
    renameSync(tmp, target.databasesFile);
  }
  // Bounded: a node switching its stores after a failover must not hang on a pooler that does not answer.
  const c = new pg.Client({
    connectionString: target.consoleUrl,
    connectionTimeoutMillis: CONSOLE_TIMEOUT_MS,
    query_timeout: CONSOLE_TIMEOUT_MS,
  });
  c.on('error', () => {});
  await c.connect();
  try {
    await c.query('RELOAD');
    if (changed || reconnect === 'always') await c.query('RECONNECT');
  } finally {
    await c.end().catch(() => {});
  }
  return { changed };
}

const CONSOLE_TIMEOUT_MS = 5000;

/**
 * The include file's content: every database (`*`) on the server's host and port, logins looked up through the
 * pooler role (`pooler-logins.ts`).
 */
export function databasesLine(serverUrl: string, instance: string): string {
  const u = new URL(serverUrl);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return [
    '; Written by Polyclinic (tenancy/pooler-target.ts) whenever the region primary changes: do not edit.',
    `* = host=${host} port=${u.port || '5432'} auth_user=${poolerRole(instance)}`,
    '',
  ].join('\n');
}

function current(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
