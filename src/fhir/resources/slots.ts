import type { Slot } from '@medplum/fhirtypes';
import { invalidSearch } from '../outcome.js';
import { fhirId, ourId, type ResourceDef } from '../resource-def.js';
import { dateRange } from '../search.js';
import { APPOINTMENT_TYPE_SYSTEM } from './scheduling.js';

/**
 * Free slots, computed as the REST API computes them (`scheduling/booking.ts` `findSlots`: the provider's hours,
 * bookings, buffers, notice and window rules of the appointment type). They are not stored, so a search names the
 * Schedule (the provider) and the service type (the appointment type), and at most 62 days by `start`. A slot's id
 * encodes all three (`prv-….consultation.29412345`, the start in minutes), so a read recomputes it.
 */
export type SlotFinder = (
  providerId: string,
  q: { type: string; from?: string; to?: string },
) => Promise<{ durationMinutes: number; slots: { startsAt: string; endsAt: string; seatsLeft: number }[] }>;

function toSlot(providerId: string, type: string, s: { startsAt: string; endsAt: string }): Slot {
  return {
    resourceType: 'Slot',
    id: `${fhirId(providerId)}.${type}.${Date.parse(s.startsAt) / 60_000}`,
    schedule: { reference: `Schedule/${fhirId(providerId)}` },
    serviceType: [{ coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: type }] }],
    status: 'free',
    start: s.startsAt,
    end: s.endsAt,
  };
}

const none = () => [];

export const slotDef: ResourceDef = {
  type: 'Slot',
  permission: 'schedule.read',
  phi: false,
  params: {
    _id: { type: 'token', documentation: 'The logical id (recomputed: the slot must still be free)', where: none },
    schedule: { type: 'reference', documentation: 'Required: the provider’s Schedule (Schedule/{id})', where: none },
    'service-type': { type: 'token', documentation: `Required: the appointment type (${APPOINTMENT_TYPE_SYSTEM}|code)`, where: none },
    start: { type: 'date', documentation: 'ge/gt and le/lt bounds on the start (default: the next 7 days; at most 62 days)', where: none },
    status: { type: 'token', documentation: 'free (the only status served)', where: none },
  },
  async search(_scope, q, env) {
    if (!env.slots) return [];
    const one = q.params.get('_id')?.[0]?.split(',')[0];
    if (one) {
      const m = /^(prv-[0-9a-z]{26})\.([A-Za-z0-9-]{1,40})\.(\d{1,10})$/.exec(one);
      const providerId = m ? ourId(m[1]!, 'provider') : null;
      if (!m || !providerId) return [];
      const at = new Date(Number(m[3]) * 60_000).toISOString();
      const found = await env.slots(providerId, { type: m[2]!, from: at, to: new Date(Number(m[3]) * 60_000 + 60_000).toISOString() });
      return found.slots.filter((s) => s.startsAt === at).map((s) => toSlot(providerId, m[2]!, s));
    }
    const schedule = q.params.get('schedule')?.[0];
    const providerId = schedule ? ourId(schedule.replace(/^.*Schedule\//, ''), 'provider') : null;
    if (!schedule) throw invalidSearch('Slots are computed per provider: give schedule=Schedule/{id}', 'schedule');
    const typeParam = q.params.get('service-type')?.[0];
    if (!typeParam) throw invalidSearch('Slots are computed per appointment type: give service-type', 'service-type');
    const type = typeParam.includes('|') ? typeParam.slice(typeParam.indexOf('|') + 1) : typeParam;
    if (q.params.get('status')?.some((s) => s !== 'free')) return [];
    if (!providerId) return [];
    let from: string | undefined;
    let to: string | undefined;
    for (const raw of q.params.get('start') ?? []) {
      const m = /^(ge|gt|le|lt)(.+)$/.exec(raw);
      if (!m) throw invalidSearch('start on Slot takes ge, gt, le or lt bounds', 'start');
      const [lo, hi] = dateRange(m[2]!, 'start');
      if (m[1] === 'ge') from = lo;
      if (m[1] === 'gt') from = hi;
      if (m[1] === 'lt') to = lo;
      if (m[1] === 'le') to = hi;
    }
    const found = await env.slots(providerId, { type, ...(from ? { from } : {}), ...(to ? { to } : {}) });
    return found.slots.slice(q.offset, q.offset + q.count + 1).map((s) => toSlot(providerId, type, s));
  },
  patientOf: () => null,
};
