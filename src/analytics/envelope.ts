import { type ClinicFacts, type ScrubbedEvent, type ScrubbedPart, withClinic } from './scrubber.js';

/**
 * Events per stream message. A message carries an envelope of a batch's scrubbed events (`Envelope`), so the
 * stream stores and acknowledges a message per envelope, not per event (on JetStream a publish and its
 * acknowledgement cost the relay ~30 µs of CPU each, more than scrubbing an event). A scrubbed event is at most
 * a few hundred bytes (allow-listed fields, bounded lists), so 500 stay far below NATS's 1 MB message limit.
 */
export const ENVELOPE_EVENTS = 500;

/**
 * What a stream message holds: scrubbed events of one clinic, in outbox order, the clinic's facts written once
 * (`clinic`) and each event only its own part: a third fewer bytes to encode, send and store than whole
 * events. `decode` gives every event its clinic's facts back; messages written before (`{ events }` of whole
 * events, or one bare event) still decode.
 */
export interface Envelope {
  clinic: ClinicFacts;
  events: ScrubbedPart[];
}

/** An envelope's message id: its first and last event keys (the stream's duplicate window drops a resent one). */
export const messageId = (envelope: Envelope): string => `${envelope.events[0]!.key}.${envelope.events[envelope.events.length - 1]!.key}`;

const encoder = new TextEncoder();
export const encode = (envelope: Envelope): Uint8Array => encoder.encode(JSON.stringify(envelope));

const decoder = new TextDecoder();
/** The scrubbed events of a stream message (an `Envelope`; the whole-event forms relays wrote before, too). */
export function decode(data: Uint8Array): ScrubbedEvent[] {
  const parsed = JSON.parse(decoder.decode(data)) as { clinic?: ClinicFacts; events: ScrubbedEvent[] } | ScrubbedEvent;
  if (!('events' in parsed)) return [parsed];
  const { clinic } = parsed;
  if (!clinic) return parsed.events;
  return parsed.events.map((e) => withClinic(e, clinic));
}
