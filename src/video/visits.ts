import { auditPhi } from '../audit/trail.js';
import type { TrailDeps } from '../audit/region-db.js';
import type { Config } from '../config.js';
import type { RegionConfig } from '../config/regions.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { openEncounter } from '../clinical/encounters.js';
import { type AppError, conflict, notFound } from '../errors.js';
import { emit } from '../events/outbox.js';
import type { EventPayload, EventType } from '../events/catalogue.js';
import { currentContext, type RequestContext, runWithContext } from '../platform/request-context.js';
import { changeStatus, getAppointmentRow } from '../scheduling/appointments.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { MediaPlan, VideoProvider } from './provider.js';
import type { RoomRef, RoomStore } from './rooms.js';
import type { JoinClaims, VideoTokens, VideoRole } from './tokens.js';

export interface VideoDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  rooms: RoomStore;
  provider: VideoProvider;
  tokens: VideoTokens;
  config: Pick<Config, 'webAppUrl' | 'video'> & { regions: Pick<RegionConfig, 'id' | 'video'>[] };
  /** The PHI trail, for the appointment's status changes made from the socket (no request to record them). */
  trail: TrailDeps;
}

/** Who asks to join: a staff member of the clinic, or the appointment's patient (visit link, or signed in to the portal). */
export type Participant = { kind: 'staff'; userId: string } | { kind: 'patient'; patientId: string };

export interface JoinGrant {
  token: string;
  expiresAt: string;
  clinicId: string;
  appointmentId: string;
  participantId: string;
  role: VideoRole;
  /** Where the socket connects; its first message carries the token. */
  signalPath: string;
  media: MediaPlan;
}

export const SIGNAL_PATH = '/api/v1/video/signal';
const JOINABLE = ['booked', 'checked_in', 'in_progress'];
/** The way from each joinable status to a visit under way, and on to a visit done (`scheduling/appointments.ts`). */
const TO_IN_PROGRESS: Record<string, ('checked_in' | 'in_progress')[]> = {
  booked: ['checked_in', 'in_progress'],
  checked_in: ['in_progress'],
  in_progress: [],
};
/** A visit link outlives the appointment's end by this much: a visit that overruns stays joinable. */
const LINK_GRACE_MS = 2 * 3600_000;

export const visitEnded = (): AppError => conflict('visit_ended', 'This video visit has ended');

/**
 * Video visits: who may join which room as what, visit links, and the end of a visit. The one issuer of join
 * tokens: the staff route, the visit-link exchange and the patient portal all call `grant`, which checks
 * the appointment in the clinic's own store before it signs anything.
 */
export class VideoVisits {
  constructor(private readonly d: VideoDeps) {}

  async grant(clinicId: string, appointmentId: string, who: Participant, now = Date.now()): Promise<JoinGrant> {
    const clinic = await this.d.clinics.get(clinicId);
    if (!clinic || clinic.status === 'suspended') throw notFound('clinic');
    const appointment = await this.joinable(clinicId, appointmentId, who);
    const room = { clinicId, appointmentId };
    if ((await this.d.rooms.get(room, now)).endedAt) throw visitEnded();
    const participantId = who.kind === 'staff' ? who.userId : who.patientId;
    const role: VideoRole = who.kind === 'staff' ? 'provider' : 'patient';
    const { token, expiresAt } = await this.d.tokens.join(
      { clinicId, appointmentId: appointment.id, participantId, role, region: clinic.dataRegion },
      this.d.config.video.joinTokenSeconds,
      now,
    );
    return {
      token,
      expiresAt: new Date(expiresAt).toISOString(),
      clinicId,
      appointmentId,
      participantId,
      role,
      signalPath: SIGNAL_PATH,
      media: await this.d.provider.mediaFor(room, clinic.dataRegion, participantId),
    };
  }

  /** A link for the appointment's patient (to be emailed): valid until shortly after the visit's end. */
  async visitLink(clinicId: string, appointmentId: string, now = Date.now()): Promise<{ url: string; expiresAt: string }> {
    const clinic = await this.d.clinics.get(clinicId);
    if (!clinic) throw notFound('clinic');
    const appointment = await this.joinable(clinicId, appointmentId, null);
    const expiresAt = appointment.ends_at.getTime() + LINK_GRACE_MS;
    if (expiresAt <= now) throw conflict('visit_over', 'The appointment is over; a visit link would not open');
    const token = await this.d.tokens.visitLink(
      { clinicId, appointmentId, patientId: appointment.patient_id, region: clinic.dataRegion },
      expiresAt,
      now,
    );
    const url = `${this.d.config.webAppUrl}/c/${clinic.slug}/visit/${appointmentId}#link=${token}`;
    return { url, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The patient's way in: a valid visit link becomes a join token, checked again against the clinic's store. */
  async redeem(link: string, now = Date.now()): Promise<JoinGrant> {
    const claims = await this.d.tokens.verifyVisitLink(link, now);
    await this.sameRegion(claims.clinicId, claims.region);
    return this.grant(claims.clinicId, claims.appointmentId, { kind: 'patient', patientId: claims.patientId }, now);
  }

  /** A join token's claims, once the socket presents it: still this region's clinic, still its appointment. */
  async admitSocket(claims: JoinClaims): Promise<RoomRef> {
    await this.sameRegion(claims.clinicId, claims.region);
    const who: Participant =
      claims.role === 'patient' ? { kind: 'patient', patientId: claims.participantId } : { kind: 'staff', userId: claims.participantId };
    await this.joinable(claims.clinicId, claims.appointmentId, who);
    const room = { clinicId: claims.clinicId, appointmentId: claims.appointmentId };
    if ((await this.d.rooms.get(room)).endedAt) throw visitEnded();
    return room;
  }

  /**
   * The provider ends the visit: the room closes for both, and the appointment's encounter (opened now if the
   * visit had none) is where the provider documents it. Called in the clinic route's write transaction.
   */
  async end(
    scope: TenantScope,
    appointmentId: string,
    actorId: string,
    now = Date.now(),
  ): Promise<{ encounterId: string; durationSeconds: number }> {
    const room = { clinicId: scope.clinicId, appointmentId };
    const appointment = await this.appointmentRow(scope, appointmentId);
    const state = await this.d.rooms.get(room, now);
    const existing = await scope.db.selectFrom('encounters').select('id').where('appointment_id', '=', appointmentId).executeTakeFirst();
    let encounterId = existing?.id;
    if (!encounterId) {
      const provider = await scope.db
        .selectFrom('providers')
        .select('user_id')
        .where('id', '=', appointment.provider_id)
        .executeTakeFirstOrThrow();
      encounterId = (
        await openEncounter(scope, { patientId: appointment.patient_id, providerId: provider.user_id, appointmentId }, actorId)
      ).id;
    }
    const endedAt = state.endedAt ?? now;
    const durationSeconds = state.startedAt ? Math.max(0, Math.round((endedAt - state.startedAt) / 1000)) : 0;
    if (!state.endedAt) await emit(scope, 'video.ended', { appointmentId, encounterId, durationSeconds });
    // A visit that took place (someone was admitted, or the appointment was started at the desk) is completed;
    // one where nobody came keeps its status, so the front desk can still record a no-show. Ending twice finds
    // it completed and changes nothing.
    const status = (await getAppointmentRow(scope, appointmentId, true)).status;
    if (status in TO_IN_PROGRESS && (state.startedAt || status === 'in_progress'))
      for (const to of [...TO_IN_PROGRESS[status]!, 'completed' as const]) await changeStatus(scope, appointmentId, to, now);
    return { encounterId, durationSeconds };
  }

  /**
   * The provider admitted the patient: the appointment is under way. It moves booked → checked in → in progress
   * (each step in its history and outbox, as the desk's buttons do) in one transaction holding its row, under the
   * provider's name, and the change goes to the PHI trail. A second admission (a reconnect, a second device)
   * finds it in progress and changes nothing. An appointment that can no longer be joined (cancelled at the
   * desk meanwhile) refuses the admission.
   */
  async admitted(room: RoomRef, providerUserId: string, now = Date.now()): Promise<void> {
    const outer = currentContext();
    const context: RequestContext = {
      requestId: outer?.requestId ?? `video-${room.appointmentId}`,
      clientAddress: outer?.clientAddress ?? null,
      purposeOfUse: 'TREAT',
      actor: { kind: 'user', userId: providerUserId, isOperator: false, clinicId: room.clinicId, role: null },
    };
    return runWithContext(context, async () => {
      const moved = await this.d.stores.transaction(room.clinicId, 'write', async (scope) => {
        const row = await getAppointmentRow(scope, room.appointmentId, true);
        const steps = TO_IN_PROGRESS[row.status];
        if (!steps) throw conflict('visit_not_joinable', `The appointment is ${row.status.replace('_', ' ')}`);
        for (const to of steps) await changeStatus(scope, row.id, to, now);
        return { from: row.status, patientId: row.patient_id, changed: steps.length > 0 };
      });
      if (moved.changed)
        await auditPhi(this.d.trail, room.clinicId, {
          action: 'update',
          resourceType: 'Appointment',
          resourceId: room.appointmentId,
          patientId: moved.patientId,
          detail: { video: 'admit', from: moved.from, to: 'in_progress' },
        });
    });
  }

  /** Marks the room ended once the encounter is committed; sockets are told by the caller. */
  async close(room: RoomRef, now = Date.now()): Promise<void> {
    await this.d.rooms.end(room, now);
    await this.d.provider.close(room);
  }

  /** Writes a visit event in the clinic's outbox (joined, admitted, left), outside any request. */
  async record<T extends EventType>(clinicId: string, type: T, payload: EventPayload<T>): Promise<void> {
    await this.d.stores.transaction(clinicId, 'write', (scope) => emit(scope, type, payload));
  }

  private async sameRegion(clinicId: string, region: string): Promise<void> {
    const clinic = await this.d.clinics.get(clinicId);
    // A token signed with another region's key names a clinic that region does not hold: as good as forged.
    if (!clinic || clinic.status === 'suspended' || clinic.dataRegion !== region) throw notFound('appointment');
  }

  private async appointmentRow(scope: TenantScope, appointmentId: string) {
    const row = await scope.db
      .selectFrom('appointments')
      .select(['id', 'patient_id', 'provider_id', 'modality', 'status', 'ends_at'])
      .where('id', '=', appointmentId)
      .executeTakeFirst();
    if (!row) throw notFound('appointment');
    if (row.modality !== 'video') throw conflict('not_a_video_visit', 'This appointment is not a video visit');
    return row;
  }

  /** The appointment, if it is a video visit that can still be joined, by this patient when one is named. */
  private async joinable(clinicId: string, appointmentId: string, who: Participant | null) {
    const row = await this.d.stores.transaction(clinicId, 'read', (scope) => this.appointmentRow(scope, appointmentId));
    // Another patient's appointment does not exist for this patient.
    if (who?.kind === 'patient' && row.patient_id !== who.patientId) throw notFound('appointment');
    // Ending a visit that took place completes its appointment (`end`): that visit is over, not just closed.
    if (row.status === 'completed') throw visitEnded();
    if (!JOINABLE.includes(row.status)) throw conflict('visit_not_joinable', `The appointment is ${row.status.replace('_', ' ')}`);
    return row;
  }
}
