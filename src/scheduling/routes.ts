import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../errors.js';
import { idSchema } from '../ids.js';
import type { SchedulingDeps } from './deps.js';
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
 * appointments (`appointment-routes.ts`); intake (`intake-routes.ts`). All live in the clinic-scoped plugin,
 * which checks membership (else 404) and the declared permission (else 403) before the handler reads through
 * the clinic's tenant transaction, where another clinic's records do not exist.
 */
export const schedulingRoutes =
  (p: SchedulingDeps): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(providerRoutes(p));
    await app.register(appointmentRoutes(p));
    await app.register(intakeRoutes(p));
  };

const ProviderParams = z.strictObject({ providerId: idSchema('provider') });
const OverrideParams = ProviderParams.extend({ date: z.string().max(32) });
const tags = ['scheduling'];
/** Free times and appointment types hold no patient data: whoever books or manages providers may see them. */
const SEE_SCHEDULE = ['schedule.read', 'provider.read'] as const;

function requireDate(value: string): string {
  if (!isCalendarDate(value)) throw badRequest('invalid_date', `"${value}" is not a calendar date (YYYY-MM-DD)`);
  return value;
}

const providerRoutes =
  (p: SchedulingDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/providers', {
      config: { permission: 'provider.read' },
      schema: {
        tags,
        summary: 'The clinic’s providers',
        querystring: ProviderListQuery,
        response: { 200: ProviderPage, ...schedulingProblems },
      },
      handler: async (req) => req.clinic.read((scope) => listProviders(scope, req.query)),
    });

    app.post('/providers', {
      config: { permission: 'provider.manage' },
      schema: {
        tags,
        summary: 'Add a provider (a clinician of the clinic) with their time zone and specialty',
        body: ProviderInput,
        response: { 201: Provider, ...schedulingProblems },
      },
      handler: async (req, reply) => {
        const provider = await req.clinic.write((scope) => createProvider(p, scope, req.body));
        return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/providers/${provider.id}`).send(provider);
      },
    });

    app.get('/providers/:providerId', {
      config: { permission: 'provider.read' },
      schema: { tags, summary: 'One provider', params: ProviderParams, response: { 200: Provider, ...schedulingProblems } },
      handler: async (req) => {
        const { providerId } = req.params;
        return req.clinic.read((scope) => getProvider(scope, providerId));
      },
    });

    app.patch('/providers/:providerId', {
      config: { permission: 'provider.manage' },
      schema: {
        tags,
        summary: 'Change a provider',
        params: ProviderParams,
        body: ProviderPatch,
        response: { 200: Provider, ...schedulingProblems },
      },
      handler: async (req) => {
        const { providerId } = req.params;
        return req.clinic.write((scope) => updateProvider(scope, providerId, req.body));
      },
    });

    app.get('/providers/:providerId/availability', {
      config: { permission: 'provider.read' },
      schema: {
        tags,
        summary: 'A provider’s weekly hours and date overrides',
        params: ProviderParams,
        querystring: AvailabilityQuery,
        response: { 200: Availability, ...schedulingProblems },
      },
      handler: async (req) => {
        const { providerId } = req.params;
        return req.clinic.read((scope) => getAvailability(scope, providerId, req.query));
      },
    });

    app.put('/providers/:providerId/availability/weekly', {
      config: { permission: 'provider.manage' },
      schema: {
        tags,
        summary: 'Replace a provider’s weekly hours',
        params: ProviderParams,
        body: WeeklyAvailabilityInput,
        response: { 200: Availability, ...schedulingProblems },
      },
      handler: async (req) => {
        const { providerId } = req.params;
        return req.clinic.write((scope) => replaceWeekly(scope, providerId, req.body));
      },
    });

    app.put('/providers/:providerId/availability/overrides/:date', {
      config: { permission: 'provider.manage' },
      schema: {
        tags,
        summary: 'Set a provider’s hours for one date',
        params: OverrideParams,
        body: OverrideInput,
        response: { 200: Availability, ...schedulingProblems },
      },
      handler: async (req) => {
        const { providerId, date } = req.params;
        return req.clinic.write((scope) => putOverride(scope, providerId, requireDate(date), req.body));
      },
    });

    app.delete('/providers/:providerId/availability/overrides/:date', {
      config: { permission: 'provider.manage' },
      schema: { tags, summary: 'Remove a date override', params: OverrideParams, response: { 204: z.null(), ...schedulingProblems } },
      handler: async (req, reply) => {
        const { providerId, date } = req.params;
        await req.clinic.write((scope) => deleteOverride(scope, providerId, requireDate(date)));
        return reply.code(204).send(null);
      },
    });

    app.get('/providers/:providerId/slots', {
      config: { permission: SEE_SCHEDULE },
      schema: {
        tags,
        summary: 'Free slots of a provider for an appointment type',
        params: ProviderParams,
        querystring: SlotQuery,
        response: { 200: SlotPage, ...schedulingProblems },
      },
      handler: async (req) => {
        const { providerId } = req.params;
        return findSlots(p, req.clinic.id, providerId, req.query, Date.now());
      },
    });

    app.get('/appointment-types', {
      config: { permission: SEE_SCHEDULE },
      schema: {
        tags,
        summary: 'The appointment types the clinic offers, with their booking rules',
        response: { 200: AppointmentTypeList, ...schedulingProblems },
      },
      handler: async (req) => {
        const settings = (await p.settings.effectiveFor(req.clinic.id)).scheduling;
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
              bookableOnline: t.bookableOnline,
            };
          }),
          slotIncrementMinutes: settings.slotIncrementMinutes,
          overbooking: settings.overbooking,
        };
      },
    });
  };
