import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is acting and on whose behalf, for the current request (or CLI command). It travels in
 * AsyncLocalStorage so the audit trail and the outbox can name the actor without every function passing it.
 * It is filled server-side only: from the session, the guard and the connection, never from the body.
 */
export interface RequestContext {
  requestId: string;
  clientAddress: string | null;
  userId: string | null;
  role: string | null;
  clinicId: string | null;
  /** HL7 purpose of use (TREAT, HPAYMT, HOPERAT, …) from `X-Purpose-Of-Use`; TREAT when not given. */
  purposeOfUse: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
