import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import type { SamlSessionRef } from './saml/logout.js';

/**
 * The two short-lived records of an SSO sign-in, kept in the control plane so any API node can finish what
 * another started:
 * - a flow: started when the browser is sent to the IdP; holds the SAML AuthnRequest id, or the OIDC nonce and
 *   PKCE verifier, and where to land afterwards. Its id is the SAML RelayState / OIDC `state`. Used once.
 * - a hand-off: made when the IdP's answer passed; a one-time code the web app redeems for a session token, so
 *   the token itself never appears in a URL.
 */
const FLOW_TTL_MS = 10 * 60_000;
const HANDOFF_TTL_MS = 60_000;

export interface SsoFlow {
  id: string;
  connectionId: string;
  requestId: string | null;
  nonce: string | null;
  codeVerifier: string | null;
  returnTo: string | null;
}

export const newFlowId = (): string => randomBytes(32).toString('base64url');
const hash = (code: string): string => createHash('sha256').update(code).digest('base64url');

export class SsoFlows {
  constructor(private readonly db: Kysely<ControlDB>) {}

  async start(flow: SsoFlow): Promise<void> {
    await this.db
      .insertInto('sso_flows')
      .values({
        id: flow.id,
        connection_id: flow.connectionId,
        request_id: flow.requestId,
        nonce: flow.nonce,
        code_verifier: flow.codeVerifier,
        return_to: flow.returnTo,
        expires_at: new Date(Date.now() + FLOW_TTL_MS),
      })
      .execute();
    // Abandoned flows are swept as new ones start; an index-free delete of a handful of rows.
    await this.db
      .deleteFrom('sso_flows')
      .where('expires_at', '<', new Date(Date.now() - FLOW_TTL_MS))
      .execute();
  }

  /** Marks the flow used and returns it, once; a second answer carrying the same state finds nothing. */
  async consume(connectionId: string, id: string): Promise<SsoFlow | undefined> {
    const row = await this.db
      .updateTable('sso_flows')
      .set({ consumed_at: new Date() })
      .where('id', '=', id)
      .where('connection_id', '=', connectionId)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', new Date())
      .returningAll()
      .executeTakeFirst();
    return (
      row && {
        id: row.id,
        connectionId: row.connection_id,
        requestId: row.request_id,
        nonce: row.nonce,
        codeVerifier: row.code_verifier,
        returnTo: row.return_to,
      }
    );
  }

  async handOff(input: {
    userId: string;
    clinicId: string;
    connectionId: string;
    method: 'saml' | 'oidc';
    saml?: SamlSessionRef | undefined;
  }): Promise<string> {
    const code = `pch_${randomBytes(32).toString('base64url')}`;
    await this.db
      .insertInto('sso_handoffs')
      .values({
        code_hash: hash(code),
        user_id: input.userId,
        clinic_id: input.clinicId,
        connection_id: input.connectionId,
        method: input.method,
        expires_at: new Date(Date.now() + HANDOFF_TTL_MS),
        saml_name_id: input.saml?.nameId ?? null,
        saml_name_id_format: input.saml?.nameIdFormat ?? null,
        saml_session_index: input.saml?.sessionIndex ?? null,
      })
      .execute();
    await this.db
      .deleteFrom('sso_handoffs')
      .where('expires_at', '<', new Date(Date.now() - HANDOFF_TTL_MS))
      .execute();
    return code;
  }

  async redeem(
    code: string,
  ): Promise<{ userId: string; clinicId: string; connectionId: string; method: 'saml' | 'oidc'; saml: SamlSessionRef | null } | undefined> {
    const row = await this.db
      .updateTable('sso_handoffs')
      .set({ consumed_at: new Date() })
      .where('code_hash', '=', hash(code))
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', new Date())
      .returning(['user_id', 'clinic_id', 'connection_id', 'method', 'saml_name_id', 'saml_name_id_format', 'saml_session_index'])
      .executeTakeFirst();
    return (
      row && {
        userId: row.user_id,
        clinicId: row.clinic_id,
        connectionId: row.connection_id,
        method: row.method,
        saml: row.saml_name_id
          ? { nameId: row.saml_name_id, nameIdFormat: row.saml_name_id_format, sessionIndex: row.saml_session_index }
          : null,
      }
    );
  }

  /** A session made from a SAML sign-in keeps what single logout must name at the IdP. */
  async rememberSamlSession(tokenHash: string, connectionId: string, ref: SamlSessionRef): Promise<void> {
    await this.db
      .insertInto('saml_sessions')
      .values({
        token_hash: tokenHash,
        connection_id: connectionId,
        name_id: ref.nameId,
        name_id_format: ref.nameIdFormat,
        session_index: ref.sessionIndex,
      })
      .execute();
  }

  async samlSessionOf(tokenHash: string): Promise<(SamlSessionRef & { connectionId: string }) | undefined> {
    const row = await this.db.selectFrom('saml_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return (
      row && { connectionId: row.connection_id, nameId: row.name_id, nameIdFormat: row.name_id_format, sessionIndex: row.session_index }
    );
  }
}
