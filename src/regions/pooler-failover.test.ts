import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { urlWithDatabase, withClient } from '../db/pg.js';
import { clinicRole, poolerRole, rolePassword } from '../tenancy/naming.js';
import { pgbouncerInstalled, startPgBouncer, type PgBouncer } from '../../test/support/pgbouncer.js';
import { replicatedUsWest, type ReplicatedUsWest } from '../../test/support/pg-servers.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * The clinic pooler follows a failover (issue #14): region us-west on a primary and a synchronous standby of its
 * own, a PgBouncer in transaction mode in front of it whose `[databases]` line the platform owns
 * (`tenancy/pooler-target.ts`). After the failover the pooler's server connections are on the promoted standby,
 * and with the old primary gone for good a database clinic's writes still arrive through the same pooler address.
 */
describe.skipIf(!pgbouncerInstalled)('a region failover repoints the clinic pooler at the promoted standby', () => {
  let servers: ReplicatedUsWest;
  let bouncer: PgBouncer;
  let t: TestPlatform;
  let clinic: Clinic;
  let token: string;

  beforeAll(async () => {
    servers = await replicatedUsWest('polyclinic_us_west');
    bouncer = await startPgBouncer({ host: '127.0.0.1', port: servers.primary.port }, 2);
    t = await startTestPlatform({
      env: { ...servers.env, POLYCLINIC_REGION_US_WEST_DATABASE_URL: servers.databaseUrl, ...bouncer.env('us-west') },
    });
    await t.p.regionPrimaries.ensure();
    const pooler = poolerRole(t.instance);
    await bouncer.authUser(pooler, rolePassword(t.p.config.secret!, pooler));
    clinic = await t.clinic({ placement: 'database', region: 'us-west', tier: 'enterprise' });
    token = (await t.staff(clinic.id, 'physician')).token;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await bouncer?.stop();
    await servers?.close();
  });

  const admit = (familyName: string) =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Ada', familyName, birthDate: '1980-01-02' },
    });
  const serverPorts = async () => {
    const role = clinicRole(t.instance, clinic.id, 'database');
    const servers = await bouncer.show('servers');
    return [...new Set(servers.filter((s) => s.database === clinic.placement.database && s.user === role).map((s) => Number(s.port)))];
  };

  it('the pooler reaches the primary before, the promoted standby after, with no operator step', async () => {
    expect((await admit('Before')).statusCode).toBe(201);
    expect(await serverPorts()).toEqual([servers.primary.port]);
    expect(readFileSync(bouncer.target.databasesFile, 'utf8')).toContain(`port=${servers.primary.port} `);

    const result = await t.p.failover.failover('us-west', { reason: 'pooler drill' });
    expect(result).toMatchObject({ regionId: 'us-west', epoch: 2, oldPrimary: 'fenced' });
    expect(readFileSync(bouncer.target.databasesFile, 'utf8')).toContain(`port=${servers.standby.port} `);
    // The old primary, fenced, still runs: the pooler has left it all the same.
    const fencedAlive = await admit('Fenced');
    expect(fencedAlive.statusCode, fencedAlive.body).toBe(201);
    expect(await serverPorts()).toEqual([servers.standby.port]);
    // Then gone for good: whatever reaches it fails, so the 201 below came through the standby.
    await servers.primary.kill();
    const after = await admit('After');
    expect(after.statusCode, after.body).toBe(201);
    expect(await serverPorts()).toEqual([servers.standby.port]);
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients?limit=5`, headers: bearer(token) });
    expect(
      listed
        .json()
        .items.map((p: { familyName: string }) => p.familyName)
        .sort(),
    ).toEqual(['After', 'Before', 'Fenced']);
    // And the rows are on the promoted server itself.
    const onStandby = await withClient(urlWithDatabase(servers.standby.url, clinic.placement.database), async (c) => {
      return (await c.query<{ n: number }>('select count(*)::int as n from tenant.patients')).rows[0]!.n;
    });
    expect(onStandby).toBe(3);
  });
});
