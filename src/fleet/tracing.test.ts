import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** A trace per request reaches an OTLP/HTTP collector (here one in this process), with the clinic and its placement. */
let collector: Server;
const received: unknown[] = [];
let t: TestPlatform;

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => void (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') received.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const { port } = collector.address() as AddressInfo;
  t = await startTestPlatform({ env: { POLYCLINIC_OTLP_TRACES_URL: `http://127.0.0.1:${port}/v1/traces` } });
});
afterAll(async () => {
  await t?.close();
  collector?.close();
});

interface OtlpSpan {
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

describe('OpenTelemetry traces (database placement)', () => {
  it('a clinic request is exported as a server span with the clinic, tier, region and placement', async () => {
    const clinic = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const staff = await t.staff(clinic.id, 'physician');
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients?limit=1`, headers: bearer(staff.token) });
    expect(res.statusCode).toBe(200);
    await t.p.tracing!.flush();
    const spans = received.flatMap((r) =>
      (r as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((s) => s.spans),
      ),
    );
    const span = spans.find((s) => s.name === 'GET /api/v1/clinics/:clinicId/patients');
    expect(span).toBeDefined();
    const attr = Object.fromEntries(span!.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));
    expect(attr).toMatchObject({
      'polyclinic.clinic.id': clinic.id,
      'polyclinic.clinic.tier': 'enterprise',
      'polyclinic.clinic.region': 'us-east',
      'polyclinic.clinic.placement': 'database',
      'http.response.status_code': 200,
    });
  });
});
