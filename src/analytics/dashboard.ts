import { sql } from 'kysely';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { PeriodRead } from './daily-totals.js';
import { scanPeriod } from './period-scan.js';
import type { Revenue } from './revenue.js';
import { outcomesSummary, type OutcomesSummary } from './outcomes.js';
import type { Satisfaction } from './surveys.js';

/**
 * The clinic's own dashboard, computed in its region from its own store on full detail. Everything here is
 * an aggregate; the patient-level drill-down is `noShows` (PHI, behind its own permission and audited).
 */
export interface ClinicDashboard {
  from: string;
  to: string;
  appointments: { booked: number; completed: number; cancelled: number; noShow: number };
  /** No-shows among the appointments that were due (completed + no-show); null when none were. */
  noShowRate: number | null;
  /**
   * Booked minutes (not cancelled) against the providers' weekly hours over the period, each day counted
   * on its UTC date (an override of a single day is not subtracted).
   */
  utilisation: { bookedMinutes: number; availableMinutes: number; rate: number | null };
  providers: {
    providerId: string;
    displayName: string;
    completedVisits: number;
    notes: number;
    /** Notes signed within 24 hours of their encounter's opening. */
    notesSignedWithin24h: number;
  }[];
  /** Charges of the period's completed visits, by month, provider and appointment type (aggregates only). */
  revenue: Revenue;
  /** The post-visit surveys of the period's visits (aggregates only). */
  satisfaction: Satisfaction;
  /** PHQ-9 and GAD-7 scores recorded in the period, per instrument (aggregates only). */
  outcomes: OutcomesSummary[];
}

const n = (v: unknown) => Number(v ?? 0);

/** `read.sealed`: the clinic's watermark, when the caller has read it in this transaction (`PeriodRead`). */
export async function clinicDashboard(scope: TenantScope, from: Date, to: Date, read: PeriodRead = {}): Promise<ClinicDashboard> {
  // One pass over the period's appointments for visits, revenue and satisfaction (why: `period-scan.ts`).
  const scan = await scanPeriod(scope, from, to, read);
  const v = scan.visits;
  const bookedMinutes = n(v.booked_minutes);

  const available = await sql<{ minutes: string }>`
    select coalesce(sum(extract(epoch from w.end_time - w.start_time) / 60), 0) as minutes
    from generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 second', interval '1 day') as d(day)
    join availability_windows w on w.weekday = extract(isodow from d.day at time zone 'UTC')
    join providers p on p.clinic_id = w.clinic_id and p.id = w.provider_id and p.active`.execute(scope.db);
  const availableMinutes = n(available.rows[0]?.minutes);

  // Per provider: completed visits from the scan, notes from one grouped pass over the period's encounters.
  // (Correlated count subqueries per provider took 9.6 s on a 1M-appointment clinic: bench/dashboard-1m.ts.)
  const providers = await sql<{ id: string; display_name: string; notes: string | null; prompt: string | null }>`
    select p.id, p.display_name, n.notes, n.prompt
    from providers p left join (
      select e.provider_id, count(*) as notes,
        count(*) filter (where cn.signed_at is not null and cn.signed_at <= e.opened_at + interval '24 hours') as prompt
      from encounters e join clinical_notes cn on cn.clinic_id = e.clinic_id and cn.encounter_id = e.id
      where e.opened_at >= ${from} and e.opened_at < ${to} group by e.provider_id) n on n.provider_id = p.id
    order by p.display_name, p.id`.execute(scope.db);
  const completedBy = scan.completedByProvider;

  return {
    from: from.toISOString(),
    to: to.toISOString(),
    appointments: { booked: n(v.visits), completed: n(v.completed_visits), cancelled: n(v.cancelled_visits), noShow: n(v.no_shows) },
    noShowRate: v.no_show_rate,
    utilisation: {
      bookedMinutes: Math.round(bookedMinutes),
      availableMinutes: Math.round(availableMinutes),
      rate: availableMinutes === 0 ? null : bookedMinutes / availableMinutes,
    },
    providers: providers.rows.map((r) => ({
      providerId: r.id,
      displayName: r.display_name,
      completedVisits: n(completedBy.get(r.id)),
      notes: n(r.notes),
      notesSignedWithin24h: n(r.prompt),
    })),
    revenue: scan.revenue,
    satisfaction: scan.satisfaction,
    outcomes: await outcomesSummary(scope, from, to),
  };
}

export interface NoShow {
  appointmentId: string;
  patientId: string;
  providerId: string;
  appointmentType: string;
  startsAt: string;
}

/** The drill-down behind the no-show rate: which appointments, for which patients. */
export async function noShows(scope: TenantScope, from: Date, to: Date, limit: number): Promise<NoShow[]> {
  const rows = await scope.db
    .selectFrom('appointments')
    .select(['id', 'patient_id', 'provider_id', 'appointment_type', 'starts_at'])
    .where('status', '=', 'no_show')
    .where('starts_at', '>=', from)
    .where('starts_at', '<', to)
    .orderBy('starts_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    appointmentId: r.id,
    patientId: r.patient_id,
    providerId: r.provider_id,
    appointmentType: r.appointment_type,
    startsAt: r.starts_at.toISOString(),
  }));
}
