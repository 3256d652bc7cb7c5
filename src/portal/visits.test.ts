import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';
import { openPortal, portalPatient, type PortalPatient } from '../../test/support/portal.js';

/**
 * The portal's visits as a patient uses them: booking only what the clinic offers online, on scheduling's rules
 * (notice, window, buffers), moving and cancelling until the clinic's cancellation notice, the intake before the
 * visit, and after it only what the provider released.
 */
let t: TestPlatform;
let c: SchedulingClinic;
let ada: PortalPatient;

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  c = await schedulingClinic(t);
  await openPortal(c);
  ada = await portalPatient(t, c, 'ada@patients.test');
});
afterAll(() => t?.close());
afterEach(() => vi.restoreAllMocks());

const book = (p: PortalPatient, startsAt: string, appointmentType = 'consultation', key?: string) =>
  p.call('POST', 'visits', { providerId: c.providerId, appointmentType, startsAt }, key ? { 'idempotency-key': key } : {});

describe('booking online', () => {
  it('offers only the types the clinic exposes online, and books on the clinic’s rules', async () => {
    const options = (await ada.call('GET', 'booking-options')).json();
    expect(options.appointmentTypes.map((x: { key: string }) => x.key)).toEqual(['consultation']);
    expect(options.providers.map((x: { id: string }) => x.id)).toContain(c.providerId);

    const notOnline = await book(ada, utcAt(3, '09:00'), 'follow-up');
    expect([notOnline.statusCode, notOnline.json().code]).toEqual([400, 'unknown_appointment_type']);
    const slotsOffline = await ada.call('GET', `slots?providerId=${c.providerId}&type=in-person-exam`);
    expect(slotsOffline.statusCode).toBe(400);

    const soon = new Date(Math.ceil((Date.now() + 30 * 60_000) / 900_000) * 900_000).toISOString();
    expect((await book(ada, soon)).json().code).toBe('minimum_notice_not_met');
    expect((await book(ada, utcAt(70, '10:00'))).json().code).toBe('beyond_booking_window');

    const booked = await book(ada, utcAt(3, '10:00'), 'consultation', 'portal-key-1');
    expect(booked.statusCode, booked.body).toBe(201);
    expect(booked.json()).toMatchObject({ patientId: ada.patientId, bookedBy: expect.stringMatching(/^pac_/) });
    // A retry books once.
    const again = await book(ada, utcAt(3, '10:00'), 'consultation', 'portal-key-1');
    expect(again.json().id).toBe(booked.json().id);
    // The 5-minute buffer after a consultation keeps 10:30 free of another one.
    const day = utcAt(3, '00:00').slice(0, 10);
    const slots = (await ada.call('GET', `slots?providerId=${c.providerId}&type=consultation&from=${day}&to=${day}`)).json().slots as {
      startsAt: string;
    }[];
    const starts = slots.map((s) => s.startsAt);
    expect(starts).toContain(`${day}T10:45:00.000Z`);
    expect(starts).not.toContain(`${day}T10:30:00.000Z`);
    expect((await book(ada, `${day}T10:30:00Z`)).statusCode).toBe(409);

    const visits = (await ada.call('GET', 'visits')).json();
    expect(visits.upcoming).toEqual([
      expect.objectContaining({ id: booked.json().id, appointmentTypeName: 'Consultation', modality: 'video', changeable: true }),
    ]);
  });
});

describe('moving and cancelling', () => {
  it('works until the clinic’s cancellation notice, then the patient is told to call', async () => {
    const visit = (await book(ada, utcAt(4, '11:00'))).json();
    const moved = await ada.call('POST', `visits/${visit.id}/reschedule`, { startsAt: utcAt(4, '12:00') });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().startsAt).toBe(new Date(utcAt(4, '12:00')).toISOString());

    // The same visit with a notice longer than the time left.
    const real = t.p.settings.effectiveFor.bind(t.p.settings);
    vi.spyOn(t.p.settings, 'effectiveFor').mockImplementation(async (id: string, prv?: string) => {
      const s = await real(id, prv);
      return { ...s, portal: { ...s.portal, cancellationNoticeHours: 24 * 7 } };
    });
    const late = await ada.call('POST', `visits/${visit.id}/cancel`, {});
    expect([late.statusCode, late.json().code, late.json().noticeHours]).toEqual([409, 'cancellation_notice_passed', 168]);
    expect((await ada.call('POST', `visits/${visit.id}/reschedule`, { startsAt: utcAt(4, '13:00') })).statusCode).toBe(409);
    expect((await ada.call('GET', 'visits')).json().upcoming.find((v: { id: string }) => v.id === visit.id).changeable).toBe(false);
    vi.restoreAllMocks();

    const cancelled = await ada.call('POST', `visits/${visit.id}/cancel`, { note: 'feeling better' });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', cancellation: { reasonCode: 'patient_request' } });
    expect((await ada.call('GET', 'visits')).json().past.map((v: { id: string }) => v.id)).toContain(visit.id);
  });
});

describe('intake and the released summary', () => {
  it('the patient fills the intake before the visit, and reads after it only the parts the provider released', async () => {
    const q = await c.as(c.admin)('POST', 'questionnaires', {
      title: 'Before your visit',
      items: [
        { key: 'reasonForVisit', label: 'Why are you coming?', type: 'long_text', required: true },
        { key: 'allergies', label: 'Allergies', type: 'text' },
        { key: 'consentToTelehealth', label: 'I agree to a video visit', type: 'boolean', required: true },
      ],
    });
    expect(q.statusCode, q.body).toBe(201);
    const visit = (await book(ada, utcAt(5, '09:00'))).json();
    const intake = await ada.call('GET', `visits/${visit.id}/intake`);
    expect(intake.json()).toMatchObject({ questionnaire: { id: q.json().id }, responses: [] });
    const sent = await ada.call('POST', `visits/${visit.id}/intake`, {
      questionnaireId: q.json().id,
      answers: { reasonForVisit: 'A cough', allergies: 'none', consentToTelehealth: true },
    });
    expect(sent.statusCode, sent.body).toBe(201);
    expect((await ada.call('GET', 'visits')).json().upcoming.find((v: { id: string }) => v.id === visit.id).intakeSubmitted).toBe(true);

    const doctor = (await c.as(c.admin)('GET', `providers/${c.providerId}`)).json().userId as string;
    const encounter = await c.as(c.physician)('POST', 'encounters', {
      patientId: ada.patientId,
      providerId: doctor,
      appointmentId: visit.id,
      reason: 'Cough',
    });
    expect(encounter.statusCode, encounter.body).toBe(201);
    const e = encounter.json().id as string;
    expect(
      (await c.as(c.physician)('POST', `encounters/${e}/diagnoses`, { code: 'J20.9', description: 'Acute bronchitis', rank: 'primary' }))
        .statusCode,
    ).toBe(201);
    const rx = await c.as(c.physician)('POST', `encounters/${e}/prescriptions`, {
      drug: 'Amoxicillin',
      dose: { amount: 500, unit: 'mg' },
      route: 'oral',
      frequency: 'tid',
      quantity: { value: 21, unit: 'tablet' },
      refills: 0,
    });
    expect(rx.statusCode, rx.body).toBe(201);

    expect((await ada.call('GET', `visits/${visit.id}/summary`)).json().code).toBe('summary_not_found');
    const release = await c.as(c.physician)('POST', `encounters/${e}/summary-release`, {
      parts: ['diagnoses'],
      message: 'Rest and drink water.',
    });
    expect(release.statusCode, release.body).toBe(200);
    // A scheduler may not release: it is the clinician's (encounter.write).
    expect((await c.as(c.scheduler)('POST', `encounters/${e}/summary-release`, { parts: [] })).statusCode).toBe(403);

    const summary = await ada.call('GET', `visits/${visit.id}/summary`);
    expect(summary.statusCode, summary.body).toBe(200);
    expect(summary.json()).toMatchObject({
      parts: ['diagnoses'],
      message: 'Rest and drink water.',
      diagnoses: [{ code: 'J20.9', description: 'Acute bronchitis', rank: 'primary' }],
    });
    expect(summary.json().prescriptions).toBeUndefined();
  });
});

describe('the video visit and its notices', () => {
  it('a booked video visit is joined from the portal by its own patient only, and is confirmed and reminded like any other', async () => {
    const booked = await book(ada, utcAt(4, '11:00'), 'consultation', 'portal-video-1');
    expect(booked.statusCode, booked.body).toBe(201);
    const id = booked.json().id as string;

    const join = await ada.call('POST', `visits/${id}/video/join`);
    expect(join.statusCode, join.body).toBe(200);
    expect(join.json()).toMatchObject({ appointmentId: id, participantId: ada.patientId, role: 'patient', clinicId: c.clinic.id });
    const bob = await portalPatient(t, c, 'bob@patients.test');
    const refused = await bob.call('POST', `visits/${id}/video/join`);
    expect([refused.statusCode, refused.json().code]).toEqual([404, 'appointment_not_found']);

    // Booked in the portal, the visit gets the front desk's notices: reminders wait for their time as jobs.
    const jobs = await t.p.control.selectFrom('jobs').select('key').where('clinic_id', '=', c.clinic.id).execute();
    expect(jobs.map((j) => j.key)).toEqual(expect.arrayContaining([`reminder-24h:${id}`, `reminder-1h:${id}`]));
    await ada.call('POST', `visits/${id}/cancel`, {});
    const left = await t.p.control.selectFrom('jobs').select('key').where('key', 'like', `reminder%:${id}`).execute();
    expect(left).toEqual([]);
  });
});
