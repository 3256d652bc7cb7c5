import { pgErrorCode } from '../db/pg.js';
import { AppError } from '../errors.js';

/**
 * A circuit breaker per store (a region's pool, a clinic's own database). A database that is down makes every
 * request to it wait for a connection attempt to fail; with many requests that is a pile of waiting sockets and
 * slow 503s, and it gives the database no room to come back. After `threshold` consecutive failures to reach a
 * store, its breaker opens: the store's requests are answered 503 `clinic_store_unavailable` at once, for
 * `openMs`; then one request is let through to try, and its outcome closes the breaker or opens it again.
 * Only failures to *reach* the store count (`isUnreachable`); a query's own error is the request's problem.
 *
 * Per process: each node finds out for itself, which is what it pays for.
 */
export class StoreBreakers {
  private readonly stores = new Map<string, { failures: number; openUntil: number; trying: boolean }>();

  constructor(
    private readonly threshold = 3,
    private readonly openMs = 5_000,
  ) {}

  /** Throws the fast 503 while the store's breaker is open; lets one trial through once it half-opens. */
  check(store: string, now = Date.now()): void {
    const s = this.stores.get(store);
    if (!s || s.failures < this.threshold) return;
    if (now < s.openUntil || s.trying) throw storeUnavailable(Math.max(1, Math.ceil((s.openUntil - now) / 1000)));
    s.trying = true;
  }

  succeeded(store: string): void {
    if (this.stores.has(store)) this.stores.delete(store);
  }

  failed(store: string, now = Date.now()): void {
    let s = this.stores.get(store);
    if (!s) this.stores.set(store, (s = { failures: 0, openUntil: 0, trying: false }));
    s.failures++;
    s.trying = false;
    if (s.failures >= this.threshold) s.openUntil = now + this.openMs;
  }

  /** Stores whose breaker is open now (the health view and the metrics). */
  open(now = Date.now()): string[] {
    return [...this.stores].filter(([, s]) => s.failures >= this.threshold && now < s.openUntil).map(([k]) => k);
  }
}

/**
 * A failure to reach a store, rather than a failure of a query: the server refused the connection (too many
 * connections, for the server or the role: 53300; starting up or shutting down: 57P03; database not accepting
 * connections: 55000 on connect), or the network did (ECONNREFUSED, a connect timeout).
 */
export function isUnreachable(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code === '53300' || code === '57P03' || code === '53000') return true;
  if (code === '55000' && err instanceof Error && /not currently accepting connections/.test(err.message)) return true;
  if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND') return true;
  return err instanceof Error && /Connection terminated due to connection timeout|ECONNREFUSED|too many clients/i.test(err.message);
}

/**
 * The pool's own wait for a free connection ran out: the store is fine, the pool is full. Not the store's
 * failure (a flood must not trip the breaker of a region that serves other clinics), but still a 503.
 */
export const isPoolTimeout = (err: unknown): boolean => err instanceof Error && /timeout exceeded when trying to connect/.test(err.message);

export const storeUnavailable = (retryAfter = 5): AppError =>
  new AppError(
    503,
    'clinic_store_unavailable',
    "This clinic's database cannot be reached right now; try again shortly",
    { retryAfter },
    { 'retry-after': String(retryAfter) },
  );
