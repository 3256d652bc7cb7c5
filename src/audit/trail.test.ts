import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { untarText as untar } from '../../test/support/cli.js';
import { moveClinic } from '../tenancy/move.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import type { ExportManifest } from '../tenancy/export.js';
import { searchAuditEvents, type AuditEvent } from './search.js';
import { verifyAuditChain } from './verify.js';
import { readTrail, regionAuditDb } from './region-db.js';
import { canonicalPayload } from './record.js';
import { withClient } from '../db/pg.js';
import { maintainRegions } from '../tenancy/fleet.js';
import { scannedRelations } from '../../test/support/explain.js';

/**
 * Every PHI access through the API leaves a record with who, what, when, from where, why and under which
 * request, in every placement; records stay put (and keep being written) through a placement move.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.close();
});

/** All records of a clinic, oldest first. */
async function trail(clinicId: string): Promise<AuditEvent[]> {
  return (await searchAuditEvents(t.p, clinicId, { limit: 1000 })).items.reverse();
}

describe.each(PLACEMENT_MODELS)('%s placement: each PHI access is recorded', (placement: PlacementModel) => {
  let clinic: Clinic;
  let doctor: { token: string; userId: string };

  beforeAll(async () => {
    clinic = await t.clinic({ placement, tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise' });
    doctor = await t.staff(clinic.id, 'physician');
  });

  it('create, search, read, update and export, with user, role, request id, client address and purpose of use', async () => {
    const url = `/api/v1/clinics/${clinic.id}/patients`;
    const as = (method: 'GET' | 'POST' | 'PATCH', path: string, purpose: string, payload?: object) =>
      t.app.inject({
        method,
        url: path,
        remoteAddress: '203.0.113.7',
        headers: { ...bearer(doctor.token), 'x-purpose-of-use': purpose },
        ...(payload ? { payload } : {}),
      });

    const created = await as('POST', url, 'TREAT', { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1815-12-10' });
    expect(created.statusCode).toBe(201);
    const patientId = created.json().id as string;
    const listed = await as('GET', `${url}?limit=10`, 'HPAYMT');
    expect(listed.statusCode).toBe(200);
    const read = await as('GET', `${url}/${patientId}`, 'ETREAT');
    expect(read.statusCode).toBe(200);
    const updated = await as('PATCH', `${url}/${patientId}`, 'TREAT', { phone: '+1 555 0100', givenName: 'Augusta' });
    expect(updated.statusCode).toBe(200);
    const exported = await t.app.inject({
      method: 'GET',
      url: `/api/v1/platform/clinics/${clinic.id}/export?reason=offboarding%20request%204711`,
      headers: bearer(t.operatorToken),
    });
    expect(exported.statusCode).toBe(200);

    const events = await trail(clinic.id);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const common = {
      actorId: doctor.userId,
      actorRole: 'physician',
      clientAddress: '203.0.113.7',
      outcome: 'success',
      resourceType: 'Patient',
    };
    expect(events[0]).toMatchObject({
      ...common,
      action: 'create',
      resourceId: patientId,
      patientId,
      requestId: created.headers['x-request-id'],
      purposeOfUse: 'TREAT',
    });
    expect(events[1]).toMatchObject({
      ...common,
      action: 'search',
      resourceId: null,
      patientId: null,
      requestId: listed.headers['x-request-id'],
      purposeOfUse: 'HPAYMT',
      detail: { limit: 10 },
    });
    expect(events[2]).toMatchObject({
      ...common,
      action: 'read',
      resourceId: patientId,
      patientId,
      requestId: read.headers['x-request-id'],
      purposeOfUse: 'ETREAT',
    });
    expect(events[3]).toMatchObject({
      ...common,
      action: 'update',
      resourceId: patientId,
      patientId,
      requestId: updated.headers['x-request-id'],
      detail: { fields: 'givenName,phone' },
    });
    // The operator exported the clinic: no role in it, the default purpose of use.
    expect(events[4]).toMatchObject({
      action: 'export',
      resourceType: 'Clinic',
      resourceId: clinic.id,
      actorRole: null,
      requestId: exported.headers['x-request-id'],
      purposeOfUse: 'TREAT',
      detail: { patients: 1 },
    });
    expect(events[4]!.actorId).toMatch(/^usr_/);
    expect(events[4]!.actorId).not.toBe(doctor.userId);
    for (const e of events) {
      expect(e.id).toMatch(/^aud_/);
      expect(Date.now() - Date.parse(e.recordedAt)).toBeLessThan(60_000);
    }
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 5, head: { seq: 5, hash: events[4]!.hash } });
  });

  it('a denied attempt (403) and a read of a patient the clinic does not have (404: its access record, then its failure) are recorded too', async () => {
    const billing = await t.staff(clinic.id, 'billing');
    const before = (await trail(clinic.id)).length;
    const denied = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(billing.token),
      payload: { givenName: 'No', familyName: 'Way', birthDate: '1990-01-01' },
    });
    expect(denied.statusCode).toBe(403);
    const missing = 'pat_00000000000000000000000000';
    const notFound = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/patients/${missing}`,
      headers: bearer(doctor.token),
    });
    expect(notFound.statusCode).toBe(404);
    const events = (await trail(clinic.id)).slice(before);
    expect(events).toMatchObject([
      {
        action: 'create',
        outcome: 'denied',
        actorId: billing.userId,
        actorRole: 'billing',
        requestId: denied.headers['x-request-id'],
        detail: { permission: 'patient.write' },
      },
      // A read's record is written as the access is made (`auditedAtAccess`); its failure follows it.
      {
        action: 'read',
        outcome: 'success',
        actorId: doctor.userId,
        resourceId: missing,
        patientId: missing,
        requestId: notFound.headers['x-request-id'],
        detail: {},
      },
      {
        action: 'read',
        outcome: 'failure',
        actorId: doctor.userId,
        resourceId: missing,
        patientId: missing,
        requestId: notFound.headers['x-request-id'],
        detail: { error: 'patient_not_found' },
      },
    ]);
  });

  it('the full export archive carries the trail as audit/events.jsonl, listed in its manifest', async () => {
    // The archive as break-glass builds it once the clinic approved (the approval flow: export/break-glass.test.ts).
    const { exportClinic } = await import('../tenancy/export.js');
    const files = await untar(await exportClinic(t.p, clinic.id, { reason: 'offboarding request 4711', scope: 'full' }));
    const manifest = JSON.parse(files.get('manifest.json')!) as ExportManifest;
    const entry = manifest.files.find((f) => f.file === 'audit/events.jsonl');
    const lines = files
      .get('audit/events.jsonl')!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { clinic_id: string; seq: number; hash: string });
    expect(entry).toMatchObject({ table: 'audit.events', rows: lines.length });
    // Everything recorded before this export, in chain order; the export's own record comes after it.
    const events = await trail(clinic.id);
    expect(lines.map((l) => [l.clinic_id, l.seq, l.hash])).toEqual(events.slice(0, -1).map((e) => [clinic.id, e.seq, e.hash]));
    expect(events.at(-1)).toMatchObject({ action: 'export', seq: lines.length + 1 });
  });

  it('a read of one month of the trail plans that month’s partition only (audit/partitions.ts)', async () => {
    const last = new Date((await trail(clinic.id)).at(-1)!.recordedAt);
    const from = new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth(), 1));
    const to = new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth() + 1, 1));
    const month = `events_${from.toISOString().slice(0, 7).replace('-', '_')}`;
    const [plan, inMonth] = await readTrail(t.p, clinic.id, async (trx) => [
      (
        await sql<{ 'QUERY PLAN': unknown }>`explain (format json) select * from audit.events
          where clinic_id = ${clinic.id} and recorded_at >= ${from} and recorded_at < ${to}`.execute(trx)
      ).rows[0]!['QUERY PLAN'],
      (
        await sql<{ n: number }>`select count(*)::int as n from audit.events
          where clinic_id = ${clinic.id} and recorded_at >= ${from} and recorded_at < ${to}`.execute(trx)
      ).rows[0]!.n,
    ]);
    expect(scannedRelations(plan)).toEqual([month]);
    expect(inMonth).toBeGreaterThan(0);
  });
});

describe('a placement move', () => {
  it('keeps the trail, and reads during the freeze are still recorded (frozen writes as failures)', async () => {
    const clinic = await t.clinic({ placement: 'pooled', region: 'eu-central' });
    const doctor = await t.staff(clinic.id, 'physician');
    const url = `/api/v1/clinics/${clinic.id}/patients`;
    const created = await t.app.inject({
      method: 'POST',
      url,
      headers: bearer(doctor.token),
      payload: { givenName: 'Grace', familyName: 'Hopper', birthDate: '1906-12-09' },
    });
    const patientId = created.json().id as string;
    const before = await trail(clinic.id);
    expect(before).toHaveLength(1);

    const duringFreeze: { read: number; write: number; readId: string } = { read: 0, write: 0, readId: '' };
    await moveClinic(t.p, clinic.id, 'database', {
      duringFreeze: async () => {
        const read = await t.app.inject({ method: 'GET', url: `${url}/${patientId}`, headers: bearer(doctor.token) });
        const write = await t.app.inject({
          method: 'PATCH',
          url: `${url}/${patientId}`,
          headers: bearer(doctor.token),
          payload: { givenName: 'Amazing' },
        });
        Object.assign(duringFreeze, { read: read.statusCode, write: write.statusCode, readId: read.headers['x-request-id'] });
      },
    });
    expect(duringFreeze).toMatchObject({ read: 200, write: 503 });

    const after = await t.app.inject({ method: 'GET', url: `${url}/${patientId}`, headers: bearer(doctor.token) });
    expect(after.statusCode).toBe(200);
    expect((await t.p.clinics.fresh(clinic.id))!.placement.model).toBe('database');
    const events = await trail(clinic.id);
    expect(events.slice(0, 1)).toEqual(before);
    expect(events.slice(1)).toMatchObject([
      { seq: 2, action: 'read', outcome: 'success', requestId: duringFreeze.readId },
      { seq: 3, action: 'update', outcome: 'failure', detail: { error: 'clinic_frozen' } },
      { seq: 4, action: 'read', outcome: 'success', requestId: after.headers['x-request-id'] },
    ]);
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 4 });
  });
});

describe('the months ahead (audit/partitions.ts)', () => {
  it('a record dated past every month made still appends, and the daily upkeep moves it into its month', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid', region: 'eu-central' });
    const stray = canonicalPayload({
      clinicId: clinic.id,
      id: 'aud_fromaclockrunningahead',
      recordedAt: '2098-03-04T05:06:07.089Z',
      action: 'read',
      outcome: 'success',
      actorId: 'system',
      actorRole: null,
      resourceType: 'Clinic',
      resourceId: clinic.id,
      patientId: null,
      requestId: null,
      clientAddress: null,
      purposeOfUse: 'HSYSADMIN',
      detail: {},
    });
    await sql`select audit.append(${clinic.id}, ${[stray]}::text[])`.execute(regionAuditDb(t.p, 'eu-central'));
    const partition = () =>
      withClient(t.p.stores.adminUrl('eu-central'), async (c) =>
        (
          await c.query<{ part: string }>('select tableoid::regclass::text as part from audit.events where clinic_id = $1', [clinic.id])
        ).rows.map((r) => r.part),
      );
    expect(await partition()).toEqual(['audit.events_default']);
    await maintainRegions(t.p);
    expect(await partition()).toEqual(['audit.events_2098_03']);
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 1 });
  });
});

describe('without a request (CLI, jobs)', () => {
  it('the actor is system', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const { exportClinic } = await import('../tenancy/export.js');
    await exportClinic(t.p, clinic.id, { reason: 'nightly archive job', scope: 'directory' });
    expect(await trail(clinic.id)).toMatchObject([
      { action: 'export', actorId: 'system', actorRole: null, requestId: null, clientAddress: null, purposeOfUse: 'HSYSADMIN' },
    ]);
  });
});
