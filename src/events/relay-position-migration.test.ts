import { describe, expect, inject, it } from 'vitest';
import { withScratchDatabase } from '../../test/support/schema-dump.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import { migrateTenantSchema } from '../tenancy/store-migrate.js';

/**
 * Migration 20 replaces the per-row mark (`relayed_at`) by relay positions. Rows the old relay had marked must
 * never be sent again (tx 0, behind every position); the rows it had not reached must still be (a real
 * transaction id). A row copied in from another store is stamped with the copying transaction.
 */
describe('the relay position migration (tenant 20)', () => {
  it('puts marked rows behind every position, keeps the others to send, and stamps copied rows', async () => {
    await withScratchDatabase(inject('pgAdminUrl'), async (c) => {
      await migrateTenantSchema(
        c,
        'tenant',
        TENANT_MIGRATIONS.filter((m) => m.version < 20),
        [],
      );
      await c.query(`insert into tenant.clinic (clinic_id) values ('cln_a')`);
      const row = (id: string, relayed: boolean) =>
        c.query(`insert into tenant.outbox (clinic_id, id, type, payload, relayed_at) values ('cln_a', $1, 'patient.updated', '{}', $2)`, [
          id,
          relayed ? new Date() : null,
        ]);
      await row('evt_1', true);
      await row('evt_2', false);
      await row('evt_3', true);

      await migrateTenantSchema(c, 'tenant', TENANT_MIGRATIONS, []);
      const rows = await c.query<{ id: string; tx: string }>('select id, tx::text as tx from tenant.outbox order by id');
      expect(rows.rows.map((r) => [r.id, r.tx === '0'])).toEqual([
        ['evt_1', true],
        ['evt_2', false],
        ['evt_3', true],
      ]);

      // A copy (a move, a restore) brings another store's transaction id: the trigger replaces it with its own.
      await c.query('begin');
      await c.query(
        `insert into tenant.outbox (clinic_id, id, type, payload, tx) values ('cln_a', 'evt_4', 'patient.updated', '{}', '12345')`,
      );
      const copying = await c.query<{ tx: string }>('select pg_current_xact_id()::text as tx');
      await c.query('commit');
      const stored = await c.query<{ tx: string }>(`select tx::text as tx from tenant.outbox where id = 'evt_4'`);
      expect(stored.rows[0]!.tx).toBe(copying.rows[0]!.tx);
      expect(stored.rows[0]!.tx).not.toBe('12345');
    });
  });
});
