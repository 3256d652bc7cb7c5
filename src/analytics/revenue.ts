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
