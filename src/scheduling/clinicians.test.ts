import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../platform/bus.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { ClinicalMembers } from './clinicians.js';

/** The cache of who is a clinician, against the real control plane: what it keeps, for how long, and what it forgets. */
let t: TestPlatform;
let clinicId: string;
let userId: string;
const setRole = (role: string) =>
  sql`update memberships set role = ${role} where clinic_id = ${clinicId} and user_id = ${userId}`.execute(t.p.control);

beforeAll(async () => {
  t = await startTestPlatform();
  clinicId = (await t.clinic({ placement: 'pooled' })).id;
  userId = (await t.staff(clinicId, 'physician')).userId;
});
afterAll(() => t?.close());

describe('ClinicalMembers', () => {
  it('answers from memory until the user is published as changed, and never longer than its lifetime', async () => {
    const bus = new InProcessBus();
    const members = new ClinicalMembers(t.p.control, bus, 300);
    try {
      expect((await members.get(clinicId, userId))?.role).toBe('physician');
      expect(await members.get('cln_elsewhere', userId)).toBeUndefined();
      await setRole('nurse');
      expect((await members.get(clinicId, userId))?.role).toBe('physician');
      await bus.publish('user-sessions', userId);
      expect((await members.get(clinicId, userId))?.role).toBe('nurse');
      await setRole('scheduler');
      await new Promise((r) => setTimeout(r, 350));
      expect((await members.get(clinicId, userId))?.role).toBe('scheduler');
      // Another user's change forgets nothing of this one.
      await setRole('physician');
      await bus.publish('user-sessions', 'usr_someone_else');
      expect((await members.get(clinicId, userId))?.role).toBe('scheduler');
    } finally {
      members.close();
      await setRole('physician');
    }
  });

  it('does not keep a read that was in flight when its user changed', async () => {
    const bus = new InProcessBus();
    const members = new ClinicalMembers(t.p.control, bus);
    try {
      const inFlight = members.get(clinicId, userId);
      await bus.publish('user-sessions', userId);
      expect((await inFlight)?.role).toBe('physician');
      await setRole('nurse');
      expect((await members.get(clinicId, userId))?.role).toBe('nurse');
    } finally {
      members.close();
      await setRole('physician');
    }
  });
});
