import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Permission } from '../access/roles.js';
import type { PhiAccess } from '../audit/trail.js';
import { auditAs } from '../http/clinic-scope.js';
import { badRequest } from '../errors.js';
import { idSchema } from '../ids.js';
import { notifiedBooking, type SchedulingDeps } from './deps.js';
import { appointmentHistory, cancelAppointment, changeStatus, getAppointment, listAppointments } from './appointments.js';
import { bookAppointment, rescheduleAppointment } from './booking.js';
import { requireIdempotencyKey } from './idempotency.js';
import type { AppointmentStatus } from './migration.js';
import { getProviderRow } from './providers.js';
import {
  Appointment,
  AppointmentHistory,
  AppointmentListQuery,
  AppointmentPage,
  BookingInput,
  CancelInput,
  IdempotencyHeaders,
  RescheduleInput,
  schedulingProblems,
} from './schemas.js';
import { requireTimeZone } from './zones.js';

/**
 * Appointments: booking (with Idempotency-Key), the calendar lists, the lifecycle and its history.
 * Schedulers book, move, cancel and check patients in (`schedule.write`) and see the calendar
 * (`schedule.read`); starting and completing a visit is clinical work (`encounter.write`).
 * Appointments are patient data: every route records its access in the audit trail, with its outcome,
 * and a member whose role may not do it is recorded as denied.
 */
const AppointmentParams = z.strictObject({ appointmentId: idSchema('appointment') });
const tags = ['appointments'];
const resourceType = 'Appointment';

/** The patient an appointment belongs to is known once it is read: the audit record names them. */
const withPatient = (a: { patientId: string }): Partial<PhiAccess> => ({ patientId: a.patientId });
/** An access to one appointment named in the path. */
const oneAppointment = (action: PhiAccess['action'], detail?: Record<string, string | boolean>) =>
  auditAs(({ params }) => ({
    action,
    resourceType,
    resourceId: params.appointmentId ?? null,
    patientId: null,
    ...(detail ? { detail } : {}),
  }));
/** Which filters a calendar search used, never their values. */
const filtersOf = (q: { providerId?: unknown; date?: unknown; status?: unknown }) => ({
  ...(q.providerId ? { byProvider: true } : {}),
  ...(q.date ? { byDay: true } : {}),
  ...(q.status ? { byStatus: true } : {}),
});

const STATUS_ACTIONS: {
  path: string;
  to: 'checked_in' | 'in_progress' | 'completed' | 'no_show';
  permission: Permission;
  summary: string;
}[] = [
  { path: 'check-in', to: 'checked_in', permission: 'schedule.write', summary: 'Check the patient in' },
  { path: 'start', to: 'in_progress', permission: 'encounter.write', summary: 'Start the visit' },
  { path: 'complete', to: 'completed', permission: 'encounter.write', summary: 'Complete the visit' },
  { path: 'no-show', to: 'no_show', permission: 'schedule.write', summary: 'Mark the patient as not having come' },
];

export const appointmentRoutes =
  (p: SchedulingDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/appointments', {
      config: {
        permission: 'schedule.write',
        phi: auditAs(({ body }) => ({
          action: 'create',
          resourceType,
          resourceId: null,
          patientId: (body as { patientId: string }).patientId,
        })),
      },
      schema: {
        tags,
        summary: 'Book an appointment in a free slot (idempotent with Idempotency-Key)',
        headers: IdempotencyHeaders,
        body: BookingInput,
        response: { 201: Appointment, ...schedulingProblems },
      },
      handler: async (req, reply) => {
        const { clinic } = req;
        const key = requireIdempotencyKey(req.headers['idempotency-key']);
        // Notices also on a replay: a booking whose first response was lost may not have scheduled them yet.
        const booking = notifiedBooking(p.notices, clinic.id, () =>
          bookAppointment(p, clinic.id, req.body, key, clinic.userId, Date.now()),
        );
        const result = await clinic.audited(booking.run, (r) => ({
          resourceId: r.body.id,
          ...(r.replayed ? { detail: { replayed: true } } : {}),
        }));
        await booking.scheduled();
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).header('location', `/api/v1/clinics/${clinic.id}/appointments/${result.body.id}`).send(result.body);
      },
    });

    app.get('/appointments', {
      config: {
        permission: 'schedule.read',
        phi: auditAs(({ query }) => ({
          action: 'search',
          resourceType,
          resourceId: null,
          patientId: (query.patientId as string | undefined) ?? null,
          detail: { ...filtersOf(query), list: true },
        })),
      },
      schema: {
        tags,
        summary: 'The calendar: appointments by provider, patient, day (or run of days) and status',
        querystring: AppointmentListQuery,
        response: { 200: AppointmentPage, ...schedulingProblems },
      },
      handler: async (req) => {
        const q = req.query;
        const page = await req.clinic.read(async (scope) => {
          let day: { date: string; zone: string; days: number } | undefined;
          if (q.date) {
            const zone = q.tz
              ? requireTimeZone(q.tz, 'tz')
              : q.providerId
                ? (await getProviderRow(scope, q.providerId)).time_zone
                : undefined;
            if (!zone)
              throw badRequest('time_zone_required', 'A day is read in a time zone: give `tz`, or `providerId` to use the provider’s');
            day = { date: q.date, zone, days: q.days };
          }
          return listAppointments(scope, {
            providerId: q.providerId,
            patientId: q.patientId,
            day,
            statuses: q.status?.split(',') as AppointmentStatus[] | undefined,
            limit: q.limit,
            cursor: q.cursor,
          });
        });
        // One record per appointment shown, so the trail answers "who saw this patient's appointments" (the list's own
        // record is written while the read runs and says what was asked; these say what was shown).
        const detail = filtersOf(q);
        await req.clinic.record(
          page.items.map((a) => ({ action: 'search' as const, resourceType, resourceId: a.id, patientId: a.patientId, detail })),
        );
        return page;
      },
    });

    app.get('/appointments/:appointmentId', {
      config: { permission: 'schedule.read', phi: oneAppointment('read') },
      schema: { tags, summary: 'One appointment', params: AppointmentParams, response: { 200: Appointment, ...schedulingProblems } },
      handler: async (req) => req.clinic.read((scope) => getAppointment(scope, req.params.appointmentId), withPatient),
    });

    app.get('/appointments/:appointmentId/history', {
      config: { permission: 'schedule.read', phi: oneAppointment('read', { history: true }) },
      schema: {
        tags,
        summary: 'Every change of an appointment, who made it and when',
        params: AppointmentParams,
        response: { 200: AppointmentHistory, ...schedulingProblems },
      },
      handler: async (req) => {
        const { appointmentId } = req.params;
        const [, history] = await req.clinic.read(
          async (scope) => [await getAppointment(scope, appointmentId), await appointmentHistory(scope, appointmentId)] as const,
          ([appointment]) => withPatient(appointment),
        );
        return history;
      },
    });

    app.post('/appointments/:appointmentId/reschedule', {
      config: { permission: 'schedule.write', phi: oneAppointment('update', { change: 'rescheduled' }) },
      schema: {
        tags,
        summary: 'Move an appointment to another free slot',
        params: AppointmentParams,
        body: RescheduleInput,
        response: { 200: Appointment, ...schedulingProblems },
      },
      handler: async (req) => {
        const moved = await req.clinic.audited(
          () => rescheduleAppointment(p, req.clinic.id, req.params.appointmentId, req.body, Date.now()),
          withPatient,
        );
        await p.notices.moved(req.clinic.id, moved);
        return moved;
      },
    });

    app.post('/appointments/:appointmentId/cancel', {
      config: { permission: 'schedule.write', phi: oneAppointment('update', { change: 'cancelled' }) },
      schema: {
        tags,
        summary: 'Cancel an appointment with a reason',
        params: AppointmentParams,
        body: CancelInput,
        response: { 200: Appointment, ...schedulingProblems },
      },
      handler: async (req) => {
        const cancelled = await req.clinic.write(
          (scope) => cancelAppointment(scope, req.params.appointmentId, req.body, Date.now()),
          withPatient,
        );
        await p.notices.cancelled(req.clinic.id, cancelled.id);
        return cancelled;
      },
    });

    for (const action of STATUS_ACTIONS)
      app.post(`/appointments/:appointmentId/${action.path}`, {
        config: { permission: action.permission, phi: oneAppointment('update', { change: action.to }) },
        schema: { tags, summary: action.summary, params: AppointmentParams, response: { 200: Appointment, ...schedulingProblems } },
        handler: async (req) =>
          req.clinic.write((scope) => changeStatus(scope, req.params.appointmentId, action.to, Date.now()), withPatient),
      });
  };
