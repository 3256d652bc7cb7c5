import { describe, expect, it } from 'vitest';
import { decode, encode } from './envelope.js';
import type { ClinicFacts, ScrubbedEvent } from './scrubber.js';

const clinic: ClinicFacts = { clinicId: 'clinic_a', region: 'eu-west', tier: 'mid', specialty: 'psychiatry' };
const event = (key: string, facts: ClinicFacts = clinic): ScrubbedEvent => ({
  key,
  type: 'appointment.booked',
  ...facts,
  year: 2026,
  fields: { appointmentId: `sur_${key}`, modality: 'video' },
});
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('stream envelopes', () => {
  it("carry the clinic's facts once and give every event them back", () => {
    const events = [event('k1'), event('k2')];
    const data = encode({ clinic, events: events.map(({ key, type, year, fields }) => ({ key, type, year, fields })) });
    expect(decode(data)).toEqual(events);
    const text = new TextDecoder().decode(data);
    expect(text.split('clinic_a')).toHaveLength(2);
  });

  it('still read what relays wrote before: whole events in an envelope, or one bare event', () => {
    const events = [event('k1'), event('k2')];
    expect(decode(bytes({ events }))).toEqual(events);
    expect(decode(bytes(events[0]))).toEqual([events[0]]);
  });
});
