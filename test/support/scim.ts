import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { PlacementModel } from '../../src/tenancy/naming.js';
import { bearer, type TestPlatform } from './platform.js';

/** For the SCIM suites: a clinic with its admin signed in and a SCIM token created through the admin API. */
export interface ScimClinic {
  clinicId: string;
  admin: { token: string; userId: string };
  token: string;
  tokenId: string;
  /** `/scim/v2/{clinicId}` */
  base: string;
  /** A SCIM request with this clinic's token (or another one). */
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, token?: string): Promise<LightMyRequestResponse>;
  /** An admin API request of this clinic's admin. */
  api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<LightMyRequestResponse>;
}

export const SCIM_JSON = 'application/scim+json';

export async function scimClinic(t: TestPlatform, placement: PlacementModel = 'pooled'): Promise<ScimClinic> {
  const clinic = await t.clinic({ placement, tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise' });
  const admin = await t.staff(clinic.id, 'clinic_admin');
  const api: ScimClinic['api'] = (method, path, body) =>
    t.app.inject({
      method,
      url: `/api/v1/clinics/${clinic.id}${path}`,
      headers: bearer(admin.token),
      ...(body === undefined ? {} : { payload: body as object }),
    });
  const created = await api('POST', '/scim/tokens', { label: 'test IdP' });
  if (created.statusCode !== 201) throw new Error(`create SCIM token: ${created.statusCode} ${created.body}`);
  const { token, id: tokenId } = created.json() as { token: string; id: string };
  const base = `/scim/v2/${clinic.id}`;
  const address = randomAddress();
  return {
    clinicId: clinic.id,
    admin,
    token,
    tokenId,
    base,
    api,
    // The directory calls from an address of its own; a call with another token (a probe) from a fresh one, so
    // that deliberate failures do not spend the per-address budget of failed SCIM tokens (http/rate-limit.ts).
    call: (method, path, body, other) =>
      t.app.inject({
        method,
        url: `${base}${path}`,
        remoteAddress: other === undefined ? address : randomAddress(),
        headers: { authorization: `Bearer ${other ?? token}`, ...(body === undefined ? {} : { 'content-type': SCIM_JSON }) },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      }),
  };
}

let n = 0;
/** A realistic SCIM user body; `over` replaces top-level attributes. */
export function userBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  const i = `${Date.now().toString(36)}${++n}`;
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `ada.${i}@hospital.example`,
    name: { givenName: 'Ada', familyName: `Lovelace${i}` },
    emails: [{ value: `ada.${i}@hospital.example`, type: 'work', primary: true }],
    displayName: `Ada Lovelace ${i}`,
    active: true,
    ...over,
  };
}

export const patchOp = (...operations: Record<string, unknown>[]) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: operations,
});

/** An address in 10.0.0.0/8 that no other test is likely to use. */
function randomAddress(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}
