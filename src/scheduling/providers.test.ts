import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * Providers, their hours and the slot search over HTTP: who may be a provider, who manages them, what
 * hours are refused, and that slots follow hours, overrides and the viewer's zone.
 */
let t: TestPlatform;
let c: SchedulingClinic;

beforeAll(async () => {
  t = await startTestPlatform();
  c = await schedulingClinic(t);
});
afterAll(() => t?.close());

describe('providers', () => {
  it('a clinic admin makes a physician or a nurse a provider, nobody else', async () => {
    const nurse = await t.staff(c.clinic.id, 'nurse');
    const input = { userId: nurse.userId, specialty: 'triage', licenceJurisdictions: ['DE'], timeZone: 'Europe/Berlin' };
    expect((await c.as(c.physician)('POST', 'providers', input)).statusCode).toBe(403);
    const created = await c.as(c.admin)('POST', 'providers', input);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      userId: nurse.userId,
      displayName: 'nurse',
      specialty: 'triage',
      timeZone: 'Europe/Berlin',
      active: true,
    });
    expect((await c.as(c.admin)('POST', 'providers', input)).json().code).toBe('provider_exists');

    const scheduler = await t.staff(c.clinic.id, 'scheduler');
    const notClinical = await c.as(c.admin)('POST', 'providers', { ...input, userId: scheduler.userId });
    expect([notClinical.statusCode, notClinical.json().code]).toEqual([400, 'provider_role_not_clinical']);
    // A clinic's own role counts by the base role it derives from: derived from nurse, clinical; from scheduler, not.
    for (const [key, baseRole, status] of [
      ['triage_nurse', 'nurse', 201],
      ['desk_lead', 'scheduler', 400],
    ] as const) {
      const role = await c.as(c.admin)('POST', 'roles', { key, name: key, baseRole, add: [], remove: [] });
      expect(role.statusCode).toBe(201);
      const member = await t.staff(c.clinic.id, key);
      expect((await c.as(c.admin)('POST', 'providers', { ...input, userId: member.userId })).statusCode).toBe(status);
    }
    const elsewhere = await t.clinic({ placement: 'pooled' });
    const stranger = await t.staff(elsewhere.id, 'physician');
    const notMember = await c.as(c.admin)('POST', 'providers', { ...input, userId: stranger.userId });
    expect([notMember.statusCode, notMember.json().code]).toEqual([400, 'provider_not_member']);

    const outbox = await t.p.stores.transaction(c.clinic.id, 'read', (s) =>
      s.db.selectFrom('outbox').select('payload').where('type', '=', 'provider.created').execute(),
    );
    expect(outbox.map((r) => r.payload)).toContainEqual({ providerId: created.json().id, userId: nurse.userId });
  });

  it('refuses unknown time zones and malformed licences', async () => {
    const doc = await t.staff(c.clinic.id, 'physician');
    const base = { userId: doc.userId, specialty: 'cardiology', licenceJurisdictions: ['US-NY'], timeZone: 'America/New_York' };
    const zone = await c.as(c.admin)('POST', 'providers', { ...base, timeZone: 'America/Gotham' });
    expect([zone.statusCode, zone.json().code]).toEqual([400, 'unknown_time_zone']);
    expect((await c.as(c.admin)('POST', 'providers', { ...base, timeZone: '+02:00' })).json().code).toBe('unknown_time_zone');
    const licence = await c.as(c.admin)('POST', 'providers', { ...base, licenceJurisdictions: ['new york'] });
    expect([licence.statusCode, licence.json().code]).toEqual([400, 'validation_failed']);
    expect((await c.as(c.admin)('POST', 'providers', { ...base, licenceJurisdictions: [] })).statusCode).toBe(400);
    const ok = await c.as(c.admin)('POST', 'providers', { ...base, timeZone: 'asia/kolkata' });
    expect(ok.json().timeZone).toBe('Asia/Kolkata');
  });

  it('lists, reads and updates providers; everyone on staff reads them', async () => {
    const list = await c.as(c.scheduler)('GET', 'providers?limit=1');
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(list.json().nextCursor).toMatch(/^prv_/);
    const next = await c.as(c.scheduler)('GET', `providers?limit=50&cursor=${list.json().nextCursor}`);
    expect(next.json().items.length).toBeGreaterThan(0);
    expect((await c.as(c.nurse)('GET', `providers/${c.providerId}`)).json().id).toBe(c.providerId);

    const patched = await c.as(c.admin)('PATCH', `providers/${c.providerId}`, { specialty: 'family medicine', version: 1 });
    expect(patched.json()).toMatchObject({ specialty: 'family medicine', version: 2 });
    expect((await c.as(c.admin)('PATCH', `providers/${c.providerId}`, { specialty: 'x', version: 1 })).json().code).toBe(
      'version_conflict',
    );
    expect((await c.as(c.admin)('PATCH', `providers/${c.providerId}`, { timeZone: 'Atlantis' })).json().code).toBe('unknown_time_zone');
    expect((await c.as(c.scheduler)('PATCH', `providers/${c.providerId}`, { specialty: 'x' })).statusCode).toBe(403);
  });

  it('an inactive provider offers no slots and takes no bookings', async () => {
    const x = await schedulingClinic(t);
    await x.as(x.admin)('PATCH', `providers/${x.providerId}`, { active: false });
    const slots = await x.as(x.scheduler)('GET', `providers/${x.providerId}/slots?type=consultation`);
    expect([slots.statusCode, slots.json().code]).toEqual([409, 'provider_inactive']);
    const res = await x.as(x.scheduler)(
      'POST',
      'appointments',
      { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt: utcAt(2, '10:00') },
      { 'idempotency-key': 'inactive-1' },
    );
    expect(res.json().code).toBe('provider_inactive');
  });

  it('a provider who no longer holds a clinical role takes no booking, and that answer wins over the slot check', async () => {
    const x = await schedulingClinic(t);
    const physician = await x.as(x.admin)('GET', `providers/${x.providerId}`);
    // The control plane changes under the clinic's store: the member is now a scheduler.
    await sql`update memberships set role = 'scheduler' where clinic_id = ${x.clinic.id} and user_id = ${physician.json().userId}`.execute(
      t.p.control,
    );
    const attempt = (startsAt: string, key: string) =>
      x.as(x.scheduler)(
        'POST',
        'appointments',
        { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt },
        { 'idempotency-key': key },
      );
    const free = await attempt(utcAt(2, '10:00'), 'lost-role-1');
    expect([free.statusCode, free.json().code]).toEqual([409, 'provider_inactive']);
    // Off the slot grid as well: the provider's refusal is the answer, not the grid's.
    const offGrid = await attempt(utcAt(2, '10:07'), 'lost-role-2');
    expect([offGrid.statusCode, offGrid.json().code]).toEqual([409, 'provider_inactive']);
    // The write that ran beside the control plane's question was rolled back.
    const list = await x.as(x.scheduler)('GET', `appointments?providerId=${x.providerId}`);
    expect(list.json().items).toEqual([]);
  });

  it('a role taken away or given back through the API counts at the next booking, on every node, though bookings cache the answer', async () => {
    const x = await schedulingClinic(t);
    const physician = (await x.as(x.admin)('GET', `providers/${x.providerId}`)).json().userId as string;
    const node2 = await t.secondNode();
    let n = 0;
    // Bookings on the second node: its cache of who is a clinician is what this test is about.
    const bookOn2 = async () => {
      n++;
      const res = await node2.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${x.clinic.id}/appointments`,
        headers: { authorization: `Bearer ${x.scheduler}`, 'idempotency-key': `cached-role-${n}` },
        payload: {
          providerId: x.providerId,
          patientId: x.patientId,
          appointmentType: 'consultation',
          startsAt: utcAt(2 + Math.floor(n / 10), `${String(8 + (n % 10)).padStart(2, '0')}:00`),
        },
      });
      return [res.statusCode, res.json().code];
    };
    // Well inside the cache's 5 s: only the invalidation explains a changed answer.
    const eventually = async (want: unknown[]) => {
      const until = Date.now() + 1000;
      let got = await bookOn2();
      while (Date.now() < until && JSON.stringify(got) !== JSON.stringify(want)) got = await bookOn2();
      return got;
    };
    try {
      expect(await bookOn2()).toEqual([201, undefined]);
      expect((await x.as(x.admin)('PATCH', `members/${physician}`, { role: 'scheduler' })).statusCode).toBe(200);
      expect(await eventually([409, 'provider_inactive'])).toEqual([409, 'provider_inactive']);
      expect((await x.as(x.admin)('PATCH', `members/${physician}`, { role: 'physician' })).statusCode).toBe(200);
      expect(await eventually([201, undefined])).toEqual([201, undefined]);
      expect((await x.as(x.admin)('DELETE', `members/${physician}`)).statusCode).toBe(204);
      expect(await eventually([409, 'provider_inactive'])).toEqual([409, 'provider_inactive']);
    } finally {
      await node2.stop();
    }
  });
});

describe('availability', () => {
  const weekly = (windows: object[]) => c.as(c.admin)('PUT', `providers/${c.providerId}/availability/weekly`, { windows });

  it('refuses overlapping windows on one weekday, and windows that end before they start', async () => {
    const overlap = await weekly([
      { weekday: 'monday', start: '09:00', end: '12:00' },
      { weekday: 'monday', start: '11:30', end: '14:00' },
    ]);
    expect(overlap.statusCode).toBe(400);
    expect(overlap.json()).toMatchObject({ code: 'availability_overlap', day: 'monday' });
    const backwards = await weekly([{ weekday: 'tuesday', start: '17:00', end: '09:00' }]);
    expect([backwards.statusCode, backwards.json().code]).toEqual([400, 'invalid_window']);
    const badTime = await weekly([{ weekday: 'tuesday', start: '9am', end: '17:00' }]);
    expect([badTime.statusCode, badTime.json().code]).toEqual([400, 'validation_failed']);
    const badDay = await weekly([{ weekday: 'funday', start: '09:00', end: '17:00' }]);
    expect(badDay.statusCode).toBe(400);
    // The refused changes left the hours as they were.
    const hours = (await c.as(c.scheduler)('GET', `providers/${c.providerId}/availability`)).json();
    expect(hours.weekly).toHaveLength(7);
  });

  it('replaces the week; touching windows and other weekdays are fine', async () => {
    const res = await weekly([
      { weekday: 'monday', start: '09:00', end: '12:00' },
      { weekday: 'monday', start: '12:00', end: '17:00' },
      { weekday: 'tuesday', start: '11:00', end: '24:00' },
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json().weekly.map((w: { weekday: string; start: string; end: string }) => `${w.weekday} ${w.start}-${w.end}`)).toEqual([
      'monday 09:00-12:00',
      'monday 12:00-17:00',
      'tuesday 11:00-24:00',
    ]);
    expect((await c.as(c.physician)('PUT', `providers/${c.providerId}/availability/weekly`, { windows: [] })).statusCode).toBe(403);
  });

  it('date overrides: a day off, a day with other hours, removed again', async () => {
    await weekly(
      ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((weekday) => ({
        weekday,
        start: '08:00',
        end: '18:00',
      })),
    );
    const date = utcAt(3, '00:00').slice(0, 10);
    const slots = async () =>
      (await c.as(c.scheduler)('GET', `providers/${c.providerId}/slots?type=follow-up&from=${date}&to=${date}`))
        .json()
        .slots.map((s: { local: string }) => s.local.slice(11, 16));
    expect(await slots()).toHaveLength(40); // 08:00 … 17:45, every 15 minutes

    const off = await c.as(c.admin)('PUT', `providers/${c.providerId}/availability/overrides/${date}`, { windows: [] });
    expect(off.statusCode).toBe(200);
    expect(off.json().overrides).toEqual([{ date, available: false, windows: [] }]);
    expect(await slots()).toEqual([]);

    await c.as(c.admin)('PUT', `providers/${c.providerId}/availability/overrides/${date}`, { windows: [{ start: '13:00', end: '14:00' }] });
    expect(await slots()).toEqual(['13:00', '13:15', '13:30', '13:45']);

    const overlap = await c.as(c.admin)('PUT', `providers/${c.providerId}/availability/overrides/${date}`, {
      windows: [
        { start: '13:00', end: '14:00' },
        { start: '13:30', end: '15:00' },
      ],
    });
    expect([overlap.statusCode, overlap.json().code]).toEqual([400, 'availability_overlap']);

    expect((await c.as(c.admin)('DELETE', `providers/${c.providerId}/availability/overrides/${date}`)).statusCode).toBe(204);
    expect(await slots()).toHaveLength(40);
    expect((await c.as(c.admin)('DELETE', `providers/${c.providerId}/availability/overrides/${date}`)).json().code).toBe(
      'availability_override_not_found',
    );

    const events = await t.p.stores.transaction(c.clinic.id, 'read', (s) =>
      s.db.selectFrom('outbox').select('id').where('type', '=', 'availability.changed').execute(),
    );
    expect(events.length).toBeGreaterThanOrEqual(4);
  });

  it('refuses an override on a date that does not exist', async () => {
    for (const date of ['2030-02-30', '2030-13-01', 'tomorrow']) {
      const res = await c.as(c.admin)('PUT', `providers/${c.providerId}/availability/overrides/${date}`, { windows: [] });
      expect([date, res.statusCode, res.json().code]).toEqual([date, 400, 'invalid_date']);
    }
  });
});

describe('slot search', () => {
  it('rounds on the viewer’s grid: Asia/Kolkata sees :00/:15/:30/:45 in its own clock', async () => {
    const date = utcAt(4, '00:00').slice(0, 10);
    const res = await c.as(c.scheduler)(
      'GET',
      `providers/${c.providerId}/slots?type=consultation&from=${date}T08:00:00Z&to=${date}T10:00:00Z&tz=Asia/Kolkata`,
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ timeZone: 'Asia/Kolkata', durationMinutes: 30, appointmentType: 'consultation' });
    expect(body.slots[0]).toMatchObject({ startsAt: `${date}T08:00:00.000Z`, local: `${date}T13:30:00+05:30`, seatsLeft: 1 });
    expect(
      body.slots.every((s: { local: string }) => s.local.endsWith('+05:30') && ['00', '15', '30', '45'].includes(s.local.slice(14, 16))),
    ).toBe(true);
  });

  it('takes local dates as bounds in the viewer’s zone', async () => {
    const date = utcAt(4, '00:00').slice(0, 10);
    const res = await c.as(c.scheduler)('GET', `providers/${c.providerId}/slots?type=consultation&from=${date}&to=${date}&tz=Asia/Kolkata`);
    expect(res.json().from).toBe(new Date(Date.parse(`${date}T00:00:00+05:30`)).toISOString());
    expect(res.json().to).toBe(new Date(Date.parse(`${date}T00:00:00+05:30`) + 86_400_000).toISOString());
  });

  it('refuses bad searches with clear codes', async () => {
    const get = async (q: string) => {
      const res = await c.as(c.scheduler)('GET', `providers/${c.providerId}/slots?${q}`);
      return [res.statusCode, res.json().code];
    };
    expect(await get('type=consultation&tz=Mars/Base')).toEqual([400, 'unknown_time_zone']);
    expect(await get('type=spa-day')).toEqual([400, 'unknown_appointment_type']);
    expect(await get('type=consultation&from=2030-02-30')).toEqual([400, 'validation_failed']);
    expect(await get('type=consultation&from=2030-03-10&to=2030-03-01')).toEqual([400, 'invalid_range']);
    expect(await get('type=consultation&from=2030-01-01&to=2030-06-01')).toEqual([400, 'range_too_long']);
    expect(await get('from=2030-01-01')).toEqual([400, 'validation_failed']);
  });

  it('lists the clinic’s appointment types from its settings', async () => {
    const res = await c.as(c.scheduler)('GET', 'appointment-types');
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((x: { key: string }) => x.key)).toEqual(['consultation', 'follow-up', 'in-person-exam']);
    expect(res.json().items[0]).toMatchObject({ durationMinutes: 30, bufferAfterMinutes: 5, minimumNoticeMinutes: 120, modality: 'video' });
  });
});
