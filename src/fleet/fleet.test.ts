import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWithContext, SYSTEM } from '../platform/request-context.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * One clinic's quota, incident or load stays that clinic's: quotas by tier and by user answer 429 with the
 * rate-limit fields, an operator's suspension or read-only mode holds on every node at once and touches no
 * other clinic, and the node's metrics say it all in Prometheus text with bounded clinic series.
 */
let t: TestPlatform;
beforeAll(async () => {
  // Budgets over one 60 s window: small 2/s → 120, enterprise 4/s → 240, one user 1/s → 60.
  t = await startTestPlatform({
    env: {
      POLYCLINIC_QUOTA_SMALL_RPS: '2',
      POLYCLINIC_QUOTA_MID_RPS: '3',
      POLYCLINIC_QUOTA_ENTERPRISE_RPS: '4',
      POLYCLINIC_QUOTA_USER_RPS: '1',
      POLYCLINIC_QUOTA_WINDOW_SECONDS: '60',
      POLYCLINIC_METRICS_BUSIEST_CLINICS: '1',
      // A repeated refusal is held 300 ms (the 60 s window would otherwise hold it the default 1 s), one per clinic.
      POLYCLINIC_QUOTA_HOLD_MS: '300',
      POLYCLINIC_QUOTA_HELD_PER_CLINIC: '1',
      // These suites count what a window admits; when admitted requests run is the token bucket's (`pacing.test.ts`),
      // which at 2/s would spread the 60 requests spent here over half a minute.
      POLYCLINIC_QUOTA_BURST: '0',
    },
  });
});
afterAll(() => t?.close());

const features = (clinicId: string, token: string) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/features`, headers: bearer(token) });

async function spend(clinicId: string, token: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await features(clinicId, token)).statusCode);
  return statuses;
}

describe('request quotas (pooled)', () => {
  it("a user's budget, then the clinic's by tier; enterprise gets more; other clinics never notice", async () => {
    const small = await t.clinic({ placement: 'pooled', tier: 'small' });
    const big = await t.clinic({ placement: 'pooled', tier: 'enterprise' });
    const neighbour = await t.clinic({ placement: 'pooled', tier: 'small' });
    const [a, b, c] = [await t.staff(small.id, 'physician'), await t.staff(small.id, 'physician'), await t.staff(small.id, 'physician')];

    const first = await features(small.id, a.token);
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"clinic";q=120;w=60, "user";q=60;w=60');
    expect(first.headers.ratelimit).toMatch(/^"clinic";r=119;t=\d+, "user";r=59;t=\d+$/);

    expect(await spend(small.id, a.token, 59)).toEqual(Array(59).fill(200));
    const userOver = await features(small.id, a.token);
    expect(userOver.statusCode).toBe(429);
    expect(userOver.headers['content-type']).toContain('application/problem+json');
    expect(userOver.json()).toMatchObject({ code: 'quota_exceeded', quota: 'user' });
    expect(Number(userOver.headers['retry-after'])).toBeGreaterThan(0);

    // Asking again before the refusal ends: the answer is held (no work, one idle socket), then says the same, as of
    // when it leaves; beyond the clinic's one held answer, the next goes at once and closes its connection.
    const started = performance.now();
    const [held, beyond] = await Promise.all([
      features(small.id, a.token),
      new Promise((r) => setTimeout(r, 50)).then(() => features(small.id, a.token)),
    ]);
    expect(held.statusCode).toBe(429);
    expect(held.json()).toMatchObject({ code: 'quota_exceeded', quota: 'user' });
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    expect(held.headers['ratelimit-policy']).toBe('"clinic";q=120;w=60, "user";q=60;w=60');
    expect(held.headers.ratelimit).toMatch(/^"user";r=0;t=\d+$/);
    expect(held.headers.connection).not.toBe('close');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(beyond.statusCode).toBe(429);
    expect(beyond.headers.connection).toBe('close');

    // A second user of the clinic has a budget of their own, and spends the clinic's last 60.
    expect(await spend(small.id, b.token, 60)).toEqual(Array(60).fill(200));
    const clinicOver = await features(small.id, c.token);
    expect(clinicOver.statusCode).toBe(429);
    expect(clinicOver.json()).toMatchObject({ code: 'quota_exceeded', quota: 'clinic' });
    expect(clinicOver.headers.ratelimit).toMatch(/^"clinic";r=0;t=\d+$/);

    // The neighbour of the same tier and store, and an enterprise clinic beyond a small one's budget.
    expect((await features(neighbour.id, (await t.staff(neighbour.id, 'physician')).token)).statusCode).toBe(200);
    const bigUsers = [await t.staff(big.id, 'physician'), await t.staff(big.id, 'physician'), await t.staff(big.id, 'physician')];
    for (const u of bigUsers) expect(await spend(big.id, u.token, 50)).toEqual(Array(50).fill(200));
  });

  it('a stranger to the clinic spends none of its budget: 404 first', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const other = await t.clinic({ placement: 'pooled' });
    const stranger = await t.staff(other.id, 'physician');
    const res = await features(clinic.id, stranger.token);
    expect(res.statusCode).toBe(404);
    expect(res.headers['ratelimit-policy']).toBeUndefined();
  });
});

describe('incident isolation (pooled)', () => {
  const setMode = (clinicId: string, mode: string, reason?: string) =>
    t.app.inject({
      method: 'PUT',
      url: `/api/v1/platform/clinics/${clinicId}/incident-mode`,
      headers: bearer(t.operatorToken),
      payload: reason ? { mode, reason } : { mode },
    });
  const createPatient = (clinicId: string, token: string) =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1980-12-10', sex: 'female' },
    });

  it('suspended and read-only hold on a second node at once; the neighbour is untouched; normal again after', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const neighbour = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'physician');
    const next = await t.staff(neighbour.id, 'physician');
    const node2 = await t.secondNode();
    // The second node has the clinic cached as active: the bus, not the cache's expiry, tells it.
    expect(
      (await node2.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(admin.token) })).statusCode,
    ).toBe(200);

    expect((await setMode(clinic.id, 'suspended')).json()).toMatchObject({ code: 'reason_required' });
    const suspended = await setMode(clinic.id, 'suspended', 'credential leak under investigation');
    expect(suspended.json()).toEqual({ clinicId: clinic.id, status: 'suspended', statusReason: 'credential leak under investigation' });
    await new Promise((r) => setTimeout(r, 100)); // a Redis pub/sub message in flight
    for (const app of [t.app, node2.app]) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(admin.token) });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'clinic_suspended', reason: 'credential leak under investigation' });
    }
    const signInPage = await t.app.inject({ method: 'GET', url: `/api/v1/public/clinics/${clinic.slug}` });
    expect(signInPage.statusCode).toBe(404);
    expect((await createPatient(neighbour.id, next.token)).statusCode).toBe(201);

    await setMode(clinic.id, 'read_only', 'restoring from backup');
    await new Promise((r) => setTimeout(r, 100));
    for (const app of [t.app, node2.app]) {
      expect(
        (await app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(admin.token) })).statusCode,
      ).toBe(200);
      const write = await app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(admin.token),
        payload: { givenName: 'Ada', familyName: 'Lovelace', birthDate: '1980-12-10', sex: 'female' },
      });
      expect([write.statusCode, write.json().code]).toEqual([409, 'clinic_read_only']);
    }
    // The stores refuse the write whoever asks, not only the HTTP gate.
    await expect(t.p.stores.transaction(clinic.id, 'write', async () => 1)).rejects.toMatchObject({ code: 'clinic_read_only' });
    expect((await createPatient(neighbour.id, next.token)).statusCode).toBe(201);

    expect((await setMode(clinic.id, 'active')).json()).toMatchObject({ status: 'active', statusReason: null });
    await new Promise((r) => setTimeout(r, 100));
    expect((await createPatient(clinic.id, admin.token)).statusCode).toBe(201);
  });

  it('an unknown clinic is 404; only operators may do it', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    expect((await setMode('cln_00000000000000000000000000', 'active')).statusCode).toBe(404);
    const res = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/platform/clinics/${clinic.id}/incident-mode`,
      headers: bearer(admin.token),
      payload: { mode: 'suspended', reason: 'x' },
    });
    expect(res.statusCode).toBe(403);
  });
});

describe('metrics and fleet views', () => {
  it("/metrics counts the audit chain's appends per region: their wall time and their records", async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const u = await t.staff(clinic.id, 'physician');
    const sample = async (name: string) =>
      parsePrometheus((await t.app.inject({ method: 'GET', url: '/metrics' })).body).find(
        (s) => s.name === name && s.labels.region === 'us-east',
      )?.value ?? 0;
    const before = {
      appends: await sample('polyclinic_audit_append_seconds_count'),
      records: await sample('polyclinic_audit_append_records_sum'),
    };
    // Each read of the patient list appends one record to the clinic's chain, and answers only once it is committed.
    for (let i = 0; i < 3; i++)
      expect(
        (await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(u.token) })).statusCode,
      ).toBe(200);
    expect((await sample('polyclinic_audit_append_seconds_count')) - before.appends).toBe(3);
    expect((await sample('polyclinic_audit_append_records_sum')) - before.records).toBe(3);
    expect(await sample('polyclinic_audit_append_seconds_sum')).toBeGreaterThan(0);
  });

  it('/metrics is Prometheus text with route, region, tier and placement labels and bounded clinic series', async () => {
    const busy = await t.clinic({ placement: 'pooled' });
    const quiet = await t.clinic({ placement: 'pooled' });
    const u = await t.staff(busy.id, 'physician');
    const q = await t.staff(quiet.id, 'physician');
    await spend(busy.id, u.token, 8);
    await spend(quiet.id, q.token, 1);

    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const samples = parsePrometheus(res.body);
    const featureRoute = samples.filter(
      (s) =>
        s.name === 'polyclinic_http_requests_total' && s.labels.route === '/api/v1/clinics/:clinicId/features' && s.labels.status === '200',
    );
    expect(featureRoute.length).toBeGreaterThan(0);
    expect(featureRoute[0]!.labels).toMatchObject({ method: 'GET', region: 'us-east', tier: expect.any(String), placement: 'pooled' });
    const perClinic = samples.filter((s) => s.name === 'polyclinic_clinic_recent_requests');
    // Busiest N = 1 here, besides the enterprise clinics: every other small clinic is summed into "other".
    const smallNamed = perClinic.filter((s) => s.labels.tier === 'small' && s.labels.clinic !== 'other');
    expect(smallNamed.length).toBeLessThanOrEqual(1);
    expect(perClinic.some((s) => s.labels.clinic === 'other' && s.value >= 1)).toBe(true);
    expect(samples.some((s) => s.name === 'polyclinic_db_pool_connections' && s.labels.pool === 'region:us-east')).toBe(true);
    expect(samples.some((s) => s.name === 'polyclinic_clinic_directory_cache_entries')).toBe(true);

    const slowest = await t.app.inject({
      method: 'GET',
      url: '/api/v1/platform/fleet/slowest-clinics?limit=5',
      headers: bearer(t.operatorToken),
    });
    expect(slowest.statusCode).toBe(200);
    expect(slowest.json().items.length).toBeGreaterThan(0);
    const health = await t.app.inject({
      method: 'GET',
      url: `/api/v1/platform/clinics/${busy.id}/health`,
      headers: bearer(t.operatorToken),
    });
    expect(health.json()).toMatchObject({
      clinicId: busy.id,
      status: 'active',
      placement: 'pooled',
      storeBreakerOpen: false,
      recent: { requests: 8 },
    });
  });

  it('traces are off without an OTLP collector configured', () => {
    expect(t.p.tracing).toBeUndefined();
  });

  it('/metrics from another address needs the metrics token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    expect(res.statusCode).toBe(404);
  });
});

describe('SQL tagged with clinic and route (pooled, database)', () => {
  it.each(['pooled', 'database'] as const)(
    '%s: pg_stat_activity shows the clinic and route; application_name the clinic',
    async (placement) => {
      const clinic = await t.clinic({ placement });
      const seen = await runWithContext(
        { requestId: 'r1', clientAddress: null, purposeOfUse: 'TREAT', actor: SYSTEM, route: 'GET /api/v1/clinics/:clinicId/patients' },
        () =>
          t.p.stores.transaction(clinic.id, 'read', async (scope) => {
            const r = await sql<{
              query: string;
              app: string;
            }>`select query, current_setting('application_name') as app from pg_stat_activity where pid = pg_backend_pid()`.execute(
              scope.db,
            );
            return r.rows[0]!;
          }),
      );
      expect(seen.query).toContain(`/* clinic='${clinic.id}',route='GET /api/v1/clinics/:clinicId/patients' */`);
      expect(seen.app).toBe(`polyclinic ${clinic.id}`);
      // Transaction-local: the connection's next user is not labelled with this clinic.
      const after = await t.p.stores
        .regionDb('us-east')
        .selectNoFrom(sql<string>`current_setting('application_name')`.as('app'))
        .executeTakeFirst();
      expect(after?.app).not.toContain(clinic.id);
    },
  );
});

/** Prometheus text exposition, parsed strictly enough to fail on a malformed line. */
function parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    // Prometheus reads a value as Go's ParseFloat does, NaN in any case: prom-client writes `Nan` for a mean of no samples.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
