import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { type FastifyPluginAsyncZod, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { Clinic } from '../src/controlplane/clinics.js';
import { newPool, quoteIdent, urlWithDatabase, withClient } from '../src/db/pg.js';
import { clinicScope } from '../src/http/clinic-scope.js';
import type { Platform } from '../src/platform/platform.js';
import { createPatient, listPatients } from '../src/patients/store.js';
import { PatientListQuery, PatientPage } from '../src/patients/schemas.js';
import type { PlacementModel } from '../src/tenancy/naming.js';
import type { TestPlatform } from '../test/support/platform.js';

/** Patients in each clinic the patients benchmarks read. */
export const PATIENTS = 500;

/** Where `registerTenancyRoute` mounts its route: `${TENANCY_PREFIX}/<clinic>/patients`. */
export const TENANCY_PREFIX = '/bench/clinics';

/**
 * The real `GET …/patients` minus its audit record, inside the same clinic-scoped plugin (membership, MFA policy
 * and permission checked in its hooks, the read through req.clinic): what the tenancy layer alone costs.
 */
export function registerTenancyRoute(app: FastifyInstance, p: Platform): void {
  const route: FastifyPluginAsyncZod = async (scoped) => {
    scoped.get('/patients', {
      config: { permission: 'patient.read' },
      schema: { querystring: PatientListQuery, response: { 200: PatientPage } },
      handler: async (req) => req.clinic.read((scope) => listPatients(scope, req.query)),
    });
  };
  void app.register(clinicScope(p, [route]), { prefix: `${TENANCY_PREFIX}/:clinicId` });
}

/**
 * `fillers` pooled clinics (neighbours in the pooled table), then one clinic per placement with a signed-in
 * physician, each with `PATIENTS` patients created through the store as the API creates them.
 */
export async function seedPatientClinics(
  t: TestPlatform,
  placements: readonly PlacementModel[],
  fillers: number,
): Promise<Partial<Record<PlacementModel, { clinic: Clinic; token: string }>>> {
  const seed = async (clinic: Clinic) =>
    t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      for (let i = 0; i < PATIENTS; i++)
        await createPatient(scope, {
          givenName: `Given${i}`,
          familyName: `Family${i % 50}`,
          birthDate: '1970-01-01',
          sex: 'female',
          email: `p${i}@example.org`,
        });
    });
  for (let i = 0; i < fillers; i++) await seed(await t.clinic({ placement: 'pooled' }));
  const clinics: Partial<Record<PlacementModel, { clinic: Clinic; token: string }>> = {};
  for (const model of placements) {
    const clinic = await t.clinic({ placement: model });
    await seed(clinic);
    clinics[model] = { clinic, token: (await t.staff(clinic.id, 'physician')).token };
  }
  // A clinic in use has statistics (autovacuum analyses a table once a tenth of it has changed); one seeded a moment
  // ago has none until autovacuum visits its database, and the planner would read every patient of a new schema or
  // database and sort them for one page. Both sides of each ratio read these tables.
  for (const { clinic } of Object.values(clinics))
    await withClient(t.p.stores.adminUrl(clinic.dataRegion, clinic.placement.database), (c) =>
      c.query(`analyze ${quoteIdent(clinic.placement.schema)}.patients`),
    );
  return clinics;
}

/** The page size the patients benchmarks read (`?limit=50`). */
export const PAGE = 50;

/** What the bare route writes beside its read: nothing, or one of the floors' durable rows (`BareRoute.target`). */
type Floor = 'none' | 'durable' | 'grouped';

export interface BareRoute {
  /**
   * The bare route for a seeded clinic's placement; `raw`: without a response schema (rows through `JSON.stringify`);
   * `durable`: the floor, the bare route plus the cheapest durable row per request, in the same message as its read;
   * `grouped`: the same row group-committed beside the read, as the platform writes its record.
   */
  target(model: PlacementModel, kind?: 'schema' | 'raw' | 'durable' | 'grouped'): string;
  close(): Promise<void>;
}

/**
 * The patients benchmarks' baseline, listening on a port of its own in this process: a Fastify route that runs the
 * same SELECT as the platform's page (same columns, same keyset page, one row more to know whether there is a next
 * one) on the same rows as the table owner, with no auth, no tenancy and no checks, mapping the rows to the API's
 * shape and serialising them through the same zod response schema, over a pool of the size the platform has for
 * that store (the region pool, or a clinic's own).
 */
export async function startBareRoute(t: TestPlatform, clinics: Partial<Record<PlacementModel, { clinic: Clinic }>>): Promise<BareRoute> {
  const bare = Fastify();
  bare.setValidatorCompiler(validatorCompiler);
  bare.setSerializerCompiler(serializerCompiler);
  const pools = new Map<string, pg.Pool>();
  for (const { clinic } of Object.values(clinics))
    if (!pools.has(clinic.placement.database))
      pools.set(
        clinic.placement.database,
        newPool(
          urlWithDatabase(t.p.stores.adminUrl(clinic.dataRegion), clinic.placement.database),
          clinic.placement.model === 'database' ? t.p.config.pool.clinicMax : t.p.config.pool.max,
          'bench-bare',
        ),
      );
  // The floor's table: the cheapest durable row there is (no chain, no index but its key), in each store's database.
  for (const pool of pools.values())
    await pool.query(`create schema if not exists bench_floor;
      create table if not exists bench_floor.records (n bigserial primary key, clinic_id text not null, payload text not null)`);
  const columns = 'clinic_id, id, mrn, given_name, family_name, birth_date, sex, email, phone, version, created_at, updated_at';
  const page = (clinic: Clinic, id: string) =>
    `select ${columns} from ${quoteIdent(clinic.placement.schema)}.patients where clinic_id = ${id} order by id limit ${PAGE + 1}`;
  /** The floors' record of one read: small, plain, no quote in it (the durable floor inlines it as a literal). */
  const floorPayload = (clinicId: string) =>
    JSON.stringify({ clinicId, requestId: randomUUID(), recordedAt: new Date().toISOString(), action: 'search' });
  /**
   * The grouped floor's writer: the row is written as the platform writes its record (while the read runs,
   * concurrent requests of a clinic sharing one multi-row INSERT, one in flight at a time), without its chain, its
   * payload's canonical form or its tenancy.
   */
  const grouped = new Map<string, { busy: boolean; queue: { payload: string; done: (err?: unknown) => void }[] }>();
  const writeGrouped = (pool: pg.Pool, clinicId: string, payload: string) =>
    new Promise<void>((resolve, reject) => {
      // One group per clinic, as the platform's appender keeps one per clinic's chain.
      let g = grouped.get(clinicId);
      if (!g) grouped.set(clinicId, (g = { busy: false, queue: [] }));
      const group = g;
      group.queue.push({ payload, done: (err) => (err ? reject(err) : resolve()) });
      if (group.busy) return;
      group.busy = true;
      void (async () => {
        while (group.queue.length) {
          const batch = group.queue.splice(0);
          const err = await pool
            .query('insert into bench_floor.records (clinic_id, payload) select $1, unnest($2::text[])', [
              clinicId,
              batch.map((w) => w.payload),
            ])
            .then(
              () => undefined,
              (e: unknown) => e ?? new Error('insert failed'),
            );
          for (const w of batch) w.done(err);
        }
        group.busy = false;
      })();
    });
  /** The page's rows, with no record (`none`) or with a floor's durable row committed before they are returned. */
  const rowsOf = async (model: string, floor: Floor = 'none') => {
    const { clinic } = clinics[model as PlacementModel]!;
    const pool = pools.get(clinic.placement.database)!;
    if (floor === 'durable') {
      // One message, one implicit transaction: the row is committed (flushed, synchronous_commit on) before the
      // page comes back. Ids are plain and the payload has no quote: the literals need no escaping.
      const [, r] = (await pool.query(
        `insert into bench_floor.records (clinic_id, payload) values ('${clinic.id}', '${floorPayload(clinic.id)}'); ${page(clinic, `'${clinic.id}'`)}`,
      )) as unknown as [pg.QueryResult, pg.QueryResult];
      return r.rows;
    }
    const read = pool.query(page(clinic, '$1'), [clinic.id]);
    if (floor === 'none') return (await read).rows;
    const [, r] = await Promise.all([writeGrouped(pool, clinic.id, floorPayload(clinic.id)), read]);
    return r.rows;
  };
  const pageRoute = (path: string, floor: Floor) =>
    bare.withTypeProvider<ZodTypeProvider>().get(path, {
      schema: { querystring: z.object({ clinic: z.string() }), response: { 200: PatientPage } },
      handler: async (req) => {
        const rows = await rowsOf(req.query.clinic, floor);
        const items = rows.slice(0, PAGE).map((r) => ({
          id: r.id,
          clinicId: r.clinic_id,
          mrn: r.mrn,
          givenName: r.given_name,
          familyName: r.family_name,
          birthDate: r.birth_date,
          sex: r.sex,
          email: r.email,
          phone: r.phone,
          version: r.version,
          createdAt: r.created_at.toISOString(),
          updatedAt: r.updated_at.toISOString(),
        }));
        return { items, nextCursor: rows.length > PAGE ? items.at(-1)!.id : null };
      },
    });
  pageRoute('/bare/patients', 'none');
  pageRoute('/bare/durable-patients', 'durable');
  pageRoute('/bare/grouped-patients', 'grouped');
  bare.get<{ Querystring: { clinic: string } }>('/bare/raw-patients', async (req) => ({
    items: (await rowsOf(req.query.clinic)).slice(0, PAGE),
  }));
  const url = await bare.listen({ port: 0, host: '127.0.0.1' });
  return {
    target: (model, kind = 'schema') =>
      `${url}/bare/${kind === 'raw' ? 'raw-patients' : kind === 'durable' ? 'durable-patients' : kind === 'grouped' ? 'grouped-patients' : 'patients'}?clinic=${model}`,
    close: async () => {
      await bare.close();
      for (const pool of pools.values()) await pool.end();
    },
  };
}
