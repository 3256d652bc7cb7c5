import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { indexScans } from '../../test/support/explain.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * Intake as the clinic runs it: the admin writes a questionnaire that must ask what the clinic requires,
 * the front desk takes a patient's answers for an appointment but cannot read them back, clinicians read
 * them, and a missing required answer is refused by name.
 */
let t: TestPlatform;
let c: SchedulingClinic;
let appointmentId: string;
let questionnaireId: string;

const ITEMS = [
  { key: 'reasonForVisit', label: 'What brings you in?', type: 'text' },
  { key: 'allergies', label: 'Allergies', type: 'long_text' },
  { key: 'consentToTelehealth', label: 'I consent to a video visit', type: 'boolean' },
  { key: 'smoker', label: 'Do you smoke?', type: 'single_choice', options: ['never', 'former', 'current'] },
  { key: 'symptoms', label: 'Symptoms', type: 'multiple_choice', options: ['fever', 'cough', 'headache'] },
  { key: 'onset', label: 'Since when?', type: 'date' },
];
const ANSWERS = {
  reasonForVisit: 'cough for a week',
  allergies: 'penicillin',
  consentToTelehealth: true,
  smoker: 'never',
  symptoms: ['cough'],
  onset: '2024-01-05',
};

beforeAll(async () => {
  t = await startTestPlatform();
  c = await schedulingClinic(t);
  const booked = await c.as(c.scheduler)(
    'POST',
    'appointments',
    { providerId: c.providerId, patientId: c.patientId, appointmentType: 'consultation', startsAt: utcAt(2, '10:00') },
    { 'idempotency-key': 'intake-appointment' },
  );
  appointmentId = booked.json().id;
});
afterAll(() => t?.close());
afterEach(() => vi.restoreAllMocks());

describe('questionnaires', () => {
  it('must ask every field the clinic requires', async () => {
    const res = await c.as(c.admin)('POST', 'questionnaires', { title: 'Intake', items: ITEMS.filter((i) => i.key !== 'allergies') });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'intake_required_field_missing', field: 'allergies' });
    expect(res.json().detail).toContain('allergies');
  });

  it('are made by clinic admins; required fields are required whatever the item says', async () => {
    expect((await c.as(c.physician)('POST', 'questionnaires', { title: 'Intake', items: ITEMS })).statusCode).toBe(403);
    const res = await c.as(c.admin)('POST', 'questionnaires', { title: 'General intake', items: ITEMS });
    expect(res.statusCode).toBe(201);
    questionnaireId = res.json().id;
    const required = Object.fromEntries(res.json().items.map((i: { key: string; required: boolean }) => [i.key, i.required]));
    expect(required).toEqual({
      reasonForVisit: true,
      allergies: true,
      consentToTelehealth: true,
      smoker: false,
      symptoms: false,
      onset: false,
    });
    // Whoever takes or reads intake may read the questionnaire.
    expect((await c.as(c.scheduler)('GET', `questionnaires/${questionnaireId}`)).statusCode).toBe(200);
    expect((await c.as(c.nurse)('GET', 'questionnaires')).json().items).toHaveLength(1);
  });

  it('refuse repeated keys and choice items without options', async () => {
    const dup = await c.as(c.admin)('POST', 'questionnaires', { title: 'X', items: [...ITEMS, ITEMS[0]] });
    expect([dup.statusCode, dup.json().code]).toEqual([400, 'questionnaire_duplicate_key']);
    const noOptions = await c.as(c.admin)('POST', 'questionnaires', {
      title: 'X',
      items: [...ITEMS, { key: 'mood', label: 'Mood', type: 'single_choice' }],
    });
    expect([noOptions.statusCode, noOptions.json().code]).toEqual([400, 'questionnaire_item_invalid']);
  });

  it('update with optimistic concurrency', async () => {
    const body = { title: 'General intake (2)', items: ITEMS, version: 1 };
    const res = await c.as(c.admin)('PUT', `questionnaires/${questionnaireId}`, body);
    expect(res.json()).toMatchObject({ title: 'General intake (2)', version: 2 });
    expect((await c.as(c.admin)('PUT', `questionnaires/${questionnaireId}`, body)).json().code).toBe('version_conflict');
  });
});

describe('intake responses', () => {
  const submit = (answers: object, token = c.scheduler, id = appointmentId) =>
    c.as(token)('POST', `appointments/${id}/intake-responses`, { questionnaireId, answers });

  it('a scheduler takes the answers but cannot read them back; clinicians can', async () => {
    const res = await submit(ANSWERS);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ appointmentId, patientId: c.patientId, questionnaireId, questionnaireVersion: 2, answers: ANSWERS });
    const list = `appointments/${appointmentId}/intake-responses`;
    expect((await c.as(c.scheduler)('GET', list)).statusCode).toBe(403);
    expect((await c.as(c.scheduler)('GET', `${list}/${res.json().id}`)).statusCode).toBe(403);
    expect((await c.as(c.admin)('GET', list)).statusCode).toBe(403); // administration is not clinical care
    const read = await c.as(c.physician)('GET', list);
    expect(read.statusCode).toBe(200);
    expect(read.json().items.map((r: { id: string }) => r.id)).toEqual([res.json().id]);
    expect((await c.as(c.nurse)('GET', `${list}/${res.json().id}`)).json().answers).toEqual(ANSWERS);

    const events = await t.p.stores.transaction(c.clinic.id, 'read', (s) =>
      s.db.selectFrom('outbox').select('payload').where('type', '=', 'intake.submitted').execute(),
    );
    expect(events.map((e) => e.payload)).toEqual([{ appointmentId, responseId: res.json().id, questionnaireId }]);
  });

  it('leaves an audit record of each access to the answers, and of the refused one', async () => {
    const trail = (await c.as(c.admin)('GET', 'audit-events?limit=200')).json().items as {
      action: string;
      outcome: string;
      actorRole: string | null;
      resourceType: string;
      patientId: string | null;
    }[];
    const intake = trail
      .filter((e) => e.resourceType === 'IntakeResponse')
      .map((e) => `${e.action} ${e.outcome} ${e.actorRole} ${e.patientId === c.patientId}`);
    expect(intake).toEqual(
      expect.arrayContaining([
        'create success scheduler true',
        'search denied scheduler false',
        'read denied scheduler false',
        'read success physician true',
        'read success nurse true',
      ]),
    );
    expect(trail.some((e) => e.resourceType === 'Appointment' && e.action === 'create' && e.patientId === c.patientId)).toBe(true);
  });

  it('refuses a response without a required answer, naming the field', async () => {
    const { allergies: _a, ...withoutAllergies } = ANSWERS;
    const res = await submit(withoutAllergies);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'intake_required_field_missing', field: 'allergies', fields: ['allergies'] });
    const blank = await submit({ ...ANSWERS, reasonForVisit: '   ', allergies: null });
    expect(blank.json()).toMatchObject({ code: 'intake_required_field_missing', fields: ['reasonForVisit', 'allergies'] });
    // An optional item may be left out or null.
    expect((await submit({ ...ANSWERS, smoker: null, symptoms: undefined })).statusCode).toBe(201);
  });

  it('refuses unknown items and answers of the wrong type', async () => {
    const cases: [object, string, string][] = [
      [{ ...ANSWERS, shoeSize: 42 }, 'intake_unknown_field', 'shoeSize'],
      [{ ...ANSWERS, consentToTelehealth: 'yes' }, 'intake_answer_invalid', 'consentToTelehealth'],
      [{ ...ANSWERS, smoker: 'sometimes' }, 'intake_answer_invalid', 'smoker'],
      [{ ...ANSWERS, symptoms: ['cough', 'cough'] }, 'intake_answer_invalid', 'symptoms'],
      [{ ...ANSWERS, onset: '2024-02-30' }, 'intake_answer_invalid', 'onset'],
    ];
    for (const [answers, code, field] of cases) {
      const res = await submit(answers);
      expect([res.statusCode, res.json().code, res.json().field]).toEqual([400, code, field]);
    }
  });

  it('checks the clinic’s required fields as they are now, not as they were', async () => {
    const real = t.p.settings.effectiveFor.bind(t.p.settings);
    vi.spyOn(t.p.settings, 'effectiveFor').mockImplementation(async (id: string, providerId?: string) => {
      const s = await real(id, providerId);
      return { ...s, intake: { requiredFields: [...s.intake.requiredFields, 'insurance'] } };
    });
    const res = await submit(ANSWERS);
    expect(res.json()).toMatchObject({ code: 'intake_required_field_missing', field: 'insurance' });
    const update = await c.as(c.admin)('PUT', `questionnaires/${questionnaireId}`, { title: 'X', items: ITEMS });
    expect(update.json()).toMatchObject({ code: 'intake_required_field_missing', field: 'insurance' });
  });

  it('are attached to open appointments of this clinic only', async () => {
    expect((await submit(ANSWERS, c.scheduler, 'apt_00000000000000000000000000')).json().code).toBe('appointment_not_found');
    const unknownQ = await c.as(c.scheduler)('POST', `appointments/${appointmentId}/intake-responses`, {
      questionnaireId: 'qst_00000000000000000000000000',
      answers: ANSWERS,
    });
    expect(unknownQ.json().code).toBe('questionnaire_not_found');
    const other = await c.as(c.scheduler)(
      'POST',
      'appointments',
      { providerId: c.providerId, patientId: c.patientId, appointmentType: 'consultation', startsAt: utcAt(2, '14:00') },
      { 'idempotency-key': 'intake-cancelled' },
    );
    await c.as(c.scheduler)('POST', `appointments/${other.json().id}/cancel`, { reasonCode: 'patient_request' });
    const closed = await submit(ANSWERS, c.scheduler, other.json().id);
    expect([closed.statusCode, closed.json().code]).toEqual([409, 'appointment_closed']);
  });
});

/**
 * Appointments are not partitioned by time (docs/scaling.md, "Partitioning", says why: the seat rule is an
 * exclusion constraint PostgreSQL cannot hold on a partitioned table, and five tables reference an appointment
 * by `(clinic_id, id)`). What bounds a clinic's month instead is the `(clinic_id, starts_at, id)` index: the
 * month-bounded read the front desk makes is one range of it, in every placement, with the clinic taken from
 * the RLS pin (pooled) as much as from the store (schema, database). It lives here because this file already
 * runs a platform with a booked clinic (a platform of its own costs CI more than the test).
 */
describe('a clinic’s month of appointments', () => {
  it.each(PLACEMENT_MODELS)('is one range of the clinic-leading time index (%s)', async (placement) => {
    const x = placement === 'pooled' ? c : await schedulingClinic(t, { placement });
    const booked = await x.as(x.scheduler)(
      'POST',
      'appointments',
      { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt: utcAt(3, '11:00') },
      { 'idempotency-key': `month-${placement}` },
    );
    expect(booked.statusCode, booked.body).toBe(201);
    const at = new Date(booked.json().startsAt as string);
    const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
    const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
    const [plan, rows] = await t.p.stores.transaction(x.clinic.id, 'read', async (s) => {
      // A test store is a few rows, which a sequential scan reads fastest; a real one is not.
      await sql`set local enable_seqscan = off`.execute(s.db);
      const month = sql`select * from appointments where starts_at >= ${from} and starts_at < ${to} order by starts_at, id`;
      const explained = await sql<{ 'QUERY PLAN': unknown }>`explain (format json) ${month}`.execute(s.db);
      return [explained.rows[0]!['QUERY PLAN'], (await month.execute(s.db)).rows] as const;
    });
    expect(rows.map((r) => (r as { id: string }).id)).toContain(booked.json().id);
    const scans = indexScans(plan);
    expect(scans.map((s) => s.index)).toEqual(['appointments_by_time']);
    // Both bounds sit in the index condition: the clinic's slice, then the month inside it.
    expect(scans[0]!.cond).toMatch(/clinic_id = /);
    expect(scans[0]!.cond).toMatch(/starts_at >= .*starts_at < /);
  });
});
