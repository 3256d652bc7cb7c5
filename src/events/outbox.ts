import { AppError } from '../errors.js';
import { ID_ALPHABET, newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { EVENT_CATALOGUE, type EventPayload, type EventType } from './catalogue.js';

/**
 * Writes a domain event into the clinic's outbox, inside the caller's tenant transaction: it commits or
 * rolls back with the change it describes. The payload is checked against the catalogue, so an event that
 * does not match its declared shape fails the change instead of reaching consumers.
 */
export async function emit<T extends EventType>(scope: TenantScope, type: T, payload: EventPayload<T>): Promise<void> {
  await scope.db
    .insertInto('outbox')
    .values(outboxRow(scope, type, payload))
    .execute();
}

/** The outbox row of an event, checked against the catalogue, for a caller that writes it in a statement of its own. */
export function outboxRow<T extends EventType>(scope: TenantScope, type: T, payload: EventPayload<T>) {
  const parsed = EVENT_CATALOGUE[type].safeParse(payload);
  if (!parsed.success) throw new AppError(500, 'event_invalid', `Event ${type} does not match the catalogue: ${parsed.error.message}`);
  return { clinic_id: scope.clinicId, id: nextEventId(), type, payload: JSON.stringify(parsed.data), actor_id: scope.actorId };
}

/**
 * Event ids increase strictly within this process, also inside one millisecond (ids are time then random:
 * two events of one transaction could otherwise sort either way). The relay sends a clinic's events in id
 * order, so the order a transaction emitted them in is the order consumers see.
 */
let lastEventId = '';
export function nextEventId(): string {
  let id = newId('event');
  if (id <= lastEventId) id = successor(lastEventId);
  lastEventId = id;
  return id;
}

function successor(id: string): string {
  const chars = id.split('');
  for (let i = chars.length - 1; i > 3; i--) {
    const next = ID_ALPHABET.indexOf(chars[i]!) + 1;
    if (next < ID_ALPHABET.length) {
      chars[i] = ID_ALPHABET[next]!;
      return chars.join('');
    }
    chars[i] = '0';
  }
  return newId('event');
}
