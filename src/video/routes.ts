import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditAs } from '../http/clinic-scope.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { RoomRelay } from './relay.js';
import type { RoomStore } from './rooms.js';
import { waitingOf } from './signalling.js';
import type { VideoVisits } from './visits.js';

export interface VideoRouteDeps {
  visits: VideoVisits;
  rooms: RoomStore;
  relay: RoomRelay;
}

const IceServer = z.object({ urls: z.array(z.string()), username: z.string().optional(), credential: z.string().optional() });
export const JoinGrant = z.object({
  token: z.string().describe('A join token for the first socket message; valid for minutes'),
  expiresAt: z.string(),
  clinicId: z.string(),
  appointmentId: z.string(),
  participantId: z.string(),
  role: z.enum(['provider', 'patient']),
  signalPath: z.string().describe('The WebSocket path of the signalling socket'),
  media: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('p2p'), iceServers: z.array(IceServer) }),
    z.object({ mode: z.literal('sfu'), iceServers: z.array(IceServer), url: z.string(), token: z.string() }),
  ]),
});
const VisitLink = z.object({ url: z.string(), expiresAt: z.string() });
const Waiting = z.object({
  items: z.array(
    z.object({
      appointmentId: z.string(),
      patientId: z.string(),
      patientName: z.string(),
      waitingSince: z.string(),
      waitingSeconds: z.number().int(),
    }),
  ),
});
const Ended = z.object({ encounterId: z.string(), durationSeconds: z.number().int() });
const AppointmentParams = z.strictObject({ appointmentId: idSchema('appointment') });
const tags = ['video'];
const visit = (action: 'read' | 'create' | 'update', detail: Record<string, string | boolean>) =>
  auditAs(({ params }) => ({ action, resourceType: 'Appointment', resourceId: params.appointmentId ?? null, patientId: null, detail }));

/**
 * Video visits, staff side (inside the clinic-scoped plugin): a join token for the provider, a visit link for
 * the patient, the waiting room across the clinic, and the end of a visit (which opens its encounter).
 */
export const videoClinicRoutes =
  (d: VideoRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/appointments/:appointmentId/video/join', {
      config: { permission: 'schedule.read', phi: visit('read', { video: 'join' }) },
      schema: {
        tags,
        summary: 'A join token for this video visit, as its provider (staff who may see the appointment)',
        params: AppointmentParams,
        response: { 200: JoinGrant, ...problemResponses },
      },
      handler: async (req) =>
        req.clinic.audited(() => d.visits.grant(req.clinic.id, req.params.appointmentId, { kind: 'staff', userId: req.clinic.userId })),
    });

    app.post('/appointments/:appointmentId/video/visit-link', {
      config: { permission: 'schedule.write', phi: visit('create', { video: 'visit-link' }) },
      schema: {
        tags,
        summary: 'A signed link that lets the appointment’s patient into the visit’s waiting room (to be sent to them)',
        params: AppointmentParams,
        response: { 200: VisitLink, ...problemResponses },
      },
      handler: async (req) => req.clinic.audited(() => d.visits.visitLink(req.clinic.id, req.params.appointmentId)),
    });

    app.post('/appointments/:appointmentId/video/end', {
      config: { permission: 'encounter.write', phi: visit('update', { video: 'end' }) },
      schema: {
        tags,
        summary: 'End the video visit for everyone and open (or find) its encounter',
        params: AppointmentParams,
        response: { 200: Ended, ...problemResponses },
      },
      handler: async (req) => {
        const { appointmentId } = req.params;
        const ended = await req.clinic.write((scope) => d.visits.end(scope, appointmentId, req.clinic.userId));
        const room = { clinicId: req.clinic.id, appointmentId };
        await d.visits.close(room);
        await d.relay.send(room, '*', { type: 'ended' });
        return ended;
      },
    });

    app.get('/video/waiting', {
      config: {
        permission: 'schedule.read',
        phi: auditAs(() => ({
          action: 'search',
          resourceType: 'Appointment',
          resourceId: null,
          patientId: null,
          detail: { video: 'waiting' },
        })),
      },
      schema: {
        tags,
        summary: 'Patients waiting in the clinic’s video waiting rooms, longest first',
        response: { 200: Waiting, ...problemResponses },
      },
      handler: async (req) => {
        const now = Date.now();
        const waiting: { appointmentId: string; patientId: string; since: number }[] = [];
        for (const appointmentId of await d.rooms.rooms(req.clinic.id)) {
          const state = await d.rooms.get({ clinicId: req.clinic.id, appointmentId }, now);
          if (state.endedAt) continue;
          for (const w of waitingOf(state)) waiting.push({ appointmentId, patientId: w.patientId, since: Date.parse(w.since) });
        }
        if (!waiting.length) return { items: [] };
        const ids = [...new Set(waiting.map((w) => w.patientId))];
        const names = await req.clinic.read(async (scope) =>
          scope.db.selectFrom('patients').select(['id', 'given_name', 'family_name']).where('id', 'in', ids).execute(),
        );
        const nameOf = new Map(names.map((n) => [n.id, `${n.given_name} ${n.family_name}`]));
        await req.clinic.record(
          waiting.map((w) => ({
            action: 'search' as const,
            resourceType: 'Appointment',
            resourceId: w.appointmentId,
            patientId: w.patientId,
            detail: { video: 'waiting' },
          })),
        );
        return {
          items: waiting
            .filter((w) => nameOf.has(w.patientId))
            .sort((a, b) => a.since - b.since)
            .map((w) => ({
              appointmentId: w.appointmentId,
              patientId: w.patientId,
              patientName: nameOf.get(w.patientId)!,
              waitingSince: new Date(w.since).toISOString(),
              waitingSeconds: Math.round((now - w.since) / 1000),
            })),
        };
      },
    });
  };

/** The patient's way in without an account: a visit link, exchanged for a join token. */
export const videoPublicRoutes =
  (d: Pick<VideoRouteDeps, 'visits'>): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/api/v1/video/visit-links/redeem', {
      config: { public: true },
      schema: {
        tags,
        summary: 'Exchange a visit link (sent to the patient) for a join token to the visit’s waiting room',
        body: z.strictObject({ link: z.string().min(1).max(4096) }),
        response: { 200: JoinGrant, ...problemResponses, 401: problemResponses[401] },
      },
      handler: async (req) => d.visits.redeem(req.body.link),
    });
  };
