import type { Clinic } from '../../src/controlplane/clinics.js';
import { withClient } from '../../src/db/pg.js';
import type { PlacementModel } from '../../src/tenancy/naming.js';
import { bearer, type TestPlatform } from './platform.js';

/**
 * Where the clinics of an isolation suite live, and the names its tests give them. Besides one clinic per
 * placement, every suite has two clinics pooled in one region: they share that region's store (the same
 * `tenant` tables, reached over the same connections), so only the clinic pinned on each transaction keeps
 * their rows apart. The second clinic of a placement and region is numbered: `pooled@us-east#2`.
 */
export interface Placed {
  placement: PlacementModel;
  region: string;
  label: string;
}

export function placed(entries: readonly (readonly [PlacementModel, string])[]): Placed[] {
  const seen = new Map<string, number>();
  return entries.map(([placement, region]) => {
    const where = `${placement}@${region}`;
    const n = (seen.get(where) ?? 0) + 1;
    seen.set(where, n);
    return { placement, region, label: n === 1 ? where : `${where}#${n}` };
  });
}

/** Every ordered pair of two different members: the first reaching for the second. */
export function orderedPairs<T>(xs: readonly T[]): [T, T][] {
  return xs.flatMap((a, i) => xs.filter((_, j) => j !== i).map((b): [T, T] => [a, b]));
}

/** The name of a test of A reaching for B, saying so when both are in the same pooled store. */
export function pairName(a: Placed, b: Placed): string {
  const sameStore = a.placement === 'pooled' && b.placement === 'pooled' && a.region === b.region;
  return `${a.label} -> ${b.label}${sameStore ? ' (same pooled store)' : ''}`;
}

/** One clinic per placement (the schema clinic in the other region), and a second clinic pooled in us-east, in the first one's store. */
export const ONE_PER_PLACEMENT = placed([
  ['pooled', 'us-east'],
  ['schema', 'eu-central'],
  ['database', 'us-east'],
  ['pooled', 'us-east'],
]);

/** Every placement in both regions, then a second clinic pooled in us-east, in the first one's store. */
export const EVERY_PLACEMENT_AND_REGION = placed([
  ['pooled', 'us-east'],
  ['schema', 'us-east'],
  ['database', 'us-east'],
  ['pooled', 'eu-central'],
  ['schema', 'eu-central'],
  ['database', 'eu-central'],
  ['pooled', 'us-east'],
]);

/** A clinic of a plan with a physician signed in and one patient of its own. */
export interface PatientTenant {
  clinic: Clinic;
  token: string;
  patientId: string;
}

/**
 * The clinics of `plan`, in its order, each with a physician and a patient (`Own`, family name `<placement>-<region>`)
 * registered through the API, for suites that check one clinic's patients against another's.
 */
export async function patientTenants(t: TestPlatform, plan: readonly Placed[]): Promise<PatientTenant[]> {
  const tenants: PatientTenant[] = [];
  for (const { placement, region } of plan) {
    const clinic = await t.clinic({ placement, region });
    const { token } = await t.staff(clinic.id, 'physician');
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Own', familyName: `${placement}-${region}`, birthDate: '1980-01-01' },
    });
    if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`);
    tenants.push({ clinic, token, patientId: res.json().id });
  }
  return tenants;
}

/**
 * Whether the clinic's `patients` table, where the clinic is now, has statistics from an explicit ANALYZE (a move's or
 * a restore's), as opposed to none yet or only autovacuum's.
 */
export async function patientsAnalysed(t: TestPlatform, clinicId: string): Promise<boolean> {
  const clinic = (await t.p.clinics.fresh(clinicId))!;
  const found = await withClient(t.p.stores.adminUrl(clinic.dataRegion, clinic.placement.database), (c) =>
    c.query(`select 1 from pg_stat_user_tables where schemaname = $1 and relname = 'patients' and last_analyze is not null`, [
      clinic.placement.schema,
    ]),
  );
  return found.rowCount === 1;
}
