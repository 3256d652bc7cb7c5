import { createLocalJWKSet, decodeJwt, importJWK, jwtVerify, type JWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';
import { AppError, badRequest, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { SCOPE } from './scopes.js';

/**
 * SMART Backend Services clients of a clinic (RFC 7523 `private_key_jwt`): the clinic's admin registers an
 * EHR with its public keys (a JWKS) and the `system/` scopes it may ask for; the EHR then signs an assertion
 * with its private key and exchanges it at the token endpoint for a short access token. No secret is ever
 * shared, and removing the registration stops the EHR at once (every request checks it is still registered).
 */
export interface FhirClient {
  id: string;
  clinicId: string;
  name: string;
  scopes: string[];
  keyIds: string[];
  createdAt: string;
}

export interface NewFhirClient {
  name: string;
  jwks: { keys: Record<string, unknown>[] };
  scopes: string[];
}

/** Algorithms SMART Backend Services names (RS384 and ES384 required); their 256-bit cousins are accepted too. */
const ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256', 'PS384', 'PS256'];
/** An assertion lives at most this long (SMART: "no more than five minutes in the future"). */
const MAX_ASSERTION_SECONDS = 300;

const oauthError = (status: number, error: string, description: string): AppError =>
  new AppError(status, `oauth_${error}`, description, { oauthError: error });

export class FhirClients {
  constructor(private readonly control: Kysely<ControlDB>) {}

  async register(clinicId: string, input: NewFhirClient, createdBy: string | null): Promise<FhirClient> {
    for (const [i, key] of input.jwks.keys.entries()) {
      // Public keys only: a JWKS with a private part means the EHR has just leaked its key to us.
      if ('d' in key || 'p' in key || 'k' in key)
        throw badRequest('jwks_private_key', `jwks.keys[${i}] holds private key material; send public keys only`);
      try {
        await importJWK(key as JWK, typeof key.alg === 'string' ? key.alg : key.kty === 'EC' ? 'ES384' : 'RS384');
      } catch {
        throw badRequest('jwks_invalid_key', `jwks.keys[${i}] is not a usable RSA or EC public key`);
      }
    }
    for (const s of input.scopes) if (!SCOPE.test(s)) throw badRequest('invalid_scope', `"${s}" is not a system/ scope`);
    const row = await this.control
      .insertInto('fhir_clients')
      .values({
        id: newId('fhirClient'),
        clinic_id: clinicId,
        name: input.name,
        jwks: JSON.stringify(input.jwks) as never,
        scopes: input.scopes,
        created_by: createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(row);
  }

  async list(clinicId: string): Promise<FhirClient[]> {
    const rows = await this.control
      .selectFrom('fhir_clients')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return rows.map(view);
  }

  async revoke(clinicId: string, id: string): Promise<void> {
    const done = await this.control
      .updateTable('fhir_clients')
      .set({ revoked_at: new Date() })
      .where('clinic_id', '=', clinicId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!done.numUpdatedRows) throw notFound('fhir_client');
  }

  /** The active registration of a client, or undefined. */
  async active(id: string): Promise<{ id: string; clinicId: string; scopes: string[] } | undefined> {
    const row = await this.control
      .selectFrom('fhir_clients')
      .select(['id', 'clinic_id', 'scopes'])
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? { id: row.id, clinicId: row.clinic_id, scopes: row.scopes } : undefined;
  }

  /**
   * Checks a client assertion (SMART Backend Services §4.2.1): signed by one of the client's registered keys,
   * `iss` = `sub` = the client id, `aud` = our token endpoint, unexpired and at most five minutes long, and a
   * `jti` this client has not used before. Returns the client's registration.
   */
  async authenticate(assertion: string, tokenUrl: string): Promise<{ id: string; clinicId: string; scopes: string[] }> {
    let clientId: string;
    try {
      const claims = decodeJwt(assertion);
      clientId = String(claims.iss ?? '');
    } catch {
      throw oauthError(400, 'invalid_request', 'client_assertion is not a JWT');
    }
    const row = /^fhc_[0-9a-z]{26}$/.test(clientId)
      ? await this.control
          .selectFrom('fhir_clients')
          .selectAll()
          .where('id', '=', clientId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst()
      : undefined;
    if (!row) throw oauthError(401, 'invalid_client', 'The client is not registered with this server');
    let payload: { jti?: string | undefined; exp?: number | undefined; iat?: number | undefined };
    try {
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(row.jwks as { keys: JWK[] }), {
        issuer: clientId,
        subject: clientId,
        audience: tokenUrl,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (err) {
      throw oauthError(401, 'invalid_client', `The client assertion was refused: ${(err as Error).message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! > now + MAX_ASSERTION_SECONDS)
      throw oauthError(401, 'invalid_client', 'The client assertion may live at most five minutes');
    const fresh = await this.control
      .insertInto('fhir_client_assertions')
      .values({ client_id: clientId, jti: String(payload.jti), expires_at: new Date(payload.exp! * 1000) })
      .onConflict((oc) => oc.doNothing())
      .returning('jti')
      .executeTakeFirst();
    if (!fresh) throw oauthError(401, 'invalid_client', 'This client assertion (jti) was already used');
    // Forget assertions that can no longer be replayed (they are expired): a cheap, bounded sweep.
    await sql`delete from fhir_client_assertions where client_id = ${clientId} and expires_at < now()`.execute(this.control);
    return { id: row.id, clinicId: row.clinic_id, scopes: row.scopes };
  }
}

export { oauthError };

function view(r: {
  id: string;
  clinic_id: string;
  name: string;
  scopes: string[];
  jwks: { keys: Record<string, unknown>[] };
  created_at: Date;
}): FhirClient {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    name: r.name,
    scopes: r.scopes,
    keyIds: r.jwks.keys.map((k, i) => (typeof k.kid === 'string' ? k.kid : `#${i}`)),
    createdAt: r.created_at.toISOString(),
  };
}
