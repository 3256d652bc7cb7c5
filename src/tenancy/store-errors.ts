import { AppError } from '../errors.js';
import { pgErrorCode } from '../db/pg.js';
import { clinicBusy } from '../fleet/pool-shares.js';
import { isPoolTimeout, isUnreachable, storeUnavailable } from '../fleet/breaker.js';

/**
 * How a failed tenant transaction is judged (`TenantStores.transaction`): whether the clinic may have moved
 * (read it again and retry), or the store is unreachable or moving (the clinic's 503), or the error is a real one.
 */

/**
 * Errors that may mean "this clinic's data is no longer where this node believed": its schema, role or
 * database is gone, or the connection to it was ended under us (a database dropped WITH (FORCE)). The
 * transaction reads the clinic again and retries only when the control plane says it has moved; otherwise the
 * error is a real one and passes through unchanged. The pin's own PCF02 is the certain signal.
 */
const MAYBE_MOVED_CODES = new Set(['3F000', '42P01', '3D000', '23503', '28P01', '28000', '42501', '22023', '57P01', '57P02', '57014']);
export const isMaybeMoved = (err: unknown): boolean => {
  const code = pgErrorCode(err);
  if (code) return MAYBE_MOVED_CODES.has(code) || code.startsWith('08');
  return err instanceof Error && /Connection terminated|not queryable|ECONNRESET|ECONNREFUSED/.test(err.message);
};

/** A read that found the clinic's store moving under it more often than it retries (a move in trouble). */
export function storeMoved(): AppError {
  return new AppError(
    503,
    'clinic_store_moving',
    "This clinic's data is being moved; try again in a moment",
    { retryAfter: 1 },
    { 'retry-after': '1' },
  );
}

/** A clinic whose store is older than this build serves, until a migration brings it up (`TenantStores`). */
export function clinicUpgrading(): AppError {
  return new AppError(
    503,
    'clinic_upgrading',
    "This clinic's data is being upgraded to this version of Polyclinic; try again in a moment",
    { retryAfter: 5 },
    { 'retry-after': '5' },
  );
}

/**
 * A store that could not be reached, or whose connection ended under a request, is the clinic's 503 with
 * Retry-After (the client retries; the breaker keeps the retries cheap), never a 500. Other errors pass.
 */
export function unreachable(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isPoolTimeout(err)) return clinicBusy(1);
  const code = pgErrorCode(err);
  const ended = code === '57P01' || code === '57P02' || (err instanceof Error && /Connection terminated|not queryable/.test(err.message));
  return isUnreachable(err) || ended ? storeUnavailable(1) : err;
}
