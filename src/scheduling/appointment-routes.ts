import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Permission } from '../access/roles.js';
import { audited, auditPhi, requirePhiPermission, type PhiAccess } from '../audit/trail.js';
import { badRequest } from '../errors.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
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
const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const AppointmentParams = z.strictObject({ clinicId: idSchema('clinic'), appointmentId: idSchema('appointment') });
const tags = ['appointments'];
const security = [{ bearer: [] }];
const resourceType = 'Appointment';

/** The patient an appointment belongs to is known once it is read: the audit record names them. */
const withPatient = (a: { patientId: string }): Partial<PhiAccess> => ({ patientId: a.patientId });

const STATUS_ACTIONS: { path: string; to: 'checked_in' | 'in_progress' | 'completed' | 'no_show'; permission: Permission }[] = [
  { path: 'check-in', to: 'checked_in', permission: 'schedule.write' },
  { path: 'start', to: 'in_progress', permission: 'encounter.write' },
  { path: 'complete', to: 'completed', permission: 'encounter.write' },
  { path: 'no-show', to: 'no_show', permission: 'schedule.write' },
];

export const appointmentRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/api/v1/clinics/:clinicId/appointments', {
      schema: {
        tags,
        security,
        params: ClinicParams,
        headers: IdempotencyHeaders,
        body: BookingInput,
        response: { 201: Appointment, ...schedulingProblems },
      },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        const access: PhiAccess = { action: 'create', resourceType, resourceId: null, patientId: req.body.patientId };
        await requirePhiPermission(p, req, clinicId, 'schedule.write', access);
        const key = requireIdempotencyKey(req.headers['idempotency-key']);
        const result = await audited(
          p,
          clinicId,
          access,
          () => bookAppointment(p, clinicId, req.body, key, req.principal?.userId ?? null, Date.now()),
          (r) => ({ resourceId: r.body.id, ...(r.replayed ? { detail: { replayed: true } } : {}) }),
        );
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/appointments/${result.body.id}`).send(result.body);
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointments', {
      schema: { tags, security, params: ClinicParams, querystring: AppointmentListQuery, response: { 200: AppointmentPage, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId } = req.params;
        const q = req.query;
        const detail = { ...(q.providerId ? { byProvider: true } : {}), ...(q.date ? { byDay: true } : {}), ...(q.status ? { byStatus: true } : {}) };
        const access: PhiAccess = { action: 'search', resourceType, resourceId: null, patientId: q.patientId ?? null, detail };
        await requirePhiPermission(p, req, clinicId, 'schedule.read', access);
        const page = await audited(p, clinicId, { ...access, detail: { ...detail, list: true } }, () =>
          p.stores.transaction(clinicId, 'read', async (scope) => {
            let day: { date: string; zone: string } | undefined;
            if (q.date) {
              const zone = q.tz
                ? requireTimeZone(q.tz, 'tz')
                : q.providerId
                  ? (await getProviderRow(scope, q.providerId)).time_zone
                  : undefined;
              if (!zone) throw badRequest('time_zone_required', 'A day is read in a time zone: give `tz`, or `providerId` to use the provider’s');
              day = { date: q.date, zone };
            }
            return listAppointments(scope, {
              providerId: q.providerId,
              patientId: q.patientId,
              day,
              statuses: q.status?.split(',') as AppointmentStatus[] | undefined,
              limit: q.limit,
              cursor: q.cursor,
            });
          }),
          (result) => ({ detail: { count: result.items.length } }),
        );
        // One record per appointment shown, so the trail answers "who saw this patient's appointments".
        if (page.items.length)
          await auditPhi(p, clinicId, page.items.map((a) => ({ action: 'search' as const, resourceType, resourceId: a.id, patientId: a.patientId, detail })));
        return page;
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointments/:appointmentId', {
      schema: { tags, security, params: AppointmentParams, response: { 200: Appointment, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'read', resourceType, resourceId: appointmentId, patientId: null };
        await requirePhiPermission(p, req, clinicId, 'schedule.read', access);
        return audited(p, clinicId, access, () => p.stores.transaction(clinicId, 'read', (scope) => getAppointment(scope, appointmentId)), withPatient);
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointments/:appointmentId/history', {
      schema: { tags, security, params: AppointmentParams, response: { 200: AppointmentHistory, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'read', resourceType, resourceId: appointmentId, patientId: null, detail: { history: true } };
        await requirePhiPermission(p, req, clinicId, 'schedule.read', access);
        const [, history] = await audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'read', async (scope) => [await getAppointment(scope, appointmentId), await appointmentHistory(scope, appointmentId)] as const),
          ([appointment]) => withPatient(appointment),
        );
        return history;
      },
    });

    app.post('/api/v1/clinics/:clinicId/appointments/:appointmentId/reschedule', {
      schema: { tags, security, params: AppointmentParams, body: RescheduleInput, response: { 200: Appointment, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'update', resourceType, resourceId: appointmentId, patientId: null, detail: { change: 'rescheduled' } };
        await requirePhiPermission(p, req, clinicId, 'schedule.write', access);
        return audited(p, clinicId, access, () => rescheduleAppointment(p, clinicId, appointmentId, req.body, Date.now()), withPatient);
      },
    });

    app.post('/api/v1/clinics/:clinicId/appointments/:appointmentId/cancel', {
      schema: { tags, security, params: AppointmentParams, body: CancelInput, response: { 200: Appointment, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'update', resourceType, resourceId: appointmentId, patientId: null, detail: { change: 'cancelled' } };
        await requirePhiPermission(p, req, clinicId, 'schedule.write', access);
        return audited(p, clinicId, access, () => p.stores.transaction(clinicId, 'write', (scope) => cancelAppointment(scope, appointmentId, req.body, Date.now())), withPatient);
      },
    });

    for (const action of STATUS_ACTIONS)
      app.post(`/api/v1/clinics/:clinicId/appointments/:appointmentId/${action.path}`, {
        schema: { tags, security, params: AppointmentParams, response: { 200: Appointment, ...schedulingProblems } },
        handler: async (req) => {
          const { clinicId, appointmentId } = req.params;
          const access: PhiAccess = { action: 'update', resourceType, resourceId: appointmentId, patientId: null, detail: { change: action.to } };
          await requirePhiPermission(p, req, clinicId, action.permission, access);
          return audited(p, clinicId, access, () => p.stores.transaction(clinicId, 'write', (scope) => changeStatus(scope, appointmentId, action.to, Date.now())), withPatient);
        },
      });
  };
