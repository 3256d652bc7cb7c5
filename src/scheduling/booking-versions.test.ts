import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt } from '../../test/support/scheduling.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { BOOKING_READ_VERSION } from './booking-queries.js';

/**
 * A build whose booking reads through `booking_read` (tenant migration 22) serves clinics whose stores are a wave
 * behind in a staged rollout, or pinned below it: their bookings read as a plain query, in every placement.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform({ tenantMigrations: TENANT_MIGRATIONS.filter((m) => m.version < BOOKING_READ_VERSION) });
});
afterAll(() => t?.close());

describe(`bookings on a store below tenant version ${BOOKING_READ_VERSION}`, () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: books, refuses the taken slot and replays the key, without booking_read`, async () => {
      const x = await schedulingClinic(t, { placement });
      const clinic = await t.p.clinics.get(x.clinic.id);
      expect(clinic?.schemaVersion).toBe(BOOKING_READ_VERSION - 1);
      const fn = await t.p.stores.transaction(x.clinic.id, 'read', async (scope) =>
        sql<{ fn: string | null }>`select to_regproc('booking_read')::text as fn`.execute(scope.db),
      );
      expect(fn.rows[0]!.fn).toBeNull();
      const book = (key: string) =>
        x.as(x.scheduler)(
          'POST',
          'appointments',
          { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt: utcAt(3, '10:00') },
          { 'idempotency-key': key },
        );
      const first = await book(`v21-${placement}-1`);
      expect(first.statusCode).toBe(201);
      expect((await book(`v21-${placement}-1`)).json().id).toBe(first.json().id);
      const second = await book(`v21-${placement}-2`);
      expect([second.statusCode, second.json().code]).toEqual([409, 'slot_taken']);
    });
});
