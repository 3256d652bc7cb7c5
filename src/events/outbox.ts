import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { EVENT_CATALOGUE, type EventPayload, type EventType } from './catalogue.js';

/**
 * Writes a domain event into the clinic's outbox, inside the caller's tenant transaction: it commits or
 * rolls back with the change it describes. The payload is checked against the catalogue, so an event that
 * does not match its declared shape fails the change instead of reaching consumers.
 */
export async function emit<T extends EventType>(scope: TenantScope, type: T, payload: EventPayload<T>): Promise<void> {
  const parsed = EVENT_CATALOGUE[type].safeParse(payload);
  if (!parsed.success) throw new AppError(500, 'event_invalid', `Event ${type} does not match the catalogue: ${parsed.error.message}`);
  await scope.db
    .insertInto('outbox')
    .values({ clinic_id: scope.clinicId, id: newId('event'), type, payload: JSON.stringify(parsed.data), actor_id: scope.actorId })
    .execute();
}
