import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { regionUrlVariable } from '../../src/config/variables.js';
import type { Clinic } from '../../src/controlplane/clinics.js';
import type { NewClinic } from '../../src/controlplane/provisioning.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { resolveStores } from '../../src/platform/boot.js';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { ensureDatabase, quoteIdent, urlWithDatabase, withClient } from '../../src/db/pg.js';
import { migrateFleet } from '../../src/tenancy/fleet.js';
import type { TenantMigration } from '../../src/tenancy/migrations.js';
import type { PlacementModel } from '../../src/tenancy/naming.js';

export const REGIONS = ['us-east', 'eu-central'] as const;
export const STAFF_PASSWORD = 'correct horse battery staple';

export interface TestPlatform {
  p: Platform;
  app: FastifyInstance;
  instance: string;
  operatorToken: string;
  /** Creates a clinic through the operator API. */
  clinic(input: { placement: PlacementModel; region?: string; slug?: string; tier?: NewClinic['tier'] }): Promise<Clinic>;
  /** A staff member of `clinicId` with `role`, signed in; returns the bearer token. */
  staff(clinicId: string, role: string): Promise<{ token: string; userId: string; email: string }>;
  login(email: string, password: string): Promise<string>;
  /** Another API node of the same deployment, hearing the same invalidations (Redis, or the shared in-process bus). */
  /** Another API node on the same databases (and bus); `stop` shuts it down as a restart or crash would. */
  secondNode(): Promise<{ p: Platform; app: FastifyInstance; stop(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * A whole platform on its own databases and roles (prefixed by a random instance name) on the test server,
 * migrated, with the HTTP app ready for `app.inject`. Everything it creates is dropped on close.
 */
export async function startTestPlatform(
  opts: {
    tenantMigrations?: TenantMigration[];
    adminUrl?: string;
    extraRoutes?: (app: FastifyInstance, p: Platform) => void;
    env?: NodeJS.ProcessEnv;
    /** A region whose store is on a server of its own (a backed-up region's, `archived-server.ts`). */
    regionAdminUrls?: Partial<Record<(typeof REGIONS)[number], string>>;
    /** Regions besides us-east and eu-central, on the suite's server (name them in `POLYCLINIC_REGIONS` too). */
    extraRegions?: string[];
  } = {},
): Promise<TestPlatform> {
  // vitest is loaded only inside the test runner; benchmarks pass the server's URL themselves.
  const admin = opts.adminUrl ?? (await import('vitest')).inject('pgAdminUrl');
  const instance = `t${randomBytes(5).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    POLYCLINIC_INSTANCE: instance,
    POLYCLINIC_SECRET: randomBytes(24).toString('hex'),
    POLYCLINIC_LOG_LEVEL: 'silent',
    POLYCLINIC_CONTROL_DATABASE_URL: urlWithDatabase(admin, `${instance}_control`),
    POLYCLINIC_OPERATOR_EMAIL: `operator@${instance}.test`,
    POLYCLINIC_OPERATOR_PASSWORD: 'operator-password-1',
    POLYCLINIC_CLINIC_POOL_IDLE_MS: '60000',
    // Each test platform has its own warehouse; a file would be shared by every test process.
    POLYCLINIC_WAREHOUSE_PATH: ':memory:',
    // Suites drive one clinic far faster than people do (the fuzz run); the quota tests set their own budgets.
    POLYCLINIC_QUOTA_SMALL_RPS: '100000',
    POLYCLINIC_QUOTA_MID_RPS: '100000',
    POLYCLINIC_QUOTA_ENTERPRISE_RPS: '100000',
    POLYCLINIC_QUOTA_USER_RPS: '100000',
    // Spare stores cost a build each in the background; only the suites about them keep any (`spares.test.ts`).
    POLYCLINIC_SPARE_STORES: '0',
  };
  // With a real Redis (CI), nodes talk over it exactly as in production; otherwise over the in-process bus.
  if (process.env.POLYCLINIC_TEST_REDIS_URL) env.POLYCLINIC_REDIS_URL = process.env.POLYCLINIC_TEST_REDIS_URL;
  Object.assign(env, opts.env);
  const serverOf = (r: (typeof REGIONS)[number]) => opts.regionAdminUrls?.[r] ?? admin;
  for (const r of REGIONS) env[regionUrlVariable(r)] = urlWithDatabase(serverOf(r), `${instance}_${r.replace('-', '_')}`);
  for (const r of opts.extraRegions ?? []) env[regionUrlVariable(r)] = urlWithDatabase(admin, `${instance}_${r.replace('-', '_')}`);
  await ensureDatabase(admin, `${instance}_control`);
  for (const r of REGIONS) await ensureDatabase(serverOf(r), `${instance}_${r.replace('-', '_')}`);
  for (const r of opts.extraRegions ?? []) await ensureDatabase(admin, `${instance}_${r.replace('-', '_')}`);

  const config = loadConfig(env);
  const log = createLogger((process.env.POLYCLINIC_TEST_LOG_LEVEL as 'silent') ?? 'silent');
  const { config: resolved } = await resolveStores(config, log);
  const p = await openPlatform(resolved, log, opts.tenantMigrations ? { tenantMigrations: opts.tenantMigrations } : {});
  await migrateFleet(p);
  await p.users.ensureOperator(config.operator!.email, config.operator!.password);
  const app = await buildApp(p);
  opts.extraRoutes?.(app, p);
  await app.ready();

  const login = async (email: string, password: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
    if (res.statusCode !== 200) throw new Error(`login ${email}: ${res.statusCode} ${res.body}`);
    return res.json().token as string;
  };
  const operatorToken = await login(config.operator!.email, config.operator!.password);
  const nodes: { p: Platform; app: FastifyInstance }[] = [];
  let n = 0;

  return {
    p,
    app,
    instance,
    operatorToken,
    login,
    async clinic({ placement, region = 'us-east', slug, tier = 'small' }) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/platform/clinics',
        headers: { authorization: `Bearer ${operatorToken}` },
        payload: { name: `Clinic ${++n}`, slug: slug ?? `c${n}-${randomBytes(3).toString('hex')}`, tier, dataRegion: region, placement },
      });
      if (res.statusCode !== 201) throw new Error(`create clinic: ${res.statusCode} ${res.body}`);
      const clinic = await p.clinics.fresh(res.json().id);
      if (!clinic) throw new Error('clinic vanished');
      return clinic;
    },
    async staff(clinicId, role) {
      const email = `${role}.${randomBytes(4).toString('hex')}@${instance}.test`;
      const user = await p.users.createMember(clinicId, { email, name: role, password: STAFF_PASSWORD, role });
      return { token: await login(email, STAFF_PASSWORD), userId: user.id, email };
    },
    async secondNode() {
      const node = await openPlatform(resolved, log, {
        ...(opts.tenantMigrations ? { tenantMigrations: opts.tenantMigrations } : {}),
        ...(resolved.redisUrl ? {} : { bus: p.bus }),
      });
      const nodeApp = await buildApp(node);
      await nodeApp.ready();
      await node.bus.ready();
      const entry = { p: node, app: nodeApp };
      nodes.push(entry);
      const stop = async () => {
        if (!nodes.includes(entry)) return;
        nodes.splice(nodes.indexOf(entry), 1);
        await nodeApp.close();
        await node.close();
      };
      return { p: node, app: nodeApp, stop };
    },
    async close() {
      for (const n of nodes) {
        await n.app.close();
        await n.p.close();
      }
      await app.close();
      await p.close();
      await dropInstance(admin, instance);
      for (const url of new Set(Object.values(opts.regionAdminUrls ?? {}))) await dropInstance(url, instance);
    },
  };
}

/** Drops every database and role whose name starts with the instance prefix. */
export async function dropInstance(admin: string, instance: string): Promise<void> {
  await withClient(admin, async (c) => {
    const dbs = await c.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`${instance}\\_%`]);
    for (const { datname } of dbs.rows) await c.query(`drop database if exists ${quoteIdent(datname)} with (force)`);
    const roles = await c.query<{ rolname: string }>(`select rolname from pg_roles where rolname like $1`, [`${instance}\\_%`]);
    for (const { rolname } of roles.rows) await c.query(`drop role if exists ${quoteIdent(rolname)}`);
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
