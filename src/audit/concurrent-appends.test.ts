import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { runWithContext, SYSTEM } from '../platform/request-context.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { auditPhi } from './trail.js';
import { verifyAuditChain } from './verify.js';

/**
 * The trail under concurrent load (`appender.ts` groups each clinic's waiting records into one statement): many
 * requests of many clinics in two regions, and still every record is chained in order, none is lost, and one
 * record the database refuses fails its own request and no other.
 */
let t: TestPlatform;
let clinics: Clinic[];

beforeAll(async () => {
  t = await startTestPlatform();
  clinics = [
    await t.clinic({ placement: 'pooled' }),
    await t.clinic({ placement: 'schema', tier: 'mid' }),
    await t.clinic({ placement: 'database', tier: 'enterprise' }),
    await t.clinic({ placement: 'pooled', region: 'eu-central' }),
  ];
});
afterAll(async () => {
  await t?.close();
});

/** A query as the region database's administrator (no RLS). */
const asAdmin = <T>(regionId: string, sql: string, values: unknown[]) =>
  withClient(t.p.stores.adminUrl(regionId), async (c) => (await c.query(sql, values)).rows as T[]);

const record = (clinicId: string, requestId: string) =>
  runWithContext({ requestId, clientAddress: null, purposeOfUse: 'TREAT', actor: SYSTEM }, () =>
    auditPhi(t.p, clinicId, { action: 'read', resourceType: 'Patient', resourceId: null, patientId: null }),
  );

describe('concurrent appends across the clinics of two regions', () => {
  it('240 concurrent records of four clinics in two regions: every chain verifies, none is lost, records share commits', async () => {
    const PER_CLINIC = 60;
    const requests = clinics.flatMap((c) => Array.from({ length: PER_CLINIC }, (_, i) => ({ clinicId: c.id, requestId: `${c.id}-r${i}` })));
    // Interleaved, as concurrent requests arrive.
    requests.sort((a, b) => Number(a.requestId.split('-r')[1]) - Number(b.requestId.split('-r')[1]));
    await Promise.all(requests.map((r) => record(r.clinicId, r.requestId)));

    for (const clinic of clinics) {
      expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: PER_CLINIC, head: { seq: PER_CLINIC } });
      const rows = await asAdmin<{ request_id: string }>(
        clinic.dataRegion,
        'select request_id from audit.events where clinic_id = $1 order by seq',
        [clinic.id],
      );
      expect(new Set(rows.map((r) => r.request_id))).toEqual(
        new Set(requests.filter((r) => r.clinicId === clinic.id).map((r) => r.requestId)),
      );
    }
    // Rows written by one transaction share its xmin: concurrent records of a clinic were committed together.
    const commits = await asAdmin<{ transactions: number }>(
      'us-east',
      'select count(distinct xmin::text)::int as transactions from audit.events where clinic_id = any($1)',
      [clinics.filter((c) => c.dataRegion === 'us-east').map((c) => c.id)],
    );
    expect(commits[0]!.transactions).toBeLessThan(3 * PER_CLINIC);
  });

  it('a record the database refuses fails its own request (503 audit_unavailable) and no other', async () => {
    const [refused, neighbour] = clinics as [Clinic, Clinic];
    const doctors = [await t.staff(refused.id, 'physician'), await t.staff(neighbour.id, 'physician')];
    const before = await verifyAuditChain(t.p, neighbour.id);
    // The administrator makes the region refuse every new record of one clinic.
    await asAdmin('us-east', `alter table audit.events add constraint speed_refuse check (clinic_id <> '${refused.id}') not valid`, []);
    try {
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          const clinic = i % 2 ? neighbour : refused;
          return t.app.inject({
            method: 'GET',
            url: `/api/v1/clinics/${clinic.id}/patients?limit=5`,
            headers: bearer(doctors[i % 2]!.token),
          });
        }),
      );
      const refusedAnswers = responses.filter((_, i) => i % 2 === 0);
      const neighbourAnswers = responses.filter((_, i) => i % 2 === 1);
      expect(refusedAnswers.map((r) => r.statusCode)).toEqual(Array(15).fill(503));
      expect(refusedAnswers.every((r) => r.json().code === 'audit_unavailable' && r.headers['retry-after'] === '1')).toBe(true);
      expect(neighbourAnswers.map((r) => r.statusCode)).toEqual(Array(15).fill(200));
    } finally {
      await asAdmin('us-east', 'alter table audit.events drop constraint speed_refuse', []);
    }
    expect(await verifyAuditChain(t.p, neighbour.id)).toMatchObject({ ok: true, records: before.records + 15 });
    expect(await verifyAuditChain(t.p, refused.id)).toMatchObject({ ok: true, records: 60 });
  });
});
