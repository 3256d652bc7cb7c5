import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { conflict } from '../errors.js';
import type { TenantStores } from '../tenancy/stores.js';
import { clinicDashboard, type ClinicDashboard } from './dashboard.js';
import { discreteLaplaceNoise, effectiveEpsilon } from './noise.js';
import { type RandomSource, systemRandom } from './random.js';

/**
 * Opt-in peer benchmarks with differential privacy. What a release does, in order:
 *
 * 1. the cohort: consenting clinics of the same specialty and size (tier);
 * 2. each contributor's value, computed in its own region from its own store; a value resting on 1–10
 *    appointments is suppressed (the clinic does not contribute), as is a clinic with none;
 * 3. nothing is released for fewer than `MIN_COHORT` contributors;
 * 4. each contribution is clamped to the measure's bounds and scaled to an integer, so one clinic moves
 *    the sum by at most the measure's sensitivity;
 * 5. the sum gets discrete Laplace noise for epsilon at that sensitivity (`noise.ts`), and is divided by
 *    the number of contributors (public: at least 11, not the exact count);
 * 6. the epsilon is spent from every contributor's budget for the period in one control-plane
 *    transaction; if any contributor's budget cannot cover it the query is refused;
 * 7. the release is kept: asking again returns it and spends nothing (post-processing).
 */
export const MIN_COHORT = 11;
export const MAX_SUPPRESSED_COUNT = 10;

export interface BenchmarkMeasure {
  /** Bounds of one clinic's value; contributions are clamped into them. */
  lower: number;
  upper: number;
  /** Integer steps per unit: the released value has this resolution. */
  scale: number;
  /** The clinic's value and the count of appointments it rests on. */
  valueOf(d: ClinicDashboard): { value: number; base: number } | null;
}

export const BENCHMARK_MEASURES = {
  no_show_rate: {
    lower: 0,
    upper: 1,
    scale: 1000,
    valueOf: (d) => (d.noShowRate === null ? null : { value: d.noShowRate, base: d.appointments.completed + d.appointments.noShow }),
  },
  completed_visits: {
    lower: 0,
    upper: 2000,
    scale: 1,
    valueOf: (d) => ({ value: d.appointments.completed, base: d.appointments.completed }),
  },
} satisfies Record<string, BenchmarkMeasure>;
export type MeasureName = keyof typeof BENCHMARK_MEASURES;
export const MEASURE_NAMES = Object.keys(BENCHMARK_MEASURES) as MeasureName[];

export interface BenchmarkDeps {
  control: Kysely<ControlDB>;
  clinics: Pick<ClinicDirectory, 'get'>;
  stores: Pick<TenantStores, 'transaction'>;
  releaseEpsilon: number;
  monthlyBudget: number;
  random?: RandomSource;
}

export interface Consent {
  id: string;
  measures: string[];
  grantedBy: string;
  grantedAt: string;
  withdrawnBy: string | null;
  withdrawnAt: string | null;
}

export type BenchmarkAnswer =
  | { status: 'withheld'; reason: 'cohort_too_small' | 'own_value_suppressed'; measure: MeasureName; period: string }
  | {
      status: 'released';
      measure: MeasureName;
      period: string;
      cohort: { specialty: string; tier: string; contributors: string };
      own: number | null;
      cohortValue: number;
      epsilon: number;
      releasedAt: string;
    };

export class PeerBenchmarks {
  private readonly random: RandomSource;

  constructor(private readonly deps: BenchmarkDeps) {
    this.random = deps.random ?? systemRandom();
  }

  async consents(clinicId: string): Promise<Consent[]> {
    const rows = await this.deps.control
      .selectFrom('benchmark_consents')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .orderBy('granted_at', 'desc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      measures: r.measures,
      grantedBy: r.granted_by,
      grantedAt: r.granted_at.toISOString(),
      withdrawnBy: r.withdrawn_by,
      withdrawnAt: r.withdrawn_at?.toISOString() ?? null,
    }));
  }

  /** Gives (or changes) consent: the one in force is withdrawn and a new record says who, when and what. */
  async grant(clinicId: string, userId: string, measures: MeasureName[]): Promise<Consent> {
    const id = `bcn_${randomBytes(12).toString('hex')}`;
    await this.deps.control.transaction().execute(async (tx) => {
      await tx
        .updateTable('benchmark_consents')
        .set({ withdrawn_by: userId, withdrawn_at: new Date() })
        .where('clinic_id', '=', clinicId)
        .where('withdrawn_at', 'is', null)
        .execute();
      await tx
        .insertInto('benchmark_consents')
        .values({ id, clinic_id: clinicId, measures: JSON.stringify([...new Set(measures)]), granted_by: userId })
        .execute();
    });
    return (await this.consents(clinicId)).find((c) => c.id === id)!;
  }

  async withdraw(clinicId: string, userId: string): Promise<boolean> {
    const r = await this.deps.control
      .updateTable('benchmark_consents')
      .set({ withdrawn_by: userId, withdrawn_at: new Date() })
      .where('clinic_id', '=', clinicId)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The clinic's budget for a period: what is spent and what is left. */
  async budget(clinicId: string, period: string): Promise<{ period: string; budget: number; spent: number }> {
    const row = await this.deps.control
      .selectFrom('privacy_budget_ledger')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('epsilon'), sql<number>`0`).as('spent'))
      .where('clinic_id', '=', clinicId)
      .where('period', '=', period)
      .executeTakeFirst();
    return { period, budget: this.deps.monthlyBudget, spent: Number(row?.spent ?? 0) };
  }

  async benchmark(clinic: Clinic, measure: MeasureName, period: string): Promise<BenchmarkAnswer> {
    const inForce = (await this.consents(clinic.id)).find((c) => c.withdrawnAt === null);
    if (!inForce?.measures.includes(measure))
      throw conflict('benchmark_consent_required', `Benchmarks compare clinics that share: give consent for ${measure} first`);
    const def: BenchmarkMeasure = BENCHMARK_MEASURES[measure];
    const [from, to] = monthOf(period);
    const ownValue = def.valueOf(await this.deps.stores.transaction(clinic.id, 'read', (s) => clinicDashboard(s, from, to)));
    const own = ownValue && ownValue.base > MAX_SUPPRESSED_COUNT ? ownValue.value : null;
    const cohort = { specialty: clinic.specialty ?? 'general', tier: clinic.tier };
    const cohortKey = `${cohort.specialty}|${cohort.tier}`;

    const kept = await this.deps.control
      .selectFrom('benchmark_releases')
      .selectAll()
      .where('cohort', '=', cohortKey)
      .where('measure', '=', measure)
      .where('period', '=', period)
      .executeTakeFirst();
    if (kept?.value != null) return released(measure, period, cohort, own, kept.value, kept.epsilon, kept.released_at);

    const members = await this.cohortMembers(cohort, measure);
    const values: number[] = [];
    for (const m of members) {
      const v = def.valueOf(await this.deps.stores.transaction(m.id, 'read', (s) => clinicDashboard(s, from, to)));
      if (v && v.base > MAX_SUPPRESSED_COUNT) values.push(Math.round(clamp(v.value, def.lower, def.upper) * def.scale));
    }
    if (values.length < MIN_COHORT) return { status: 'withheld', reason: 'cohort_too_small', measure, period };

    const epsilon = effectiveEpsilon(this.deps.releaseEpsilon);
    const sensitivity = Math.round((def.upper - def.lower) * def.scale);
    const noisySum = values.reduce((a, b) => a + b, 0) + discreteLaplaceNoise(epsilon, sensitivity, this.random);
    const value = clamp(noisySum / values.length / def.scale, def.lower, def.upper);
    const releaseId = `brl_${randomBytes(12).toString('hex')}`;
    const releasedAt = await this.deps.control.transaction().execute(async (tx) => {
      // Lock the contributors' clinic rows in a fixed order so two releases cannot both spend the last of a budget.
      const ids = members.map((m) => m.id).sort();
      await tx.selectFrom('clinics').select('id').where('id', 'in', ids).orderBy('id').forUpdate().execute();
      const spent = await tx
        .selectFrom('privacy_budget_ledger')
        .select(['clinic_id', (eb) => eb.fn.sum<number>('epsilon').as('spent')])
        .where('clinic_id', 'in', ids)
        .where('period', '=', period)
        .groupBy('clinic_id')
        .execute();
      if (spent.some((s) => Number(s.spent) + epsilon > this.deps.monthlyBudget + 1e-9))
        throw conflict(
          'privacy_budget_exhausted',
          `This release would exceed the privacy budget of a clinic in the cohort for ${period}; it can be asked for again next period`,
        );
      await tx
        .insertInto('privacy_budget_ledger')
        .values(ids.map((id) => ({ clinic_id: id, period, release_id: releaseId, epsilon })))
        .execute();
      const row = await tx
        .insertInto('benchmark_releases')
        .values({ id: releaseId, cohort: cohortKey, measure, period, contributors: values.length, value, epsilon })
        .returning('released_at')
        .executeTakeFirstOrThrow();
      return row.released_at;
    });
    return released(measure, period, cohort, own, value, epsilon, releasedAt);
  }

  private async cohortMembers(cohort: { specialty: string; tier: string }, measure: MeasureName): Promise<Clinic[]> {
    const rows = await this.deps.control
      .selectFrom('benchmark_consents as c')
      .innerJoin('clinics as k', 'k.id', 'c.clinic_id')
      .select('k.id')
      .where('c.withdrawn_at', 'is', null)
      .where(sql<boolean>`c.measures ? ${measure}`)
      .where('k.tier', '=', cohort.tier as never)
      .where(sql<boolean>`coalesce(k.specialty, 'general') = ${cohort.specialty}`)
      .where('k.status', 'in', ['active', 'suspended'])
      .execute();
    const clinics = await Promise.all(rows.map((r) => this.deps.clinics.get(r.id)));
    return clinics.filter((c): c is Clinic => c !== undefined);
  }
}

function released(
  measure: MeasureName,
  period: string,
  cohort: { specialty: string; tier: string },
  own: number | null,
  cohortValue: number,
  epsilon: number,
  at: Date,
): BenchmarkAnswer {
  return {
    status: 'released',
    measure,
    period,
    cohort: { ...cohort, contributors: `${MIN_COHORT} or more` },
    own,
    cohortValue,
    epsilon,
    releasedAt: at.toISOString(),
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** `YYYY-MM` to its first instant and the next month's (UTC). */
export function monthOf(period: string): [Date, Date] {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return [new Date(Date.UTC(y, m - 1, 1)), new Date(Date.UTC(y, m, 1))];
}
