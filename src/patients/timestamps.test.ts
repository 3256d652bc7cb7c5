import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';

/**
 * Patients are read with their timestamps as PostgreSQL text, rewritten as ISO strings without a Date
 * (db/timestamps.ts): every route must still answer exactly the instants stored, as Date.toISOString writes them.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('patient timestamps', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`are the stored instants in ISO form on create, update, read and list (${placement})`, async () => {
      const clinic = await t.clinic({ placement });
      const { token } = await t.staff(clinic.id, 'physician');
      const url = `/api/v1/clinics/${clinic.id}/patients`;
      const created = await t.app.inject({
        method: 'POST',
        url,
        headers: bearer(token),
        payload: { givenName: 'A', familyName: 'B', birthDate: '1980-01-01' },
      });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      const updated = await t.app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: bearer(token), payload: { givenName: 'C' } });
      const read = await t.app.inject({ method: 'GET', url: `${url}/${id}`, headers: bearer(token) });
      const list = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
      const stored = await t.p.stores.transaction(clinic.id, 'read', (scope) =>
        scope.db.selectFrom('patients').select(['created_at', 'updated_at']).where('id', '=', id).executeTakeFirstOrThrow(),
      );
      const createdAt = stored.created_at.toISOString();
      const updatedAt = stored.updated_at.toISOString();
      expect(updatedAt >= createdAt).toBe(true);
      expect(created.json().createdAt).toBe(createdAt);
      for (const body of [updated.json(), read.json(), list.json().items[0]]) expect(body).toMatchObject({ id, createdAt, updatedAt });
    });
});
