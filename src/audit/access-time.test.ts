import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { verifyAuditChain } from './verify.js';

/**
 * A read's record is written while the read runs (`auditedAtAccess`, through `ClinicHandle.read`), and still:
 * nothing is answered before the record is durable, a read whose record cannot be written answers 503 and no
 * data, and a read that fails leaves its access record followed by a failure record.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.close();
});

interface Row {
  seq: string;
  outcome: string;
  action: string;
  patient_id: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

/** The region's records of one request, read as the region's administrator on a connection of its own. */
const recordsOf = (clinic: Clinic, requestId: string) =>
  withClient(t.p.stores.adminUrl(clinic.dataRegion), async (c) =>
    (
      await c.query<Row>(
        'select seq, outcome, action, patient_id, request_id, detail from audit.events where clinic_id = $1 and request_id = $2 order by seq',
        [clinic.id, requestId],
      )
    ).rows.map((r) => ({ ...r, seq: Number(r.seq) })),
  );

describe.each(PLACEMENT_MODELS)('%s placement: a read recorded while it runs', (placement: PlacementModel) => {
  let clinic: Clinic;
  let doctor: { token: string; userId: string };
  let patientId: string;
  const get = (path: string) => t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}${path}`, headers: bearer(doctor.token) });

  beforeAll(async () => {
    clinic = await t.clinic({ placement, tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise' });
    doctor = await t.staff(clinic.id, 'physician');
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(doctor.token),
      payload: { givenName: 'Grete', familyName: 'Hermann', birthDate: '1901-03-02' },
    });
    expect(created.statusCode).toBe(201);
    patientId = created.json().id as string;
  });

  it('answers only once the record is committed: the response waits while the chain head is locked, and the record is there right after', async () => {
    const admin = new pg.Client({ connectionString: t.p.stores.adminUrl(clinic.dataRegion) });
    await admin.connect();
    let answered = false;
    let pending: ReturnType<typeof get> | undefined;
    try {
      // The administrator holds the clinic's chain head, so the record's append waits while the read runs.
      await admin.query('begin');
      await admin.query('select seq from audit.heads where clinic_id = $1 for update', [clinic.id]);
      pending = get(`/patients/${patientId}`);
      void pending.then(() => {
        answered = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(answered).toBe(false);
    } finally {
      await admin.query('commit').catch(() => {});
      await admin.end();
    }
    const res = await pending!;
    expect(res.statusCode).toBe(200);
    expect(res.json().familyName).toBe('Hermann');
    // Another connection, right after the 200: the record is committed.
    expect(await recordsOf(clinic, res.headers['x-request-id'] as string)).toMatchObject([
      { action: 'read', outcome: 'success', patient_id: patientId, detail: {} },
    ]);
  });

  it('a list records what was asked, not what came back (no count), and is durable before its 200', async () => {
    const res = await get('/patients?limit=7');
    expect(res.statusCode).toBe(200);
    expect(res.json().items.length).toBeGreaterThan(0);
    expect(await recordsOf(clinic, res.headers['x-request-id'] as string)).toMatchObject([
      { action: 'search', outcome: 'success', patient_id: null, detail: { limit: 7 } },
    ]);
  });

  it('a read that fails leaves its access record followed by a failure record with the error code', async () => {
    const missing = newId('patient');
    const res = await get(`/patients/${missing}`);
    expect([res.statusCode, res.json().code]).toEqual([404, 'patient_not_found']);
    const rows = await recordsOf(clinic, res.headers['x-request-id'] as string);
    expect(rows).toMatchObject([
      { action: 'read', outcome: 'success', patient_id: missing, detail: {} },
      { action: 'read', outcome: 'failure', patient_id: missing, detail: { error: 'patient_not_found' } },
    ]);
    // One request at a time here, so nothing of another request comes between them.
    expect(rows[1]!.seq).toBe(rows[0]!.seq + 1);
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true });
  });

  it('a read whose record cannot be written answers 503 audit_unavailable and none of the data', async () => {
    const before = await verifyAuditChain(t.p, clinic.id);
    const constraint = `refuse_${clinic.id.replace(/\W/g, '_')}`;
    const asAdmin = (sql: string) => withClient(t.p.stores.adminUrl(clinic.dataRegion), (c) => c.query(sql));
    // The administrator makes the region refuse every new record of this clinic.
    await asAdmin(`alter table audit.events add constraint ${constraint} check (clinic_id <> '${clinic.id}') not valid`);
    try {
      for (const path of [`/patients/${patientId}`, '/patients?limit=5', `/patients?ids=${patientId}`]) {
        const res = await get(path);
        expect([path, res.statusCode, res.json().code, res.headers['retry-after']]).toEqual([path, 503, 'audit_unavailable', '1']);
        expect(res.body).not.toContain('Hermann');
      }
    } finally {
      await asAdmin(`alter table audit.events drop constraint ${constraint}`);
    }
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: before.records });
  });
});
