import { sql } from 'kysely';
import { conflict, notFound } from '../errors.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { ChargeStatus } from './migration.js';

/**
 * Revenue: a fee per appointment type, a charge per completed visit at the fee in force when it was completed,
 * and the charge's payment status. Amounts are integers in the currency's minor unit (cents), never floats.
 * A clinic bills in one currency: once it has charged a visit, the schedule's currency stays.
 */
export interface FeeSchedule {
  currency: string | null;
  fees: { appointmentType: string; amountMinor: number }[];
}

export async function feeSchedule(scope: TenantScope): Promise<FeeSchedule> {
  const rows = await scope.db.selectFrom('fee_schedule').selectAll().orderBy('appointment_type').execute();
  return {
    currency: rows[0]?.currency ?? null,
    fees: rows.map((r) => ({ appointmentType: r.appointment_type, amountMinor: r.amount_minor })),
  };
}

/** Replaces the whole schedule (types left out have no fee from now on; their visits are not charged). */
export async function replaceFeeSchedule(
  scope: TenantScope,
  input: { currency: string; fees: { appointmentType: string; amountMinor: number }[] },
  userId: string,
): Promise<FeeSchedule> {
  const charged = await scope.db
    .selectFrom('visit_charges')
    .select('currency')
    .where('currency', '<>', input.currency)
    .limit(1)
    .executeTakeFirst();
  if (charged)
    throw conflict(
      'currency_change_not_allowed',
      `Visits are already charged in ${charged.currency}; the fee schedule keeps that currency`,
    );
  await scope.db.deleteFrom('fee_schedule').execute();
  if (input.fees.length)
    await scope.db
      .insertInto('fee_schedule')
      .values(
        input.fees.map((f) => ({
          clinic_id: scope.clinicId,
          appointment_type: f.appointmentType,
          amount_minor: f.amountMinor,
          currency: input.currency,
          updated_by: userId,
        })),
      )
      .execute();
  return feeSchedule(scope);
}

/**
 * Charges a visit that has just been completed, at its type's fee (in the completing transaction, so a completed
 * visit and its charge are never apart). A type without a fee is not charged; completing twice cannot happen
 * (`completed` is final), and a repeat would change nothing.
 */
export async function chargeCompletedVisit(scope: TenantScope, appointmentId: string, appointmentType: string): Promise<void> {
  const fee = await scope.db
    .selectFrom('fee_schedule')
    .select(['amount_minor', 'currency'])
    .where('appointment_type', '=', appointmentType)
    .executeTakeFirst();
  if (!fee) return;
  await scope.db
    .insertInto('visit_charges')
    .values({ clinic_id: scope.clinicId, appointment_id: appointmentId, amount_minor: fee.amount_minor, currency: fee.currency })
    .onConflict((oc) => oc.columns(['clinic_id', 'appointment_id']).doNothing())
    .execute();
}

export async function setChargeStatus(scope: TenantScope, appointmentId: string, status: ChargeStatus, userId: string): Promise<Charge> {
  const row = await scope.db
    .updateTable('visit_charges')
    .set({ status, status_changed_at: new Date(), status_changed_by: userId })
    .where('appointment_id', '=', appointmentId)
    .returning('appointment_id')
    .executeTakeFirst();
  if (!row) throw notFound('charge');
  const [charge] = await charges(scope, { appointmentId });
  return charge!;
}

export interface Charge {
  appointmentId: string;
  startsAt: string;
  appointmentType: string;
  providerId: string;
  providerName: string;
  patientId: string;
  patientName: string;
  amountMinor: number;
  currency: string;
  status: ChargeStatus;
  chargedAt: string;
}

/** The charges of visits that started in a period (or one charge), oldest first: what a billing system takes. */
export async function charges(
  scope: TenantScope,
  where: { from: Date; to: Date; limit: number } | { appointmentId: string },
): Promise<Charge[]> {
  let q = scope.db
    .selectFrom('visit_charges as c')
    .innerJoin('appointments as a', (j) => j.onRef('a.clinic_id', '=', 'c.clinic_id').onRef('a.id', '=', 'c.appointment_id'))
    .innerJoin('providers as p', (j) => j.onRef('p.clinic_id', '=', 'a.clinic_id').onRef('p.id', '=', 'a.provider_id'))
    .innerJoin('patients as pt', (j) => j.onRef('pt.clinic_id', '=', 'a.clinic_id').onRef('pt.id', '=', 'a.patient_id'))
    .select([
      'c.appointment_id',
      'a.starts_at',
      'a.appointment_type',
      'a.provider_id',
      'p.display_name',
      'a.patient_id',
      'pt.given_name',
      'pt.family_name',
      'c.amount_minor',
      'c.currency',
      'c.status',
      'c.charged_at',
    ]);
  if ('appointmentId' in where) q = q.where('c.appointment_id', '=', where.appointmentId);
  else
    q = q
      .where('a.starts_at', '>=', where.from)
      .where('a.starts_at', '<', where.to)
      .orderBy('a.starts_at')
      .orderBy('c.appointment_id')
      .limit(where.limit);
  const rows = await q.execute();
  return rows.map((r) => ({
    appointmentId: r.appointment_id,
    startsAt: r.starts_at.toISOString(),
    appointmentType: r.appointment_type,
    providerId: r.provider_id,
    providerName: r.display_name,
    patientId: r.patient_id,
    patientName: `${r.given_name} ${r.family_name}`,
    amountMinor: r.amount_minor,
    currency: r.currency,
    status: r.status,
    chargedAt: r.charged_at.toISOString(),
  }));
}

export interface Revenue {
  currency: string | null;
  chargedMinor: number;
  paidMinor: number;
  outstandingMinor: number;
  waivedMinor: number;
  chargedVisits: number;
  /** Completed visits of a type without a fee when they were completed. */
  visitsWithoutFee: number;
  byMonth: { month: string; chargedMinor: number; paidMinor: number }[];
  byProvider: { providerId: string; displayName: string; visits: number; chargedMinor: number }[];
  byType: { appointmentType: string; visits: number; chargedMinor: number }[];
}

const n = (v: unknown) => Number(v ?? 0);

/** Revenue of the visits that started in a period (UTC months), aggregate only. */
export async function revenue(scope: TenantScope, from: Date, to: Date): Promise<Revenue> {
  const base = sql`from visit_charges c join appointments a on a.clinic_id = c.clinic_id and a.id = c.appointment_id
    where a.starts_at >= ${from} and a.starts_at < ${to}`;
  const totals = await sql<{ currency: string | null; visits: string; charged: string; paid: string; waived: string }>`
    select max(c.currency) as currency, count(*) as visits, coalesce(sum(c.amount_minor), 0) as charged,
      coalesce(sum(c.amount_minor) filter (where c.status = 'paid'), 0) as paid,
      coalesce(sum(c.amount_minor) filter (where c.status = 'waived'), 0) as waived ${base}`.execute(scope.db);
  const months = await sql<{ month: string; charged: string; paid: string }>`
    select to_char(date_trunc('month', a.starts_at at time zone 'UTC'), 'YYYY-MM') as month, sum(c.amount_minor) as charged,
      coalesce(sum(c.amount_minor) filter (where c.status = 'paid'), 0) as paid ${base} group by 1 order by 1`.execute(scope.db);
  const providers = await sql<{ id: string; display_name: string; visits: string; charged: string }>`
    select a.provider_id as id, min(p.display_name) as display_name, count(*) as visits, sum(c.amount_minor) as charged
    from visit_charges c join appointments a on a.clinic_id = c.clinic_id and a.id = c.appointment_id
    join providers p on p.clinic_id = a.clinic_id and p.id = a.provider_id
    where a.starts_at >= ${from} and a.starts_at < ${to} group by a.provider_id order by charged desc, a.provider_id`.execute(scope.db);
  const types = await sql<{ appointment_type: string; visits: string; charged: string }>`
    select a.appointment_type, count(*) as visits, sum(c.amount_minor) as charged ${base}
    group by a.appointment_type order by charged desc, a.appointment_type`.execute(scope.db);
  const unfeed = await sql<{ n: string }>`
    select count(*) as n from appointments a where a.status = 'completed' and a.starts_at >= ${from} and a.starts_at < ${to}
      and not exists (select 1 from visit_charges c where c.clinic_id = a.clinic_id and c.appointment_id = a.id)`.execute(scope.db);
  const t = totals.rows[0];
  const charged = n(t?.charged);
  const paid = n(t?.paid);
  const waived = n(t?.waived);
  return {
    currency: t?.currency ?? (await feeSchedule(scope)).currency,
    chargedMinor: charged,
    paidMinor: paid,
    waivedMinor: waived,
    outstandingMinor: charged - paid - waived,
    chargedVisits: n(t?.visits),
    visitsWithoutFee: n(unfeed.rows[0]?.n),
    byMonth: months.rows.map((r) => ({ month: r.month, chargedMinor: n(r.charged), paidMinor: n(r.paid) })),
    byProvider: providers.rows.map((r) => ({
      providerId: r.id,
      displayName: r.display_name,
      visits: n(r.visits),
      chargedMinor: n(r.charged),
    })),
    byType: types.rows.map((r) => ({ appointmentType: r.appointment_type, visits: n(r.visits), chargedMinor: n(r.charged) })),
  };
}
