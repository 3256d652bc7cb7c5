import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { emit } from './outbox.js';

/** Events exist exactly when their change committed, carry the acting user, and match the catalogue. */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const outbox = (clinicId: string) =>
  t.p.stores.transaction(clinicId, 'read', (scope) =>
    scope.db.selectFrom('outbox').select(['type', 'payload', 'actor_id']).orderBy('id').execute(),
  );

describe('outbox', () => {
  for (const placement of ['pooled', 'schema', 'database'] as const)
    it(`${placement}: a change and its event commit together, with the actor`, async () => {
      const clinic = await t.clinic({ placement });
      const doc = await t.staff(clinic.id, 'physician');
      const created = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(doc.token),
        payload: { givenName: 'E', familyName: 'V', birthDate: '1990-01-01', mrn: 'A1' },
      });
      expect(created.statusCode).toBe(201);
      const dup = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(doc.token),
        payload: { givenName: 'E', familyName: 'V', birthDate: '1990-01-01', mrn: 'A1' },
      });
      expect(dup.statusCode).toBe(409);
      await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/clinics/${clinic.id}/patients/${created.json().id}`,
        headers: bearer(doc.token),
        payload: { familyName: 'W' },
      });
      expect(await outbox(clinic.id)).toEqual([
        { type: 'patient.registered', payload: { patientId: created.json().id }, actor_id: doc.userId },
        { type: 'patient.updated', payload: { patientId: created.json().id, fields: ['familyName'] }, actor_id: doc.userId },
      ]);
    });

  it('refuses an event that does not match the catalogue, and the change with it', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const attempt = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      await scope.db
        .insertInto('patients')
        .values({
          clinic_id: clinic.id,
          id: 'pat_x',
          given_name: 'a',
          family_name: 'b',
          birth_date: '2000-01-01',
          sex: 'unknown',
          mrn: null,
          email: null,
          phone: null,
        })
        .execute();
      // @ts-expect-error -- deliberately wrong payload
      await emit(scope, 'patient.registered', { patient: 'pat_x' });
    });
    await expect(attempt).rejects.toMatchObject({ code: 'event_invalid' });
    const rows = await t.p.stores.transaction(clinic.id, 'read', (scope) => scope.db.selectFrom('patients').select('id').execute());
    expect(rows).toEqual([]);
  });
});
