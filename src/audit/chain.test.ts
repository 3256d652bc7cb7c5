import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { pgErrorCode, urlWithCredentials, withClient } from '../db/pg.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { appRole, rolePassword } from '../tenancy/naming.js';
import { newId } from '../ids.js';
import { canonicalPayload, chainHash } from './record.js';
import { regionAuditDb } from './region-db.js';
import { GENESIS_HASH } from './region-migration.js';
import { auditPhi } from './trail.js';
import { payloadOf, verifyAuditChain } from './verify.js';

/**
 * The trail is append-only and hash-chained per clinic: the app cannot change it, an administrator who does
 * is caught with the sequence number named, and concurrent writers of one clinic still produce one gapless,
 * valid chain.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.close();
});

const access = (i: number) => ({
  action: 'read' as const,
  resourceType: 'Patient',
  resourceId: `pat_${String(i).padStart(26, '0')}`,
  patientId: null,
});

/** A clinic with `n` records written outside any request. */
async function clinicWithTrail(n: number, placement: Clinic['placement']['model'] = 'pooled'): Promise<Clinic> {
  const clinic = await t.clinic({ placement, tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise' });
  for (let i = 1; i <= n; i++) await auditPhi(t.p, clinic.id, access(i));
  return clinic;
}

/** As the database administrator, who can switch the append-only triggers off for the session. */
function asAdmin<T>(clinic: Clinic, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(t.p.stores.adminUrl(clinic.dataRegion), async (c) => {
    await c.query(`set session_replication_role = replica`);
    return fn(c);
  });
}

/** As the app role, on its own connection to the region database. */
function asApp<T>(clinic: Clinic, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const role = appRole(t.p.config.instance);
  return withClient(urlWithCredentials(t.p.stores.adminUrl(clinic.dataRegion), role, rolePassword(t.p.config.secret, role)), fn);
}

async function refused(run: Promise<unknown>): Promise<string | undefined> {
  try {
    await run;
    return 'no error';
  } catch (err) {
    return pgErrorCode(err);
  }
}

describe('tampering is detected', () => {
  it('an intact chain verifies, in every placement', async () => {
    for (const placement of ['pooled', 'schema', 'database'] as const) {
      const clinic = await clinicWithTrail(5, placement);
      expect(await verifyAuditChain(t.p, clinic.id), placement).toMatchObject({ ok: true, records: 5, head: { seq: 5 }, problem: null });
    }
  });

  it('an edited row is named by its seq', async () => {
    const clinic = await clinicWithTrail(6);
    await asAdmin(clinic, (c) =>
      c.query(`update audit.events set actor_id = 'usr_someoneelse' where clinic_id = $1 and seq = 4`, [clinic.id]),
    );
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: false, records: 3, problem: { kind: 'altered', seq: 4 } });
  });

  it('an edited detail (jsonb) or time is named by its seq', async () => {
    const clinic = await clinicWithTrail(3);
    await asAdmin(clinic, (c) =>
      c.query(`update audit.events set recorded_at = recorded_at - interval '1 day' where clinic_id = $1 and seq = 2`, [clinic.id]),
    );
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: false, problem: { kind: 'altered', seq: 2 } });
  });

  it('a row rewritten with a recomputed hash is caught by its successor', async () => {
    const clinic = await clinicWithTrail(5);
    const { chainHash } = await import('./record.js');
    const { payloadOf } = await import('./verify.js');
    await asAdmin(clinic, async (c) => {
      await c.query(`update audit.events set patient_id = 'pat_forged' where clinic_id = $1 and seq = 2`, [clinic.id]);
      const row = (await c.query(`select * from audit.events where clinic_id = $1 and seq = 2`, [clinic.id])).rows[0];
      await c.query(`update audit.events set hash = $2 where clinic_id = $1 and seq = 2`, [
        clinic.id,
        chainHash(row.prev_hash, 2, payloadOf(row)),
      ]);
    });
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: false, problem: { kind: 'altered', seq: 2 } });
  });

  it("a row rewritten with a recomputed hash, its successor relinked to it, is caught by the successor's own hash", async () => {
    const clinic = await clinicWithTrail(5);
    await asAdmin(clinic, async (c) => {
      await c.query(`update audit.events set patient_id = 'pat_forged' where clinic_id = $1 and seq = 2`, [clinic.id]);
      const row = (await c.query(`select * from audit.events where clinic_id = $1 and seq = 2`, [clinic.id])).rows[0];
      const forged = chainHash(row.prev_hash, 2, payloadOf(row));
      await c.query(`update audit.events set hash = $2 where clinic_id = $1 and seq = 2`, [clinic.id, forged]);
      await c.query(`update audit.events set prev_hash = $2 where clinic_id = $1 and seq = 3`, [clinic.id, forged]);
    });
    // Records 1 and 2 check out on their own now; record 3's hash was computed over the prev_hash it had.
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: false, records: 2, problem: { kind: 'altered', seq: 3 } });
  });

  it('a deleted row in the middle is reported as a gap at its seq', async () => {
    const clinic = await clinicWithTrail(6);
    await asAdmin(clinic, (c) => c.query(`delete from audit.events where clinic_id = $1 and seq in (3, 4)`, [clinic.id]));
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({
      ok: false,
      records: 2,
      problem: { kind: 'deleted', seq: 3, missing: 2 },
    });
  });

  it('a deleted first row is reported at seq 1', async () => {
    const clinic = await clinicWithTrail(3);
    await asAdmin(clinic, (c) => c.query(`delete from audit.events where clinic_id = $1 and seq = 1`, [clinic.id]));
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: false, records: 0, problem: { kind: 'deleted', seq: 1 } });
  });

  it('a truncated tail is reported from the first missing seq', async () => {
    const clinic = await clinicWithTrail(6);
    await asAdmin(clinic, (c) => c.query(`delete from audit.events where clinic_id = $1 and seq >= 5`, [clinic.id]));
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({
      ok: false,
      records: 4,
      problem: { kind: 'truncated', seq: 5, missing: 2 },
    });
  });

  it('tampering with one clinic leaves the other clinics of the region verifiable', async () => {
    const a = await clinicWithTrail(3);
    const b = await clinicWithTrail(3);
    await asAdmin(a, (c) => c.query(`delete from audit.events where clinic_id = $1 and seq = 2`, [a.id]));
    expect((await verifyAuditChain(t.p, a.id)).ok).toBe(false);
    expect(await verifyAuditChain(t.p, b.id)).toMatchObject({ ok: true, records: 3 });
  });
});

describe('the link the database computes', () => {
  it('is sha256(prev_hash ":" seq ":" payload) over the exact payloads appended, as chainHash and the verifier compute it', async () => {
    const clinic = await clinicWithTrail(1);
    const payload = (requestId: string) =>
      canonicalPayload({
        clinicId: clinic.id,
        id: newId('audit'),
        recordedAt: new Date().toISOString(),
        action: 'read',
        outcome: 'success',
        actorId: 'system',
        actorRole: null,
        resourceType: 'Patient',
        resourceId: null,
        patientId: null,
        requestId,
        clientAddress: null,
        purposeOfUse: 'TREAT',
        detail: { note: 'émoji 🩺 straße' },
      });
    const sent = [payload('r-2'), payload('r-3')];
    // Two payloads in one statement, as the group-committing appender sends them.
    await asApp(clinic, (c) => c.query(`select audit.append($1, $2::text[])`, [clinic.id, sent]));
    const rows = await withClient(
      t.p.stores.adminUrl(clinic.dataRegion),
      async (c) => (await c.query(`select * from audit.events where clinic_id = $1 order by seq`, [clinic.id])).rows,
    );
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    for (const [i, payloadSent] of sent.entries()) {
      const row = rows[i + 1];
      const seq = i + 2;
      expect(row.prev_hash, `seq ${seq}`).toBe(rows[i].hash);
      expect(row.hash, `seq ${seq}`).toBe(createHash('sha256').update(`${rows[i].hash}:${seq}:${payloadSent}`, 'utf8').digest('hex'));
      expect(chainHash(row.prev_hash, seq, payloadSent), `seq ${seq}`).toBe(row.hash);
      expect(payloadOf(row), `seq ${seq}`).toBe(payloadSent);
    }
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 3, head: { seq: 3, hash: rows[2].hash } });
  });
});

describe('the app role', () => {
  it('is refused UPDATE, DELETE and TRUNCATE of the trail and its heads', async () => {
    const clinic = await clinicWithTrail(2);
    await asApp(clinic, async (c) => {
      await c.query(`select set_config('app.clinic_id', $1, false)`, [clinic.id]);
      expect(await refused(c.query(`update audit.events set actor_id = 'x' where clinic_id = $1`, [clinic.id]))).toBe('42501');
      expect(await refused(c.query(`delete from audit.events where clinic_id = $1`, [clinic.id]))).toBe('42501');
      expect(await refused(c.query(`truncate audit.events`))).toBe('42501');
      expect(await refused(c.query(`update audit.heads set seq = 0 where clinic_id = $1`, [clinic.id]))).toBe('42501');
      expect(await refused(c.query(`delete from audit.heads where clinic_id = $1`, [clinic.id]))).toBe('42501');
    });
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 2 });
  });

  it('cannot slip an unchained row in by a direct INSERT', async () => {
    const clinic = await clinicWithTrail(1);
    await asApp(clinic, async (c) => {
      await c.query(`select set_config('app.clinic_id', $1, false)`, [clinic.id]);
      const insert = c.query(
        `insert into audit.events (clinic_id, seq, id, recorded_at, action, outcome, actor_id, resource_type, purpose_of_use, prev_hash, hash)
         values ($1, 2, 'aud_x', now(), 'read', 'success', 'usr_x', 'Patient', 'TREAT', repeat('0', 64), repeat('0', 64))`,
        [clinic.id],
      );
      expect(await refused(insert)).toBe('42501');
    });
  });

  it('sees one clinic only, even in a query without a clinic filter (RLS)', async () => {
    const a = await clinicWithTrail(2);
    const b = await clinicWithTrail(3);
    expect(a.dataRegion).toBe(b.dataRegion);
    await asApp(a, async (c) => {
      const unfiltered = `select distinct clinic_id from audit.events`;
      expect((await c.query(unfiltered)).rows).toEqual([]);
      await c.query(`select set_config('app.clinic_id', $1, false)`, [a.id]);
      expect((await c.query(unfiltered)).rows).toEqual([{ clinic_id: a.id }]);
      expect((await c.query(`select clinic_id from audit.heads`)).rows).toEqual([{ clinic_id: a.id }]);
      // And cannot chain a record of B while pinned to A.
      const b64 = JSON.stringify({ clinicId: b.id });
      expect(await refused(c.query(`select audit.append($1, $2::text[])`, [a.id, [b64]]))).toBe('22023');
    });
  });
});

describe('concurrent writers of one clinic', () => {
  it('50 concurrent audited reads over two API nodes yield one valid, gapless chain', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doctor = await t.staff(clinic.id, 'physician');
    const url = `/api/v1/clinics/${clinic.id}/patients`;
    const created = await t.app.inject({
      method: 'POST',
      url,
      headers: bearer(doctor.token),
      payload: { givenName: 'Rosalind', familyName: 'Franklin', birthDate: '1920-07-25' },
    });
    const patientId = created.json().id as string;
    const second = await t.secondNode();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? second.app : t.app).inject({ method: 'GET', url: `${url}/${patientId}`, headers: bearer(doctor.token) }),
      ),
    );
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);

    const v = await verifyAuditChain(t.p, clinic.id);
    expect(v).toMatchObject({ ok: true, records: 51, head: { seq: 51 } });
    const db = regionAuditDb(t.p, clinic.dataRegion);
    const rows = await db.transaction().execute(async (trx) => {
      await sql`select set_config('app.clinic_id', ${clinic.id}, true)`.execute(trx);
      return trx.selectFrom('events').select(['seq', 'request_id']).where('clinic_id', '=', clinic.id).orderBy('seq').execute();
    });
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    expect(new Set(rows.slice(1).map((r) => r.request_id))).toEqual(new Set(responses.map((r) => r.headers['x-request-id'])));
  });

  it('50 separate connections appending at once still chain correctly (the head row lock, without group commit)', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const role = appRole(t.p.config.instance);
    const pool = new pg.Pool({
      connectionString: urlWithCredentials(t.p.stores.adminUrl(clinic.dataRegion), role, rolePassword(t.p.config.secret, role)),
      max: 50,
    });
    try {
      const payload = (i: number) =>
        canonicalPayload({
          clinicId: clinic.id,
          id: newId('audit'),
          recordedAt: new Date().toISOString(),
          action: 'read',
          outcome: 'success',
          actorId: 'system',
          actorRole: null,
          resourceType: 'Patient',
          resourceId: null,
          patientId: null,
          requestId: `r${i}`,
          clientAddress: null,
          purposeOfUse: 'TREAT',
          detail: { i },
        });
      const clients = await Promise.all(Array.from({ length: 50 }, () => pool.connect()));
      await Promise.all(clients.map((c, i) => c.query(`select audit.append($1, $2::text[])`, [clinic.id, [payload(i), payload(100 + i)]])));
      for (const c of clients) c.release();
    } finally {
      await pool.end();
    }
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 100, head: { seq: 100 } });
  });

  it('measures the cost of an audited read against the same read unaudited', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doctor = await t.staff(clinic.id, 'physician');
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(doctor.token),
      payload: { givenName: 'Marie', familyName: 'Curie', birthDate: '1867-11-07' },
    });
    const patientId = created.json().id as string;
    const { getPatient } = await import('../patients/store.js');
    const N = 100;
    const time = async (run: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await run(); // warm pools and plans
      const start = performance.now();
      for (let i = 0; i < N; i++) await run();
      return (performance.now() - start) / N;
    };
    const rtt = await time(() => sql`select 1`.execute(regionAuditDb(t.p, clinic.dataRegion)));
    const read = await time(() => t.p.stores.transaction(clinic.id, 'read', (s) => getPatient(s, patientId)));
    const record = await time(() =>
      auditPhi(t.p, clinic.id, { action: 'read', resourceType: 'Patient', resourceId: patientId, patientId }),
    );
    const route = await time(() =>
      t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients/${patientId}`, headers: bearer(doctor.token) }),
    );
    const burst = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => auditPhi(t.p, clinic.id, access(0))));
    const burstMs = performance.now() - burst;
    console.log(
      [
        `audit cost (mean of ${N}, sequential): round trip ${rtt.toFixed(3)} ms; tenant read transaction ${read.toFixed(3)} ms;`,
        `auditPhi ${record.toFixed(3)} ms (${(record / rtt).toFixed(2)}x a round trip, ${(record / read).toFixed(2)}x the read it records);`,
        `audited GET patient route ${route.toFixed(3)} ms; 200 concurrent appends to one clinic ${burstMs.toFixed(0)} ms (${((200 / burstMs) * 1000).toFixed(0)}/s)`,
      ].join('\n'),
    );
    expect((await verifyAuditChain(t.p, clinic.id)).ok).toBe(true);
  });
});
