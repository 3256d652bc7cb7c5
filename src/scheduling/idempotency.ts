import { createHash } from 'node:crypto';
import { type RawBuilder, sql } from 'kysely';
import { AppError, badRequest } from '../errors.js';
import { pgErrorCode } from '../db/pg.js';
import type { SchedulingDeps } from './deps.js';
import type { TenantScope } from '../tenancy/tenant-db.js';

/**
 * `Idempotency-Key` for requests that must not happen twice (booking). The key, a fingerprint of the request
 * (who sent it and its body) and the outcome are stored in the clinic's store, in the same transaction as
 * the change, so the outcome exists exactly when the change committed:
 *
 * - a retry with the same key and the same request gets the first outcome again, same status and body,
 *   marked `Idempotent-Replayed: true`; a booking is never made twice;
 * - the same key with a different request is refused with 422 `idempotency_key_reused`;
 * - two requests with one key at the same moment: the second waits on the key's unique index, then replays;
 * - outcomes that are decisions on the calendar's state (409: slot taken, daily limit) are stored too, so a
 *   retry does not book a slot that freed up in between under the old key; a request refused before it ran
 *   (400, 404) or failed (5xx) stores nothing and may be retried with the same key.
 *
 * Keys live 24 hours; an older key is forgotten when it is used again.
 */
const RECORDED_ERRORS = new Set([409]);

export interface Outcome<T> {
  status: number;
  body: T;
}

export function requireIdempotencyKey(raw: string | undefined): string {
  if (raw === undefined)
    throw badRequest(
      'idempotency_key_required',
      'Booking needs an Idempotency-Key header (a unique value per booking attempt, e.g. a UUID)',
    );
  if (!/^[\x21-\x7e]{1,255}$/.test(raw))
    throw badRequest('idempotency_key_invalid', 'The Idempotency-Key must be 1 to 255 visible ASCII characters');
  return raw;
}

/** SHA-256 of who asks and what they ask, with object keys sorted so formatting does not matter. */
export function requestFingerprint(actorId: string | null, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([actorId, canonical(body)]))
    .digest('base64url');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

/** The key was stored by a concurrent request meanwhile: roll back and answer with its outcome. */
export class KeyTaken extends Error {}

/** A request under its key: what `work` needs to find a stored outcome and store its own. */
export interface KeyedRequest {
  key: string;
  fingerprint: string;
}

/** The key's stored outcome as one JSON value (null when none), for a caller to read with its first query. */
export interface StoredOutcome {
  requestHash: string;
  status: number;
  body: unknown;
  expired: boolean;
}

export function storedOutcome(key: unknown): RawBuilder<StoredOutcome | null> {
  return sql<StoredOutcome | null>`(select json_build_object('requestHash', request_hash, 'status', status_code, 'body', response,
    'expired', created_at < now() - interval '24 hours') from idempotency_keys where key = ${key})`;
}

/**
 * The outcome to replay for a stored one, or undefined when the request is new (nothing stored, or a key older
 * than 24 hours, forgotten here). The same key with another request is refused.
 */
export async function replayOf(scope: TenantScope, req: KeyedRequest, stored: StoredOutcome | null): Promise<Outcome<unknown> | undefined> {
  if (!stored) return undefined;
  if (stored.expired) {
    await scope.db.deleteFrom('idempotency_keys').where('key', '=', req.key).execute();
    return undefined;
  }
  if (stored.requestHash !== req.fingerprint) throw keyReused();
  return { status: stored.status, body: stored.body };
}

/** The row that stores an outcome under its key. */
function outcomeRow(scope: TenantScope, req: KeyedRequest, outcome: Outcome<unknown>) {
  return {
    clinic_id: scope.clinicId,
    key: req.key,
    request_hash: req.fingerprint,
    status_code: outcome.status,
    response: JSON.stringify(outcome.body),
  };
}

/**
 * Runs `work` once per key, in one write transaction. `work` finds the stored outcome itself (`storedOutcome`
 * in its first read, then `replayOf`) and stores its own in the same transaction as its change (`idempotency_keys`,
 * `on conflict do nothing`),
 * throwing KeyTaken when a concurrent request stored one first: booking folds both into statements it sends
 * anyway, so the key costs no round trip of its own. What happens after a refusal or a lost race is here.
 */
export async function idempotent<T>(
  p: SchedulingDeps,
  clinicId: string,
  req: KeyedRequest,
  work: (scope: TenantScope) => Promise<Outcome<T> & { replayed: boolean }>,
): Promise<Outcome<T> & { replayed: boolean }> {
  const { key, fingerprint } = req;
  let stored: Outcome<unknown> & { replayed: boolean };
  try {
    stored = await runAgainAfterDeadlock(() => p.stores.transaction(clinicId, 'write', work));
  } catch (err) {
    const decided = err instanceof AppError && RECORDED_ERRORS.has(err.status);
    if (!(err instanceof KeyTaken) && !decided) throw err;
    stored = await p.stores.transaction(clinicId, 'write', async (scope) => {
      if (decided) await saveOutcome(scope, key, fingerprint, { status: err.status, body: { code: err.code, message: err.message } });
      const prior = await findOutcome(scope, key, fingerprint);
      if (!prior) throw err;
      // Our own refusal just stored is the first outcome, not a replay.
      return { ...prior, replayed: !(decided && prior.status === err.status && (prior.body as { code?: string }).code === err.code) };
    });
  }
  if (stored.status >= 400) {
    const { code, message } = stored.body as { code: string; message: string };
    throw new AppError(stored.status, code, message, {}, stored.replayed ? { 'idempotent-replayed': 'true' } : {});
  }
  return stored as Outcome<T> & { replayed: boolean };
}

/**
 * Two writes of overlapping blocks on one seat at the same instant (bookings of different but overlapping
 * slots, a booking and a reschedule) can each find the other's uncommitted row in the exclusion constraint's
 * index and wait for it: PostgreSQL breaks the cycle by aborting one (40P01). Nothing of it committed, so it
 * runs again, and then sees the other's outcome (slot taken, or free again if that one rolled back).
 */
export async function runAgainAfterDeadlock<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (pgErrorCode(err) !== DEADLOCK_DETECTED || attempt >= 3) throw err;
    }
  }
}
const DEADLOCK_DETECTED = '40P01';

function keyReused(): AppError {
  return new AppError(
    422,
    'idempotency_key_reused',
    'This Idempotency-Key was already used for a different request; use a new key for a new booking',
  );
}

async function findOutcome(scope: TenantScope, key: string, fingerprint: string): Promise<Outcome<unknown> | undefined> {
  const row = await scope.db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'response', sql<boolean>`created_at < now() - interval '24 hours'`.as('expired')])
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.expired) {
    await scope.db.deleteFrom('idempotency_keys').where('key', '=', key).execute();
    return undefined;
  }
  if (row.request_hash !== fingerprint) throw keyReused();
  return { status: row.status_code, body: row.response };
}

async function saveOutcome(scope: TenantScope, key: string, fingerprint: string, outcome: Outcome<unknown>): Promise<boolean> {
  const row = await scope.db
    .insertInto('idempotency_keys')
    .values(outcomeRow(scope, { key, fingerprint }, outcome))
    .onConflict((oc) => oc.columns(['clinic_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}
