import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { SessionStore } from './sessions.js';

let t: TestPlatform;
let control: pg.Client;
beforeAll(async () => {
  t = await startTestPlatform();
  control = new pg.Client({ connectionString: t.p.config.controlDatabaseUrl });
  await control.connect();
});
afterAll(async () => {
  await control?.end();
  await t?.close();
});

/** A node's session store of its own (nothing cached yet), on the platform's control database and bus. */
const store = (maxEntries?: number) => new SessionStore(t.p.control, t.p.bus, 1, 5_000, maxEntries);

describe('cached sessions', () => {
  it('a session revoked while it was being read is not served from the cache afterwards', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const sessions = store();
    // The read finds the session live, then waits for the user's memberships, which another transaction holds.
    await control.query('begin; lock table memberships in access exclusive mode');
    let reading: Promise<unknown> | undefined;
    try {
      reading = sessions.resolve(doc.token);
      const waiting = async () =>
        (
          await control.query(
            `select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%memberships%' and pid <> pg_backend_pid()`,
          )
        ).rowCount;
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await waiting()).toBeGreaterThan(0);
      // Meanwhile the user signs out everywhere: committed, and this node forgets the user's sessions.
      await sessions.revokeAll(doc.userId);
    } finally {
      await control.query('commit');
    }
    // The read in flight is answered as it was read (it began before the revocation) ...
    expect(await reading).toMatchObject({ userId: doc.userId });
    // ... but not kept: the next request reads the revocation.
    expect(await sessions.resolve(doc.token)).toBeUndefined();
    sessions.close();
  });

  it('keep at most their bound: a full cache starts again, and what it dropped is read afresh', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const staff = [await t.staff(clinic.id, 'nurse'), await t.staff(clinic.id, 'nurse'), await t.staff(clinic.id, 'nurse')];
    const sessions = store(2);
    for (const s of staff) expect(await sessions.resolve(s.token)).toMatchObject({ userId: s.userId });
    // Revoked behind the node's back (no invalidation): only a principal still cached would be answered.
    await control.query('update sessions set revoked_at = now() where user_id = any($1)', [staff.map((s) => s.userId)]);
    expect(await sessions.resolve(staff[0]!.token)).toBeUndefined();
    // The last one read is cached still, as it should be for its few seconds.
    expect(await sessions.resolve(staff[2]!.token)).toMatchObject({ userId: staff[2]!.userId });
    sessions.close();
  });
});
