import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireClinicPermission } from '../access/guard.js';
import { requireAnyClinicPermission } from './access.js';
import { badRequest } from '../errors.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { appointmentRoutes } from './appointment-routes.js';
import { deleteOverride, getAvailability, putOverride, replaceWeekly } from './availability.js';
import { findSlots, slotRules } from './booking.js';
import { intakeRoutes } from './intake-routes.js';
import { createProvider, getProvider, listProviders, updateProvider } from './providers.js';
import {
  AppointmentTypeList,
  Availability,
  AvailabilityQuery,
  OverrideInput,
  Provider,
  ProviderInput,
  ProviderListQuery,
  ProviderPage,
  ProviderPatch,
  SlotPage,
  SlotQuery,
  WeeklyAvailabilityInput,
  schedulingProblems,
} from './schemas.js';
import { isCalendarDate } from './zones.js';

/**
 * HTTP routes of the scheduling domain: providers, their hours and slots, appointment types (here);
 * appointments (`appointment-routes.ts`); intake (`intake-routes.ts`). Every route passes the guard first
 * (member of the clinic, else 404; role allows, else 403) and then reads through the clinic's tenant
 * transaction, where another clinic's records do not exist.
 */
export const schedulingRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(providerRoutes(p));
    await app.register(appointmentRoutes(p));
    await app.register(intakeRoutes(p));
  };

const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const ProviderParams = z.strictObject({ clinicId: idSchema('clinic'), providerId: idSchema('provider') });
const OverrideParams = ProviderParams.extend({ date: z.string().max(32) });
const tags = ['scheduling'];
const security = [{ bearer: [] }];

function requireDate(value: string): string {
  if (!isCalendarDate(value)) throw badRequest('invalid_date', `"${value}" is not a calendar date (YYYY-MM-DD)`);
  return value;
}

const providerRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/api/v1/clinics/:clinicId/providers', {
      schema: { tags, security, params: ClinicParams, querystring: ProviderListQuery, response: { 200: ProviderPage, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.read');
        return p.stores.transaction(clinicId, 'read', (scope) => listProviders(scope, req.query));
      },
    });

    app.post('/api/v1/clinics/:clinicId/providers', {
      schema: { tags, security, params: ClinicParams, body: ProviderInput, response: { 201: Provider, ...schedulingProblems } },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.manage');
        const provider = await p.stores.transaction(clinicId, 'write', (scope) => createProvider(p, scope, req.body));
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/providers/${provider.id}`).send(provider);
      },
    });

    app.get('/api/v1/clinics/:clinicId/providers/:providerId', {
      schema: { tags, security, params: ProviderParams, response: { 200: Provider, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.read');
        return p.stores.transaction(clinicId, 'read', (scope) => getProvider(scope, providerId));
      },
    });

    app.patch('/api/v1/clinics/:clinicId/providers/:providerId', {
      schema: { tags, security, params: ProviderParams, body: ProviderPatch, response: { 200: Provider, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.manage');
        return p.stores.transaction(clinicId, 'write', (scope) => updateProvider(scope, providerId, req.body));
      },
    });

    app.get('/api/v1/clinics/:clinicId/providers/:providerId/availability', {
      schema: { tags, security, params: ProviderParams, querystring: AvailabilityQuery, response: { 200: Availability, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.read');
        return p.stores.transaction(clinicId, 'read', (scope) => getAvailability(scope, providerId, req.query));
      },
    });

    app.put('/api/v1/clinics/:clinicId/providers/:providerId/availability/weekly', {
      schema: { tags, security, params: ProviderParams, body: WeeklyAvailabilityInput, response: { 200: Availability, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId } = req.params;
        requireClinicPermission(req, clinicId, 'provider.manage');
        return p.stores.transaction(clinicId, 'write', (scope) => replaceWeekly(scope, providerId, req.body));
      },
    });

    app.put('/api/v1/clinics/:clinicId/providers/:providerId/availability/overrides/:date', {
      schema: { tags, security, params: OverrideParams, body: OverrideInput, response: { 200: Availability, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId, date } = req.params;
        requireClinicPermission(req, clinicId, 'provider.manage');
        return p.stores.transaction(clinicId, 'write', (scope) => putOverride(scope, providerId, requireDate(date), req.body));
      },
    });

    app.delete('/api/v1/clinics/:clinicId/providers/:providerId/availability/overrides/:date', {
      schema: { tags, security, params: OverrideParams, response: { 204: z.null(), ...schedulingProblems } },
      handler: async (req, reply) => {
        const { clinicId, providerId, date } = req.params;
        requireClinicPermission(req, clinicId, 'provider.manage');
        await p.stores.transaction(clinicId, 'write', (scope) => deleteOverride(scope, providerId, requireDate(date)));
        return reply.code(204).send(null);
      },
    });

    app.get('/api/v1/clinics/:clinicId/providers/:providerId/slots', {
      schema: { tags, security, params: ProviderParams, querystring: SlotQuery, response: { 200: SlotPage, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, providerId } = req.params;
        // Free times hold no patient data: whoever books or manages providers may see them.
        requireAnyClinicPermission(req, clinicId, ['schedule.read', 'provider.read']);
        return findSlots(p, clinicId, providerId, req.query, Date.now());
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointment-types', {
      schema: { tags, security, params: ClinicParams, response: { 200: AppointmentTypeList, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId } = req.params;
        requireAnyClinicPermission(req, clinicId, ['schedule.read', 'provider.read']);
        const settings = (await p.settings.effectiveFor(clinicId)).scheduling;
        return {
          items: settings.appointmentTypes.map((t) => {
            const { rules } = slotRules(settings, t.key);
            return {
              key: t.key,
              name: t.name,
              durationMinutes: rules.durationMinutes,
              bufferBeforeMinutes: rules.bufferBeforeMinutes,
              bufferAfterMinutes: rules.bufferAfterMinutes,
              minimumNoticeMinutes: rules.minimumNoticeMinutes,
              bookingWindowDays: rules.bookingWindowDays,
              modality: t.modality,
              requiresConfirmation: t.requiresConfirmation,
              maxPerDay: t.maxPerDay ?? null,
            };
          }),
          slotIncrementMinutes: settings.slotIncrementMinutes,
          overbooking: settings.overbooking,
        };
      },
    });
  };
