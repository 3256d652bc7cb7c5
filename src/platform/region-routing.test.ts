import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { regionUrlVariable } from '../config/variables.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../logger.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { resolveStores } from './boot.js';
import { openPlatform, type Platform } from './platform.js';

/**
 * Two deployments share the control plane: the test platform serves both regions; a "US node" serves only
 * us-east and knows where eu-central is served (or, for the second node, does not).
 */
let t: TestPlatform;
const nodes: { p: Platform; app: FastifyInstance }[] = [];

async function usOnlyNode(routes: string): Promise<FastifyInstance> {
  const us = t.p.config.regions.find((r) => r.id === 'us-east')!;
  const config = loadConfig({
    POLYCLINIC_INSTANCE: t.p.config.instance,
    POLYCLINIC_SECRET: t.p.config.secret,
    POLYCLINIC_LOG_LEVEL: 'silent',
    POLYCLINIC_CONTROL_DATABASE_URL: t.p.config.controlDatabaseUrl,
    POLYCLINIC_REGIONS: 'us-east:US',
    [regionUrlVariable('us-east')]: us.databaseUrl,
    POLYCLINIC_REGION_ROUTES: routes,
  });
  const log = createLogger('silent');
  const p = await openPlatform((await resolveStores(config, log)).config, log);
  const app = await buildApp(p);
  await app.ready();
  nodes.push({ p, app });
  return app;
}

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  for (const n of nodes) {
    await n.app.close();
    await n.p.close();
  }
  await t?.close();
});

describe('a clinic homed in a region this node does not serve', () => {
  it('is redirected (307, method kept) to the node of its region, and served locally when homed here', async () => {
    const eu = await t.clinic({ placement: 'schema', region: 'eu-central', tier: 'mid' });
    const us = await t.clinic({ placement: 'pooled', region: 'us-east' });
    const euDoctor = await t.staff(eu.id, 'physician');
    const usDoctor = await t.staff(us.id, 'physician');
    const node = await usOnlyNode('eu-central=https://eu.polyclinic.test');

    const read = await node.inject({ method: 'GET', url: `/api/v1/clinics/${eu.id}/patients?limit=2`, headers: bearer(euDoctor.token) });
    expect(read.statusCode).toBe(307);
    expect(read.headers.location).toBe(`https://eu.polyclinic.test/api/v1/clinics/${eu.id}/patients?limit=2`);
    const write = await node.inject({
      method: 'POST',
      url: `/api/v1/clinics/${eu.id}/patients`,
      headers: bearer(euDoctor.token),
      payload: { givenName: 'A', familyName: 'B', birthDate: '2000-01-01' },
    });
    expect(write.statusCode).toBe(307);
    // Nothing was written through this node.
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${eu.id}/patients`, headers: bearer(euDoctor.token) });
    expect(list.json().items).toHaveLength(0);

    expect(
      (await node.inject({ method: 'GET', url: `/api/v1/clinics/${us.id}/patients`, headers: bearer(usDoctor.token) })).statusCode,
    ).toBe(200);
    // A stranger learns nothing about where the clinic lives.
    const stranger = await node.inject({ method: 'GET', url: `/api/v1/clinics/${eu.id}/patients`, headers: bearer(usDoctor.token) });
    expect([stranger.statusCode, stranger.json().code]).toEqual([404, 'clinic_not_found']);
  });

  it('answers 421 naming the region when no route is configured', async () => {
    const eu = await t.clinic({ placement: 'database', region: 'eu-central', tier: 'enterprise' });
    const doctor = await t.staff(eu.id, 'physician');
    const node = await usOnlyNode('');
    const res = await node.inject({ method: 'GET', url: `/api/v1/clinics/${eu.id}/patients`, headers: bearer(doctor.token) });
    expect(res.statusCode).toBe(421);
    expect(res.json()).toMatchObject({ code: 'region_not_served', region: 'eu-central' });
  });

  it('refuses a route for a region the node serves, or a malformed one, at start', () => {
    const base = { POLYCLINIC_REGIONS: 'us-east:US' };
    expect(() => loadConfig({ ...base, POLYCLINIC_REGION_ROUTES: 'us-east=https://us.example' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, POLYCLINIC_REGION_ROUTES: 'eu-central=ftp://eu' })).toThrow(/POLYCLINIC_REGION_ROUTES/);
    expect(loadConfig({ ...base, POLYCLINIC_REGION_ROUTES: 'eu-central=https://eu.example/' }).regionRoutes).toEqual({
      'eu-central': 'https://eu.example',
    });
  });
});
