import { newId } from '../ids.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { moveClinic } from '../tenancy/move.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import {
  clinicFixture,
  diagnosisOk,
  prescriptionOk,
  signedNote,
  vitalsOk,
  type ClinicFixture,
  type Staff,
} from '../../test/support/clinical.js';

/**
 * The clinical record as a clinic lives it: who may read and write what, notes that freeze when signed (in the
 * API and in the database), vitals that must be plausible, ICD-10-CM codes, encounters that close, and the
 * events every change leaves in the outbox.
 */
let t: TestPlatform;
let f: ClinicFixture;
let scheduler: Staff;
let billing: Staff;
let admin: Staff;

beforeAll(async () => {
  t = await startTestPlatform();
  f = await clinicFixture(t, 'pooled');
  [scheduler, billing, admin] = await Promise.all([f.staff('scheduler'), f.staff('billing'), f.staff('clinic_admin')]);
});
afterAll(() => t?.close());

const enc = (id = f.encounterId) => `${f.url}/encounters/${id}`;
const outbox = (clinicId: string) =>
  t.p.stores.transaction(clinicId, 'read', (scope) =>
    scope.db.selectFrom('outbox').select(['type', 'payload', 'actor_id']).orderBy('id').execute(),
  );

describe('role rules', () => {
  it('a nurse records vitals and notes but cannot prescribe; a physician prescribes', async () => {
    expect((await f.nurse.call('POST', `${enc()}/vitals`, vitalsOk)).statusCode).toBe(201);
    expect((await f.nurse.call('POST', `${enc()}/notes`, { subjective: 'triage' })).statusCode).toBe(201);
    const denied = await f.nurse.call('POST', `${enc()}/prescriptions`, prescriptionOk);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('forbidden');
    const rx = await f.physician.call('POST', `${enc()}/prescriptions`, prescriptionOk);
    expect(rx.statusCode).toBe(201);
    expect(rx.json()).toMatchObject({
      prescriberId: f.physician.userId,
      dose: { amount: 500, unit: 'mg' },
      route: 'oral',
      refills: 0,
      patientId: f.patientId,
    });
    expect((await f.nurse.call('GET', `${enc()}/prescriptions`)).statusCode).toBe(200);
  });

  it('a scheduler reads no clinical record and writes none', async () => {
    for (const path of ['', '/notes', '/vitals', '/prescriptions', '/diagnoses']) {
      const res = await scheduler.call('GET', `${enc()}${path}`);
      expect(res.statusCode, path).toBe(403);
    }
    expect((await scheduler.call('GET', `${f.url}/encounters?patientId=${f.patientId}`)).statusCode).toBe(403);
    expect((await scheduler.call('POST', `${enc()}/vitals`, vitalsOk)).statusCode).toBe(403);
    expect(
      (await scheduler.call('POST', `${f.url}/encounters`, { patientId: f.patientId, providerId: f.physician.userId })).statusCode,
    ).toBe(403);
  });

  it('a clinic admin reads none; billing reads diagnoses only', async () => {
    for (const path of ['', '/notes', '/vitals', '/prescriptions', '/diagnoses']) {
      expect((await admin.call('GET', `${enc()}${path}`)).statusCode, `admin ${path}`).toBe(403);
      expect((await billing.call('GET', `${enc()}${path}`)).statusCode, `billing ${path}`).toBe(path === '/diagnoses' ? 200 : 403);
    }
  });

  it('the encounter carries every record kind the role may read', async () => {
    const res = await f.physician.call('GET', enc());
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json())).toEqual(expect.arrayContaining(['notes', 'vitals', 'prescriptions', 'diagnoses']));
    expect(res.json()).toMatchObject({ id: f.encounterId, patientId: f.patientId, providerId: f.physician.userId, status: 'open' });
  });
});

describe('encounters', () => {
  it('are described in the OpenAPI document', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json();
    const paths = Object.keys(doc.paths).filter((x) => x.includes('/encounters'));
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/v1/clinics/{clinicId}/encounters',
        '/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes/{noteId}/addenda',
        '/api/v1/clinics/{clinicId}/encounters/{encounterId}/vitals',
      ]),
    );
    expect(
      doc.paths['/api/v1/clinics/{clinicId}/encounters/{encounterId}/prescriptions'].post.requestBody.content['application/json'].schema
        .properties.route.enum,
    ).toContain('oral');
  });

  it('the provider must be a physician or nurse of this clinic', async () => {
    for (const providerId of [scheduler.userId, admin.userId, 'usr_0000000000aaaaaaaaaaaaaaaa']) {
      const res = await f.physician.call('POST', `${f.url}/encounters`, { patientId: f.patientId, providerId });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('provider_not_clinician');
    }
    const byNurse = await f.physician.call('POST', `${f.url}/encounters`, { patientId: f.patientId, providerId: f.nurse.userId });
    expect(byNurse.statusCode).toBe(201);
  });

  it('one encounter per appointment; the appointment must exist and be this patient\u2019s', async () => {
    // An appointment as scheduling stores it (provider, then appointment), written straight to the clinic's store.
    const appointmentId = newId('appointment');
    await t.p.stores.transaction(f.clinic.id, 'write', async (scope) => {
      const providerId = newId('provider');
      await scope.db
        .insertInto('providers')
        .values({
          clinic_id: f.clinic.id,
          id: providerId,
          user_id: f.physician.userId,
          display_name: 'Dr',
          specialty: 'gp',
          licence_jurisdictions: ['US-NY'],
          time_zone: 'America/New_York',
        })
        .execute();
      const at = new Date(Date.now() + 86_400_000);
      const end = new Date(at.getTime() + 1_800_000);
      await scope.db
        .insertInto('appointments')
        .values({
          clinic_id: f.clinic.id,
          id: appointmentId,
          provider_id: providerId,
          patient_id: f.patientId,
          appointment_type: 'consultation',
          modality: 'video',
          starts_at: at,
          ends_at: end,
          block_starts_at: at,
          block_ends_at: end,
          time_zone: 'America/New_York',
        })
        .execute();
    });
    const unknown = await f.physician.call('POST', `${f.url}/encounters`, {
      patientId: f.patientId,
      providerId: f.physician.userId,
      appointmentId: newId('appointment'),
    });
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'appointment_not_found']);
    const first = await f.physician.call('POST', `${f.url}/encounters`, {
      patientId: f.patientId,
      providerId: f.physician.userId,
      appointmentId,
    });
    expect(first.statusCode).toBe(201);
    expect(first.json().appointmentId).toBe(appointmentId);
    const second = await f.physician.call('POST', `${f.url}/encounters`, {
      patientId: f.patientId,
      providerId: f.physician.userId,
      appointmentId,
    });
    expect(second.statusCode).toBe(409);
    expect(second.json().code).toBe('appointment_has_encounter');
  });

  it('lists a patient\u2019s encounters newest first in keyset pages', async () => {
    const g = await clinicFixture(t, 'pooled');
    const ids = [g.encounterId];
    for (let i = 0; i < 4; i++) ids.push(await g.openEncounter());
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await g.physician.call('GET', `${g.url}/encounters?patientId=${g.patientId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().items.map((e: { id: string }) => e.id));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const bad = await g.physician.call('GET', `${g.url}/encounters?patientId=${g.patientId}&cursor=${f.encounterId}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('invalid_cursor');
    const unknown = await g.physician.call('GET', `${g.url}/encounters?patientId=pat_0000000000aaaaaaaaaaaaaaaa`);
    expect(unknown.json().code).toBe('patient_not_found');
  });

  it('a close racing new records: each record lands before the close or is refused', async () => {
    const id = await f.openEncounter();
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => f.nurse.call('POST', `${enc(id)}/vitals`, vitalsOk)),
      f.physician.call('POST', `${enc(id)}/close`),
      ...Array.from({ length: 6 }, () => f.nurse.call('POST', `${enc(id)}/vitals`, vitalsOk)),
    ]);
    const closed = results[6]!;
    expect(closed.statusCode).toBe(200);
    const accepted = results.filter((r, i) => i !== 6 && r.statusCode === 201);
    for (const r of results.filter((x, i) => i !== 6 && x.statusCode !== 201)) expect(r.json().code).toBe('encounter_closed');
    const stored = (await f.physician.call('GET', `${enc(id)}/vitals`)).json().items as { recordedAt: string }[];
    expect(stored).toHaveLength(accepted.length);
    for (const v of stored) expect(Date.parse(v.recordedAt)).toBeLessThanOrEqual(Date.parse(closed.json().closedAt));
  });

  it('closes only when every note is signed, then takes addenda only', async () => {
    const id = await f.openEncounter();
    const draft = await f.physician.call('POST', `${enc(id)}/notes`, { subjective: 'headache' });
    const blocked = await f.physician.call('POST', `${enc(id)}/close`);
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json()).toMatchObject({ code: 'unsigned_notes', unsignedNotes: 1 });
    expect((await f.physician.call('POST', `${enc(id)}/notes/${draft.json().id}/sign`)).statusCode).toBe(200);
    const closed = await f.physician.call('POST', `${enc(id)}/close`);
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ status: 'closed', closedBy: f.physician.userId });
    for (const [path, body] of [
      ['/notes', { plan: 'more' }],
      ['/vitals', vitalsOk],
      ['/prescriptions', prescriptionOk],
      ['/diagnoses', diagnosisOk],
    ] as const) {
      const res = await f.physician.call('POST', `${enc(id)}${path}`, body);
      expect(res.statusCode, path).toBe(409);
      expect(res.json().code, path).toBe('encounter_closed');
    }
    expect((await f.physician.call('POST', `${enc(id)}/close`)).json().code).toBe('encounter_closed');
    const addendum = await f.nurse.call('POST', `${enc(id)}/notes/${draft.json().id}/addenda`, { text: 'patient called: better' });
    expect(addendum.statusCode).toBe(201);
  });
});

describe('notes', () => {
  it('concurrent edits and signing: what was signed is what stays', async () => {
    const created = await f.physician.call('POST', `${enc()}/notes`, { subjective: 'v0' });
    const note = `${enc()}/notes/${created.json().id}`;
    const results = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => f.physician.call('PATCH', note, { subjective: `v${i + 1}` })),
      f.physician.call('POST', `${note}/sign`),
      ...Array.from({ length: 4 }, (_, i) => f.physician.call('PATCH', note, { subjective: `v${i + 5}` })),
    ]);
    const sign = results[4]!;
    expect(sign.statusCode).toBe(200);
    for (const r of results) expect([200, 409]).toContain(r.statusCode);
    for (const r of results.filter((x) => x.statusCode === 409)) expect(r.json().code).toBe('note_signed');
    const after = (await f.physician.call('GET', note)).json();
    expect({ subjective: after.subjective, version: after.version }).toEqual({
      subjective: sign.json().subjective,
      version: sign.json().version,
    });
  });

  it('only the author edits and signs a draft; a signed note answers 409 to edits and takes addenda', async () => {
    const created = await f.physician.call('POST', `${enc()}/notes`, { subjective: 'cough', objective: 'wheeze' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ status: 'draft', authorId: f.physician.userId, version: 1, signedAt: null, addenda: [] });
    const note = `${enc()}/notes/${created.json().id}`;

    const byNurse = await f.nurse.call('PATCH', note, { plan: 'x' });
    expect(byNurse.statusCode).toBe(403);
    expect(byNurse.json().code).toBe('not_note_author');
    expect((await f.nurse.call('POST', `${note}/sign`)).json().code).toBe('not_note_author');
    expect((await f.physician.call('POST', `${note}/addenda`, { text: 'early' })).json().code).toBe('note_not_signed');

    const edited = await f.physician.call('PATCH', note, { assessment: 'asthma', plan: 'salbutamol', version: 1 });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({ version: 2, subjective: 'cough', assessment: 'asthma' });
    const stale = await f.physician.call('PATCH', note, { plan: 'other', version: 1 });
    expect(stale.json().code).toBe('version_conflict');

    const signed = await f.physician.call('POST', `${note}/sign`);
    expect(signed.statusCode).toBe(200);
    expect(signed.json().status).toBe('signed');
    expect(signed.json().signedAt).toEqual(expect.any(String));

    for (const res of [
      await f.physician.call('PATCH', note, { plan: 'rewrite' }),
      await f.nurse.call('PATCH', note, { plan: 'rewrite' }),
      await f.physician.call('POST', `${note}/sign`),
    ]) {
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('note_signed');
    }

    const addendum = await f.nurse.call('POST', `${note}/addenda`, { text: 'SpO2 rechecked: 97%' });
    expect(addendum.statusCode).toBe(201);
    const after = await f.physician.call('GET', note);
    expect(after.json()).toMatchObject({ plan: 'salbutamol', status: 'signed', version: 3 });
    expect(after.json().addenda).toEqual([
      {
        id: expect.stringMatching(/^add_/),
        noteId: created.json().id,
        authorId: f.nurse.userId,
        text: 'SpO2 rechecked: 97%',
        createdAt: expect.any(String),
      },
    ]);
  });

  it('an empty note cannot be signed', async () => {
    const created = await f.physician.call('POST', `${enc()}/notes`, {});
    const res = await f.physician.call('POST', `${enc()}/notes/${created.json().id}/sign`);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('note_empty');
  });

  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: the database itself refuses to change a signed note or an addendum`, async () => {
      const g = placement === 'pooled' ? f : await clinicFixture(t, placement);
      const noteId = await signedNote(g, g.physician);
      expect(
        (await g.physician.call('POST', `${g.url}/encounters/${g.encounterId}/notes/${noteId}/addenda`, { text: 'a' })).statusCode,
      ).toBe(201);
      const inTenant = (run: Parameters<typeof t.p.stores.transaction>[2]) => t.p.stores.transaction(g.clinic.id, 'write', run);

      await expect(
        inTenant((s) => s.db.updateTable('clinical_notes').set({ plan: 'rewritten' }).where('id', '=', noteId).execute()),
      ).rejects.toMatchObject({ code: 'PCN01' });
      await expect(
        inTenant((s) => s.db.updateTable('clinical_notes').set({ status: 'draft', signed_at: null }).where('id', '=', noteId).execute()),
      ).rejects.toMatchObject({ code: 'PCN01' });
      await expect(inTenant((s) => s.db.deleteFrom('clinical_notes').where('id', '=', noteId).execute())).rejects.toMatchObject({
        code: 'PCN01',
      });
      await expect(
        inTenant((s) => s.db.updateTable('clinical_note_addenda').set({ text: 'rewritten' }).where('note_id', '=', noteId).execute()),
      ).rejects.toMatchObject({ code: 'PCN01' });
      await expect(inTenant((s) => s.db.deleteFrom('clinical_note_addenda').where('note_id', '=', noteId).execute())).rejects.toMatchObject(
        { code: 'PCN01' },
      );
      // A draft is still the author's to edit, and the plausibility ranges hold for any writer.
      const draft = await g.physician.call('POST', `${g.url}/encounters/${g.encounterId}/notes`, { plan: 'draft' });
      await inTenant((s) => s.db.updateTable('clinical_notes').set({ plan: 'edited' }).where('id', '=', draft.json().id).execute());
      await expect(
        inTenant((s) =>
          sql`insert into vitals (clinic_id, id, encounter_id, recorded_by, measured_at, heart_rate) values (${g.clinic.id}, 'vit_x', ${g.encounterId}, 'usr_x', now(), 900)`.execute(
            s.db,
          ),
        ),
      ).rejects.toMatchObject({ code: '23514' });

      const note = await g.physician.call('GET', `${g.url}/encounters/${g.encounterId}/notes/${noteId}`);
      expect(note.json()).toMatchObject({ plan: 'inhaler', status: 'signed', addenda: [{ text: 'a' }] });
    });

  it('signed notes and addenda survive placement moves', async () => {
    const g = await clinicFixture(t, 'pooled');
    const noteId = await signedNote(g, g.physician);
    await g.nurse.call('POST', `${g.url}/encounters/${g.encounterId}/notes/${noteId}/addenda`, { text: 'kept' });
    for (const to of ['schema', 'database', 'pooled'] as const) {
      await moveClinic(t.p, g.clinic.id, to);
      const note = await g.physician.call('GET', `${g.url}/encounters/${g.encounterId}/notes/${noteId}`);
      expect(note.statusCode, to).toBe(200);
      expect(note.json(), to).toMatchObject({ status: 'signed', addenda: [{ text: 'kept' }] });
      expect((await g.physician.call('PATCH', `${g.url}/encounters/${g.encounterId}/notes/${noteId}`, { plan: 'x' })).json().code, to).toBe(
        'note_signed',
      );
    }
  });
});

describe('vitals', () => {
  const record = (body: object) => f.nurse.call('POST', `${enc()}/vitals`, body);

  it('refuses implausible values with the measurement and the bound', async () => {
    const cases: [object, string, string, number | string][] = [
      [{ heartRate: { value: 350, unit: '/min' } }, 'heartRate', 'max', 300],
      [{ heartRate: { value: 12, unit: '/min' } }, 'heartRate', 'min', 20],
      [{ bloodPressure: { systolic: 320, diastolic: 80, unit: 'mm[Hg]' } }, 'systolic', 'max', 300],
      [{ bloodPressure: { systolic: 120, diastolic: 10, unit: 'mm[Hg]' } }, 'diastolic', 'min', 20],
      [{ temperature: { value: 47, unit: 'Cel' } }, 'temperature', 'max', 45],
      [{ temperature: { value: 120, unit: '[degF]' } }, 'temperature', 'max', 45],
      [{ respiratoryRate: { value: 2, unit: '/min' } }, 'respiratoryRate', 'min', 4],
      [{ oxygenSaturation: { value: 40, unit: '%' } }, 'oxygenSaturation', 'min', 50],
      [{ oxygenSaturation: { value: 101, unit: '%' } }, 'oxygenSaturation', 'max', 100],
      [{ weight: { value: 70000, unit: 'kg' } }, 'weight', 'max', 500],
      [{ height: { value: 300, unit: 'cm' } }, 'height', 'max', 275],
    ];
    for (const [body, measurement, bound, limit] of cases) {
      const res = await record(body);
      expect(res.statusCode, measurement).toBe(400);
      expect(res.json(), measurement).toMatchObject({ code: 'vitals_out_of_range', measurement, bound, limit });
      expect(res.json().detail, measurement).toContain(`${measurement} `);
      expect(res.json().detail, measurement).toContain(`${limit}`);
    }
    const inverted = await record({ bloodPressure: { systolic: 80, diastolic: 90, unit: 'mm[Hg]' } });
    expect(inverted.json()).toMatchObject({ code: 'vitals_out_of_range', measurement: 'bloodPressure', bound: 'systolic > diastolic' });
  });

  it('converts units into canonical ones and keeps the time of measurement', async () => {
    const measuredAt = '2024-03-10T08:30:00-05:00';
    const res = await record({
      measuredAt,
      temperature: { value: 98.6, unit: '[degF]' },
      weight: { value: 154, unit: '[lb_av]' },
      height: { value: 1.75, unit: 'm' },
      oxygenSaturation: { value: 97, unit: '%' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      measuredAt: '2024-03-10T13:30:00.000Z',
      temperature: { value: 37, unit: 'Cel' },
      weight: { value: 69.85, unit: 'kg' },
      height: { value: 175, unit: 'cm' },
      oxygenSaturation: { value: 97, unit: '%' },
      heartRate: null,
      bloodPressure: null,
      recordedBy: f.nurse.userId,
    });
  });

  it('answers clear 400s for nothing to record, unknown units, bad and future times', async () => {
    expect((await record({})).json().code).toBe('vitals_empty');
    expect((await record({ heartRate: { value: 70, unit: 'bpm' } })).json().code).toBe('validation_failed');
    expect((await record({ heartRate: { value: 'fast', unit: '/min' } })).json().code).toBe('validation_failed');
    expect((await record({ ...vitalsOk, measuredAt: '2024-02-30T10:00:00Z' })).json().code).toBe('validation_failed');
    expect((await record({ ...vitalsOk, measuredAt: new Date(Date.now() + 3_600_000).toISOString() })).json().code).toBe(
      'measured_in_future',
    );
  });
});

describe('diagnoses', () => {
  it('accepts ICD-10-CM codes, normalized, and refuses malformed ones', async () => {
    const id = await f.openEncounter();
    const accepted: [string, string][] = [
      ['J45.909', 'J45.909'],
      ['E11.9', 'E11.9'],
      ['Z00.00', 'Z00.00'],
      ['e119', 'E11.9'],
      ['M1A.0', 'M1A.0'],
      ['I10', 'I10'],
    ];
    for (const [i, [code, stored]] of accepted.entries()) {
      const res = await f.physician.call('POST', `${enc(id)}/diagnoses`, {
        code,
        description: 'd',
        rank: i === 0 ? 'primary' : 'secondary',
      });
      expect(res.statusCode, code).toBe(201);
      expect(res.json().code, code).toBe(stored);
    }
    for (const code of ['123', 'J4', 'U99999999', 'J45.', 'J45.90901', '4J5.9', '']) {
      const res = await f.physician.call('POST', `${enc(id)}/diagnoses`, { code, description: 'd' });
      expect(res.statusCode, code).toBe(400);
      expect(res.json().code, code).toBe('invalid_icd10_code');
    }
    const second = await f.physician.call('POST', `${enc(id)}/diagnoses`, { code: 'R05.9', description: 'Cough', rank: 'primary' });
    expect(second.statusCode).toBe(409);
    expect(second.json().code).toBe('primary_diagnosis_exists');
    const list = await billing.call('GET', `${enc(id)}/diagnoses`);
    expect(list.json().items.map((d: { code: string; rank: string }) => `${d.rank}:${d.code}`)[0]).toBe('primary:J45.909');
    expect(list.json().items).toHaveLength(6);
  });

  it('a nurse records no diagnosis', async () => {
    expect((await f.nurse.call('POST', `${enc()}/diagnoses`, diagnosisOk)).statusCode).toBe(403);
  });
});

describe('events and audit', () => {
  it('every change writes its event with the actor, in the same transaction', async () => {
    const g = await clinicFixture(t, 'schema');
    const e = (path = '') => `${g.url}/encounters/${g.encounterId}${path}`;
    const note = await g.physician.call('POST', e('/notes'), { subjective: 's', plan: 'p' });
    await g.physician.call('PATCH', e(`/notes/${note.json().id}`), { assessment: 'a' });
    await g.physician.call('POST', e(`/notes/${note.json().id}/sign`));
    const add = await g.nurse.call('POST', e(`/notes/${note.json().id}/addenda`), { text: 'later' });
    const v = await g.nurse.call('POST', e('/vitals'), {
      heartRate: { value: 80, unit: '/min' },
      bloodPressure: { systolic: 130, diastolic: 85, unit: 'mm[Hg]' },
    });
    const rx = await g.physician.call('POST', e('/prescriptions'), prescriptionOk);
    const dx = await g.physician.call('POST', e('/diagnoses'), { ...diagnosisOk, code: 'j45909' });
    await g.physician.call('POST', e('/vitals'), { heartRate: { value: 900, unit: '/min' } }); // refused: no event
    await g.physician.call('POST', e('/close'));
    const doc = g.physician.userId;
    expect(await outbox(g.clinic.id)).toEqual([
      { type: 'patient.registered', payload: { patientId: g.patientId }, actor_id: doc },
      {
        type: 'encounter.opened',
        payload: { encounterId: g.encounterId, patientId: g.patientId, providerId: doc, appointmentId: null },
        actor_id: doc,
      },
      { type: 'clinical_note.drafted', payload: { noteId: note.json().id, encounterId: g.encounterId, authorId: doc }, actor_id: doc },
      {
        type: 'clinical_note.updated',
        payload: { noteId: note.json().id, encounterId: g.encounterId, sections: ['assessment'] },
        actor_id: doc,
      },
      { type: 'clinical_note.signed', payload: { noteId: note.json().id, encounterId: g.encounterId, authorId: doc }, actor_id: doc },
      {
        type: 'clinical_note.addendum_added',
        payload: { noteId: note.json().id, addendumId: add.json().addenda[0].id, authorId: g.nurse.userId },
        actor_id: g.nurse.userId,
      },
      {
        type: 'vitals.recorded',
        payload: { vitalsId: v.json().id, encounterId: g.encounterId, measurements: ['heartRate', 'bloodPressure'] },
        actor_id: g.nurse.userId,
      },
      {
        type: 'prescription.issued',
        payload: { prescriptionId: rx.json().id, encounterId: g.encounterId, prescriberId: doc },
        actor_id: doc,
      },
      { type: 'diagnosis.recorded', payload: { diagnosisId: dx.json().id, encounterId: g.encounterId, code: 'J45.909' }, actor_id: doc },
      { type: 'encounter.closed', payload: { encounterId: g.encounterId }, actor_id: doc },
    ]);
  });

  it('every access to the record leaves an audit record with its patient and outcome', async () => {
    const g = await clinicFixture(t, 'database', 'eu-central');
    const [officer, desk] = await Promise.all([g.staff('compliance_officer'), g.staff('scheduler')]);
    const e = `${g.url}/encounters/${g.encounterId}`;
    const noteId = await signedNote(g, g.physician);
    const steps: [Staff, 'GET' | 'POST', string, object?][] = [
      [g.physician, 'GET', ''],
      [g.physician, 'GET', '/notes'],
      [g.physician, 'GET', `/notes/${noteId}`],
      [g.nurse, 'POST', `/notes/${noteId}/addenda`, { text: 'a' }],
      [g.nurse, 'POST', '/vitals', vitalsOk],
      [g.nurse, 'GET', '/vitals'],
      [g.physician, 'POST', '/prescriptions', prescriptionOk],
      [g.physician, 'GET', '/prescriptions'],
      [g.physician, 'POST', '/diagnoses', diagnosisOk],
      [g.physician, 'GET', '/diagnoses'],
      [g.physician, 'POST', '/close'],
      [desk, 'GET', '/notes'],
      [g.physician, 'POST', '/vitals', { heartRate: { value: 72, unit: '/min' } }],
    ];
    for (const [who, method, path, body] of steps) await who.call(method, `${e}${path}`, body);
    await g.physician.call('GET', `${g.url}/encounters?patientId=${g.patientId}`);

    const trail = await officer.call('GET', `${g.url}/audit-events?limit=200`);
    expect(trail.statusCode).toBe(200);
    type Row = {
      action: string;
      resourceType: string;
      resourceId: string | null;
      patientId: string | null;
      outcome: string;
      actorId: string;
      detail: Record<string, unknown>;
    };
    const rows = (trail.json().items as Row[]).reverse().filter((r) => r.resourceType !== 'Patient' && r.resourceType !== 'AuditEvent');
    expect(rows.map((r) => `${r.action} ${r.resourceType} ${r.outcome}`)).toEqual([
      'create Encounter success',
      'create ClinicalNote success',
      'update ClinicalNote success',
      'read Encounter success',
      'search ClinicalNote success',
      'read ClinicalNote success',
      'update ClinicalNote success',
      'create Vitals success',
      'search Vitals success',
      'create Prescription success',
      'search Prescription success',
      'create Diagnosis success',
      'search Diagnosis success',
      'update Encounter success',
      'search ClinicalNote denied',
      'create Vitals failure',
      'search Encounter success',
    ]);
    const succeeded = rows.filter((r) => r.outcome === 'success');
    expect(succeeded.every((r) => r.patientId === g.patientId)).toBe(true);
    expect(rows.find((r) => r.action === 'read' && r.resourceType === 'Encounter')).toMatchObject({
      resourceId: g.encounterId,
      detail: { notes: 1, vitals: 0, prescriptions: 0, diagnoses: 0 },
    });
    expect(rows.find((r) => r.outcome === 'denied')).toMatchObject({ actorId: desk.userId });
    expect(rows.find((r) => r.outcome === 'failure')).toMatchObject({ detail: { error: 'encounter_closed' } });
  });
});
