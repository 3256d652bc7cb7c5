import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PhiAccess } from '../audit/trail.js';
import { ReleasedSummary, releasedSummaryOfVisit } from '../clinical/summary.js';
import { auditAs } from '../http/clinic-scope.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import { getPatient } from '../patients/store.js';
import { requireIdempotencyKey } from '../scheduling/idempotency.js';
import { listIntakeResponses, listQuestionnaires, submitIntake } from '../scheduling/intake.js';
import { notifiedBooking, type SchedulingDeps } from '../scheduling/deps.js';
import { Appointment, Instant, IntakeResponse, IntakeResponseInput, LocalDate, Questionnaire, SlotPage } from '../scheduling/schemas.js';
import type { PatientAccounts } from './accounts.js';
import { JoinGrant } from '../video/routes.js';
import type { VideoVisits } from '../video/visits.js';
import { bookOnline, cancelOnline, findOnlineSlots, listVisits, onlineTypes, ownAppointment, rescheduleOnline } from './visits.js';

const Visit = z.object({
  id: z.string(),
  appointmentType: z.string(),
  appointmentTypeName: z.string(),
  modality: z.enum(['video', 'in_person']),
  status: Appointment.shape.status,
  startsAt: z.string(),
  endsAt: z.string(),
  timeZone: z.string(),
  local: z.object({ startsAt: z.string(), endsAt: z.string() }),
  provider: z.object({ id: z.string(), displayName: z.string() }),
  changeable: z.boolean().describe('the patient may still move or cancel it online'),
  intakeSubmitted: z.boolean(),
  summaryReleased: z.boolean(),
});
const VisitParams = z.strictObject({ appointmentId: idSchema('appointment') });
const TimeZone = z.string().min(1).max(64);
const problems = { ...problemResponses, 422: Problem };
const SixDigits = z.string().regex(/^\d{6}$/, 'must be the 6-digit code of the authenticator app');

/** A PHI record of the patient's own. */
const own =
  (action: PhiAccess['action'], resourceType: string) =>
  ({ params }: { params: Readonly<Record<string, string>> }): PhiAccess => ({
    action,
    resourceType,
    resourceId: params.appointmentId ?? null,
    patientId: null,
  });

export interface PortalRouteDeps extends SchedulingDeps {
  patientAccounts: PatientAccounts;
  /** The one issuer of video join tokens: the signed-in patient joins their own visit through it. */
  video: { visits: Pick<VideoVisits, 'grant'> };
}

/**
 * The patient portal's API, inside the patient-scoped plugin (`http/patient-scope.ts`): a patient's own record,
 * visits, booking, intake and released summaries. Every handler takes the patient from `req.patient`, never from
 * the request, and every PHI route is audited with the patient as the actor.
 */
export const portalRoutes =
  (p: PortalRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const settingsOf = (clinicId: string) => p.settings.effectiveFor(clinicId);
    const mine = (req: { patient: { patientId: string } }) => ({ patientId: req.patient.patientId });

    app.get('/me', {
      config: { phi: auditAs(() => ({ action: 'read', resourceType: 'Patient', resourceId: null, patientId: null })) },
      schema: {
        summary: 'The signed-in patient: their account and record',
        response: {
          200: z.object({
            accountId: z.string(),
            email: z.string(),
            authMethod: z.enum(['link', 'password']),
            patient: z.object({ id: z.string(), givenName: z.string(), familyName: z.string(), birthDate: z.string() }),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const me = req.patient.principal;
        const patient = await req.patient.read(
          (scope) => getPatient(scope, me.patientId),
          (r) => ({ resourceId: r.id, patientId: r.id }),
        );
        const { id, givenName, familyName, birthDate } = patient;
        return { accountId: me.accountId, email: me.email, authMethod: me.authMethod, patient: { id, givenName, familyName, birthDate } };
      },
    });

    app.put('/password', {
      schema: {
        summary: 'Choose a password for signing in without a link (optional)',
        body: z.strictObject({ password: z.string().min(12, 'at least 12 characters').max(1024) }),
        response: { 204: z.null(), ...problems },
      },
      handler: async (req, reply) => {
        await p.patientAccounts.setPassword(req.patient.principal, req.body.password);
        return reply.code(204).send(null);
      },
    });

    app.get('/mfa', {
      schema: {
        summary: 'Whether two-step sign-in (an authenticator app) is on for this account',
        response: { 200: z.object({ totp: z.boolean() }), ...problems },
      },
      handler: async (req) => ({ totp: await p.patientAccounts.mfa.mfaEnrolled(req.patient.principal) }),
    });

    app.post('/mfa/totp', {
      schema: {
        summary: 'Start two-step sign-in: a secret (and otpauth URI for a QR code) to add to an authenticator app',
        response: { 200: z.object({ secret: z.string().describe('base32'), otpauthUri: z.string(), issuer: z.string() }), ...problems },
      },
      handler: async (req) => p.patientAccounts.mfa.enrolTotp(req.patient.principal),
    });

    app.post('/mfa/totp/confirm', {
      schema: {
        summary: 'Confirm two-step sign-in with a current code: ten recovery codes, shown this once',
        body: z.strictObject({ code: SixDigits }),
        response: { 200: z.object({ recoveryCodes: z.array(z.string()) }), ...problems },
      },
      handler: async (req) => ({ recoveryCodes: await p.patientAccounts.mfa.confirmTotp(req.patient.principal, req.body.code) }),
    });

    app.delete('/mfa/totp', {
      schema: {
        summary: 'Turn two-step sign-in off (a current code, or a recovery code when the phone is gone)',
        body: z
          .strictObject({ code: SixDigits.optional(), recoveryCode: z.string().min(1).max(64).optional() })
          .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), 'give either code or recoveryCode'),
        response: { 204: z.null(), ...problems, 429: Problem },
      },
      handler: async (req, reply) => {
        const { code, recoveryCode } = req.body;
        await p.patientAccounts.mfa.disableTotp(
          req.patient.principal,
          code !== undefined ? { code } : { recoveryCode: recoveryCode ?? '' },
        );
        return reply.code(204).send(null);
      },
    });

    app.post('/sign-out', {
      schema: { summary: 'Sign out of the patient portal: the session stops working', response: { 204: z.null(), ...problemResponses } },
      handler: async (req, reply) => {
        await p.patientAccounts.sessions.signOut(req.patient.principal);
        return reply.code(204).send(null);
      },
    });

    app.get('/booking-options', {
      schema: {
        summary: 'What the patient may book online: the appointment types the clinic offers online and its providers',
        response: {
          200: z.object({
            appointmentTypes: z.array(
              z.object({ key: z.string(), name: z.string(), durationMinutes: z.number().int(), modality: z.enum(['video', 'in_person']) }),
            ),
            providers: z.array(
              z.object({ id: z.string(), displayName: z.string(), specialty: z.string().nullable(), timeZone: z.string() }),
            ),
            cancellationNoticeHours: z.number().int(),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const s = await settingsOf(req.patient.clinicId);
        const providers = await req.patient.read((scope) =>
          scope.db
            .selectFrom('providers')
            .select(['id', 'display_name', 'specialty', 'time_zone'])
            .where('active', '=', true)
            .orderBy('display_name')
            .limit(200)
            .execute(),
        );
        return {
          appointmentTypes: onlineTypes(s).map((t) => ({
            key: t.key,
            name: t.name,
            durationMinutes: t.durationMinutes,
            modality: t.modality,
          })),
          providers: providers.map((r) => ({ id: r.id, displayName: r.display_name, specialty: r.specialty, timeZone: r.time_zone })),
          cancellationNoticeHours: s.portal.cancellationNoticeHours,
        };
      },
    });

    app.get('/slots', {
      schema: {
        summary: 'Open slots of a provider for an appointment type offered online',
        querystring: z.strictObject({
          providerId: idSchema('provider'),
          type: z.string().min(1).max(40),
          from: z.union([Instant, LocalDate]).optional(),
          to: z.union([Instant, LocalDate]).optional(),
          tz: TimeZone.optional(),
        }),
        response: { 200: SlotPage, ...problems },
      },
      handler: async (req) => findOnlineSlots(p, req.patient.clinicId, await settingsOf(req.patient.clinicId), req.query, Date.now()),
    });

    app.get('/visits', {
      config: { phi: auditAs(own('search', 'Appointment')) },
      schema: {
        summary: 'The patient’s visits: upcoming (soonest first) and past (latest first)',
        response: { 200: z.object({ upcoming: z.array(Visit), past: z.array(Visit) }), ...problemResponses },
      },
      handler: async (req) => {
        const s = await settingsOf(req.patient.clinicId);
        return req.patient.read(
          (scope) => listVisits(scope, req.patient.patientId, s, Date.now()),
          (r) => ({ ...mine(req), detail: { count: r.upcoming.length + r.past.length } }),
        );
      },
    });

    app.post('/visits', {
      config: { phi: auditAs(() => ({ action: 'create', resourceType: 'Appointment', resourceId: null, patientId: null })) },
      schema: {
        summary: 'Book a visit for oneself (send an Idempotency-Key: a retried request books once)',
        headers: z.object({ 'idempotency-key': z.string().optional() }),
        body: z.strictObject({
          providerId: idSchema('provider'),
          appointmentType: z.string().min(1).max(40),
          startsAt: Instant,
          timeZone: TimeZone.optional(),
        }),
        response: { 200: Appointment, 201: Appointment, ...problems },
      },
      handler: async (req, reply) => {
        const raw = req.headers['idempotency-key'];
        const key = raw === undefined ? randomUUID() : requireIdempotencyKey(raw);
        const s = await settingsOf(req.patient.clinicId);
        // The same notices as a booking at the front desk (also on a replay, as there: the first answer may be lost).
        const booking = notifiedBooking(p.notices, req.patient.clinicId, () =>
          bookOnline(p, req.patient.clinicId, req.patient.patientId, s, req.body, key, req.patient.principal.accountId, Date.now()),
        );
        const r = await req.patient.audited(booking.run, (out) => ({ resourceId: out.body.id, ...mine(req) }));
        await booking.scheduled();
        return reply.code(r.status).send(r.body);
      },
    });

    app.post('/visits/:appointmentId/reschedule', {
      config: { phi: auditAs(own('update', 'Appointment')) },
      schema: {
        summary: 'Move one’s visit to another open slot (up to the clinic’s cancellation notice)',
        params: VisitParams,
        body: z.strictObject({ startsAt: Instant, timeZone: TimeZone.optional() }),
        response: { 200: Appointment, ...problems },
      },
      handler: async (req) => {
        const s = await settingsOf(req.patient.clinicId);
        const moved = await req.patient.audited(
          () => rescheduleOnline(p, req.patient.clinicId, req.patient.patientId, s, req.params.appointmentId, req.body, Date.now()),
          () => mine(req),
        );
        await p.notices.moved(req.patient.clinicId, moved);
        return moved;
      },
    });

    app.post('/visits/:appointmentId/cancel', {
      config: { phi: auditAs(own('update', 'Appointment')) },
      schema: {
        summary: 'Cancel one’s visit (up to the clinic’s cancellation notice)',
        params: VisitParams,
        body: z.strictObject({ note: z.string().trim().max(500).optional() }),
        response: { 200: Appointment, ...problems },
      },
      handler: async (req) => {
        const s = await settingsOf(req.patient.clinicId);
        const cancelled = await req.patient.write(
          (scope) => cancelOnline(scope, req.patient.patientId, s, req.params.appointmentId, req.body.note, Date.now()),
          () => mine(req),
        );
        await p.notices.cancelled(req.patient.clinicId, cancelled.id);
        return cancelled;
      },
    });

    app.post('/visits/:appointmentId/video/join', {
      config: { phi: auditAs(own('read', 'Appointment')) },
      schema: {
        summary: 'Join one’s own video visit: a short-lived join token for the waiting room (another patient’s visit is 404)',
        params: VisitParams,
        response: { 200: JoinGrant, ...problems },
      },
      handler: async (req) =>
        req.patient.audited(
          () => p.video.visits.grant(req.patient.clinicId, req.params.appointmentId, { kind: 'patient', patientId: req.patient.patientId }),
          () => mine(req),
        ),
    });

    app.get('/visits/:appointmentId/intake', {
      config: { phi: auditAs(own('read', 'IntakeResponse')) },
      schema: {
        summary: 'The intake questionnaire to fill before a visit, and what the patient sent already',
        params: VisitParams,
        response: {
          200: z.object({ questionnaire: Questionnaire.nullable(), responses: z.array(IntakeResponse) }),
          ...problemResponses,
        },
      },
      handler: async (req) =>
        req.patient.read(
          async (scope) => {
            await ownAppointment(scope, req.patient.patientId, req.params.appointmentId);
            const questionnaire = (await listQuestionnaires(scope)).items.find((q) => q.active) ?? null;
            return { questionnaire, responses: (await listIntakeResponses(scope, req.params.appointmentId)).items };
          },
          () => mine(req),
        ),
    });

    app.post('/visits/:appointmentId/intake', {
      config: { phi: auditAs(own('create', 'IntakeResponse')) },
      schema: {
        summary: 'Send the intake questionnaire for one’s visit',
        params: VisitParams,
        body: IntakeResponseInput,
        response: { 201: IntakeResponse, ...problems },
      },
      handler: async (req, reply) => {
        const required = (await settingsOf(req.patient.clinicId)).intake.requiredFields;
        const response = await req.patient.write(
          async (scope) => {
            await ownAppointment(scope, req.patient.patientId, req.params.appointmentId, true);
            return submitIntake(scope, req.params.appointmentId, req.body, required);
          },
          () => mine(req),
        );
        return reply.code(201).send(response);
      },
    });

    app.get('/visits/:appointmentId/summary', {
      config: { phi: auditAs(own('read', 'Encounter')) },
      schema: {
        summary: 'What the provider released of the visit (diagnoses, prescriptions, vitals, a message); 404 until released',
        params: VisitParams,
        response: { 200: ReleasedSummary, ...problemResponses },
      },
      handler: async (req) =>
        req.patient.read(
          async (scope) => {
            await ownAppointment(scope, req.patient.patientId, req.params.appointmentId);
            return releasedSummaryOfVisit(scope, req.params.appointmentId);
          },
          (r) => ({ resourceId: r.encounterId, ...mine(req) }),
        ),
    });
  };
