import { describe, expect, inject, it } from 'vitest';
import { withScratchDatabase } from '../../test/support/schema-dump.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import { migrateTenantSchema } from '../tenancy/store-migrate.js';

/**
 * Migration 12 puts the seat rule into the database. Stores deployed before it may hold overbooked
 * appointments (several overlapping on one provider): the migration gives each a seat of its own before the
 * exclusion constraint is added, so it succeeds on real data and the constraint holds from then on.
 */
describe('the seat migration (tenant 12)', () => {
  it('seats appointments overbooked before it, then refuses an overlapping row on a taken seat', async () => {
    await withScratchDatabase(inject('pgAdminUrl'), async (c) => {
      await migrateTenantSchema(
        c,
        'tenant',
        TENANT_MIGRATIONS.filter((m) => m.version < 12),
        [],
      );
      await c.query(`insert into tenant.clinic (clinic_id) values ('cln_a')`);
      await c.query(
        `insert into tenant.patients (clinic_id, id, given_name, family_name, birth_date) values ('cln_a', 'pat_1', 'A', 'B', '1980-01-01')`,
      );
      await c.query(`insert into tenant.providers (clinic_id, id, user_id, display_name, specialty, licence_jurisdictions, time_zone)
                     values ('cln_a', 'prv_1', 'usr_1', 'Dr', 'gp', '{US-NY}', 'UTC')`);
      const appointment = (id: string, from: string, to: string, status = 'booked') =>
        c.query(
          `insert into tenant.appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
             starts_at, ends_at, block_starts_at, block_ends_at, time_zone)
           values ('cln_a', $1, 'prv_1', 'pat_1', 'consultation', 'video', $4, $2, $3, $2, $3, 'UTC')`,
          [id, `2030-01-07T${from}Z`, `2030-01-07T${to}Z`, status],
        );
      await appointment('apt_a', '10:00', '10:35');
      await appointment('apt_b', '10:00', '10:35'); // overbooked beside a
      await appointment('apt_c', '10:30', '11:05'); // overlaps both
      await appointment('apt_d', '10:35', '11:00'); // overlaps c only: a's seat is free again
      await appointment('apt_x', '10:00', '10:35', 'cancelled'); // holds nothing
      await appointment('apt_e', '12:00', '12:30');

      await migrateTenantSchema(c, 'tenant', TENANT_MIGRATIONS, []);
      const seats = await c.query<{ id: string; seat: number }>('select id, seat from tenant.appointments order by id');
      expect(Object.fromEntries(seats.rows.map((r) => [r.id, r.seat]))).toEqual({
        apt_a: 1,
        apt_b: 2,
        apt_c: 3,
        apt_d: 1,
        apt_e: 1,
        apt_x: 1,
      });
      await expect(appointment('apt_f', '12:15', '12:45')).rejects.toMatchObject({ code: '23P01' });
      await appointment('apt_g', '12:30', '13:00'); // starts where e ends
    });
  });
});
