import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who acts. One type for the whole platform, fixed once per request by the edge that authenticated it and
 * read by the audit trails, the outbox, the logger and the services; nothing downstream changes it.
 *
 * - `user`: a signed-in person. Inside the clinic-scoped plugin the actor is the user *in that clinic*
 *   (`clinicId` and `role` set); elsewhere (their own account, the operator console) both are null.
 * - `scim_token`: a clinic's directory (its IdP) calling SCIM with one of the clinic's tokens.
 * - `fhir_client`: a system registered by a clinic's admin (an EHR, SMART Backend Services) calling the
 *   clinic's FHIR API with an access token issued to it (`fhir/smart/`).
 * - `anonymous`: a request that carries no credentials (sign-in, SSO hand-offs, health).
 * - `system`: work with no request behind it (CLI, jobs, start-up).
 */
export type Actor =
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly isOperator: boolean;
      readonly clinicId: string | null;
      readonly role: string | null;
    }
  | { readonly kind: 'scim_token'; readonly tokenId: string; readonly clinicId: string }
  | { readonly kind: 'fhir_client'; readonly clientId: string; readonly clinicId: string }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'system' };

export const SYSTEM: Actor = { kind: 'system' };
export const ANONYMOUS: Actor = { kind: 'anonymous' };

/** The actor as the identity and directory trails store it: a kind and an id. */
export function actorRef(actor: Actor): { kind: Actor['kind']; id: string | null } {
  switch (actor.kind) {
    case 'user':
      return { kind: 'user', id: actor.userId };
    case 'scim_token':
      return { kind: 'scim_token', id: actor.tokenId };
    case 'fhir_client':
      return { kind: 'fhir_client', id: actor.clientId };
    default:
      return { kind: actor.kind, id: null };
  }
}

/** The user id of an actor that is a person, else null. */
export const userIdOf = (actor: Actor): string | null => (actor.kind === 'user' ? actor.userId : null);

/** The clinic an actor acts in, if it is confined to one. */
export const clinicOf = (actor: Actor): string | null =>
  actor.kind === 'user' || actor.kind === 'scim_token' || actor.kind === 'fhir_client' ? actor.clinicId : null;

/**
 * The current request (or CLI command): its id, where it came from, why (purpose of use) and who acts. It
 * travels in AsyncLocalStorage so the audit trail and the outbox can name the actor without every function
 * passing it. It is filled server-side only, from the session and the connection, never from the body, and it
 * is immutable: a narrower scope (the clinic a route acts in) runs in a new context derived from this one.
 */
export interface RequestContext {
  readonly requestId: string;
  readonly clientAddress: string | null;
  /** HL7 purpose of use (TREAT, HPAYMT, HOPERAT, …) from `X-Purpose-Of-Use`; TREAT when not given. */
  readonly purposeOfUse: string;
  readonly actor: Actor;
  /** The clinic route being served (`GET /api/v1/clinics/:clinicId/patients`), for the SQL it runs (`fleet/sql-tag.ts`). */
  readonly route?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The acting party now: the request's actor, or `system` outside any request. */
export function currentActor(): Actor {
  return storage.getStore()?.actor ?? SYSTEM;
}
