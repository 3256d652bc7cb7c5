/**
 * One error type for the whole platform. Anything can throw an `AppError`; the HTTP layer renders it once
 * as RFC 9457 `application/problem+json` with a stable `code` clients can branch on. Codes are part of the
 * API contract: add new ones, never rename.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, code = `${what}_not_found`): AppError =>
  new AppError(404, code, `${what.replace(/_/g, ' ')} not found`);

export const forbidden = (message = 'This action is not allowed for your role'): AppError => new AppError(403, 'forbidden', message);

export const unauthorized = (message = 'A valid bearer token is required'): AppError =>
  new AppError(401, 'unauthenticated', message, {}, { 'www-authenticate': 'Bearer' });

export const conflict = (code: string, message: string): AppError => new AppError(409, code, message);

export const badRequest = (code: string, message: string, extra: Record<string, unknown> = {}): AppError =>
  new AppError(400, code, message, extra);

/** The clinic is briefly frozen (placement move); the client should retry after `retryAfterSeconds`. */
export const clinicFrozen = (retryAfterSeconds = 2): AppError =>
  new AppError(
    503,
    'clinic_frozen',
    'This clinic is being moved; writes are paused for a few seconds',
    { retryAfter: retryAfterSeconds },
    { 'retry-after': String(retryAfterSeconds) },
  );

/**
 * Lets `work` run beside other work and answers its failure later: the returned function waits until `work` has
 * settled and throws its error, if any. Until then a failure is held, never an unhandled rejection, so the caller
 * can decide which of two concurrent failures to answer (the audit record's, a control-plane refusal's).
 */
export function heldFailure(work: Promise<unknown>): () => Promise<void> {
  const settled = work.then(
    () => null,
    (err: unknown) => ({ err }),
  );
  return async () => {
    const failed = await settled;
    if (failed) throw failed.err;
  };
}
