import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { ALLOW_LISTS, ENVELOPE_FIELDS } from './allow-lists.js';
import { AGE_BRACKETS, ageBracket, RESTRICTED_ZIP3, zip3 } from './safe-harbor.js';
import { Pairings } from './pairings.js';
import { referencesOf, scrub, type OutboxEvent } from './scrubber.js';
import { newSurrogate } from './surrogates.js';
import { EVENT_CATALOGUE } from '../events/catalogue.js';

/**
 * Property tests of the scrubber: whatever an event carries, only allow-listed fields leave, reduced by their
 * rule, and no identifier of the Safe Harbor classes survives: names, addresses and ZIPs, dates, phone
 * numbers, emails, SSNs, record numbers, URLs, IP addresses, and our own record ids.
 */
const clinic = { clinicId: newId('clinic'), region: 'us-east', tier: 'small', specialty: 'family_medicine' };

const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const word = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: 2, maxLength: 9 });
const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);
/** One value of each identifier class Safe Harbor lists (the ones that can be written down). */
const identifier = fc.oneof(
  fc.tuple(word, word).map(([a, b]) => `${cap(a)} ${cap(b)}`), // name
  fc.tuple(word, word).map(([a, b]) => `${a}.${b}@example.org`), // email
  fc.tuple(digits(3), digits(3), digits(4)).map(([a, b, c]) => `(${a}) ${b}-${c}`), // phone / fax
  fc.tuple(digits(3), digits(2), digits(4)).map(([a, b, c]) => `${a}-${b}-${c}`), // SSN
  fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  digits(5), // ZIP
  fc.tuple(digits(3), word, word).map(([n, a, b]) => `${n} ${cap(a)} ${cap(b)} Street`), // street address
  fc.ipV4(),
  fc.webUrl(),
  fc.tuple(word, digits(7)).map(([a, n]) => `MRN-${a.toUpperCase()}${n}`), // record / account / licence numbers
  fc.constantFrom('patient', 'provider', 'appointment', 'encounter', 'note').map((k) => newId(k as 'patient')),
  fc.lorem({ maxCount: 8 }), // free text
);

const eventTypes = Object.keys(EVENT_CATALOGUE);
const fieldName = fc.oneof(
  word,
  fc.constantFrom('patientId', 'name', 'birthDate', 'zip', 'email', 'phone', 'note', 'startsAt', 'address', 'to', 'from'),
);
/** A payload of any shape: allow-listed names and others, nested, each leaf an identifier or an id. */
const payload = fc.dictionary(
  fieldName,
  fc.oneof(identifier, fc.dictionary(fieldName, identifier, { maxKeys: 4 }), fc.array(identifier, { maxLength: 3 })),
  { maxKeys: 10 },
);
const event = fc.record({ type: fc.constantFrom(...eventTypes), payload, occurredAt: fc.date({ noInvalidDate: true, min: new Date(0) }) });

function leaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) leaves(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out);
  return out;
}

describe('scrubber (property-based)', () => {
  it('lets no identifier from a generated event through, and drops every field not on the allow-list', () => {
    fc.assert(
      fc.property(event, (e) => {
        const ev: OutboxEvent = { id: newId('event'), ...e };
        const surrogates = Pairings.of(referencesOf(ev).map((r) => [r, newSurrogate()]));
        const out = scrub(ev, clinic, 'k1', surrogates);
        const rules = ALLOW_LISTS[ev.type as keyof typeof ALLOW_LISTS];
        if (!rules) {
          expect(out).toBeNull();
          return;
        }
        expect(out).not.toBeNull();
        expect(Object.keys(out!).sort()).toEqual([...ENVELOPE_FIELDS, 'fields'].sort());
        for (const path of Object.keys(out!.fields)) expect(Object.keys(rules)).toContain(path);
        const text = JSON.stringify(out!.fields);
        for (const original of leaves(ev.payload)) {
          // A value kept verbatim must be a vocabulary value (an enum or code) — never an identifier of a class above.
          if (text.includes(JSON.stringify(original))) expect(/^[a-z_]+$|^[A-Z][0-9]/.test(original), original).toBe(true);
        }
        expect(text).not.toMatch(/@|\d{4}-\d{2}-\d{2}|\b\d{5}\b|\d{3}-\d{2}-\d{4}|https?:|(pat|prv|apt|enc|not)_[0-9a-z]{26}/);
        for (const v of Object.values(out!.fields))
          if (typeof v === 'number') expect((Number.isInteger(v) && (v < 1000 || (v >= 1900 && v <= 2100))) || v <= 10080).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('turns a catalogue event into surrogates, a year and a duration', () => {
    const patientId = newId('patient');
    const ev: OutboxEvent = {
      id: newId('event'),
      type: 'appointment.booked',
      occurredAt: new Date('2031-02-03T10:00:00Z'),
      payload: {
        appointmentId: newId('appointment'),
        patientId,
        providerId: newId('provider'),
        appointmentType: 'follow-up',
        startsAt: '2031-03-04T09:00:00.000Z',
        endsAt: '2031-03-04T09:15:00.000Z',
        modality: 'video',
      },
    };
    const surrogates = Pairings.of(referencesOf(ev).map((r) => [r, newSurrogate()]));
    const out = scrub(ev, clinic, 'k', surrogates)!;
    expect(out.fields).toEqual({
      appointmentId: expect.stringMatching(/^sur_/),
      patientId: surrogates.get('patient', patientId),
      providerId: expect.stringMatching(/^sur_/),
      appointmentType: 'follow-up',
      modality: 'video',
      startsAt: 2031,
      endsAt: 15,
    });
    // A reference with no surrogate is dropped, never sent in the clear.
    expect(scrub(ev, clinic, 'k', new Pairings())?.fields).not.toHaveProperty('patientId');
  });
  it('reads a nested path only through nested objects: a dotted key, an array or an object at the end reads nothing', () => {
    const providerId = newId('provider');
    const surrogates = Pairings.of([[{ kind: 'provider', ref: providerId }, 'sur_p']]);
    const rescheduled = (payload: unknown) =>
      scrub({ id: newId('event'), type: 'appointment.rescheduled', occurredAt: new Date(), payload }, clinic, 'k', surrogates)!.fields;
    const to = { providerId, startsAt: '2031-03-04T09:00:00.000Z', endsAt: '2031-03-04T09:40:00.000Z' };
    expect(rescheduled({ to })).toEqual({ 'to.providerId': 'sur_p', 'to.startsAt': 2031, 'to.endsAt': 40 });
    expect(rescheduled({ 'to.providerId': providerId, 'to.startsAt': to.startsAt })).toEqual({});
    expect(rescheduled({ to: [to] })).toEqual({});
    expect(rescheduled({ to: { ...to, startsAt: { at: to.startsAt } } })).toEqual({ 'to.providerId': 'sur_p' });
  });
});

describe('Safe Harbor reductions', () => {
  it('ZIP codes: three digits, 000 for the restricted areas, anything else dropped', () => {
    fc.assert(
      fc.property(digits(5), (zip) => {
        const out = zip3(zip);
        expect(out).toBe((RESTRICTED_ZIP3 as readonly string[]).includes(zip.slice(0, 3)) ? '000' : zip.slice(0, 3));
      }),
    );
    expect(zip3('03601')).toBe('000');
    expect(zip3('10001-1234')).toBe('100');
    expect(zip3('SW1A 1AA')).toBeUndefined();
  });

  it('ages: ten-year brackets, 90 and over as one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), (age) => {
        const b = ageBracket(age)!;
        expect(AGE_BRACKETS).toContain(b);
        if (age >= 90) expect(b).toBe('90+');
        else expect(b).toBe(`${Math.floor(age / 10) * 10}-${Math.floor(age / 10) * 10 + 9}`);
      }),
    );
    expect(ageBracket(-1)).toBeUndefined();
  });
});
