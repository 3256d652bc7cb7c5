import { randomFillSync } from 'node:crypto';
import { z } from 'zod';

/**
 * Identifiers carry their kind (`cln_…`, `pat_…`, `usr_…`) so a wrong id is caught where it is read.
 * The body is 10 characters of time (Crockford base32, milliseconds) followed by 16 random ones, so ids of
 * one kind sort by creation time: keyset pagination on `id` returns records in the order they were made.
 * Lower-case only: clinic ids become parts of PostgreSQL schema, role and database names.
 */
/** The base32 digits of an id's body, in value order (Crockford's, lower-case). */
export const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const KINDS = {
  clinic: 'cln',
  patient: 'pat',
  user: 'usr',
  move: 'mov',
  event: 'evt',
  provider: 'prv',
  availability: 'avl',
  appointment: 'apt',
  questionnaire: 'qst',
  intakeResponse: 'inr',
  encounter: 'enc',
  note: 'not',
  addendum: 'add',
  vitals: 'vit',
  prescription: 'rx',
  diagnosis: 'dx',
  audit: 'aud',
  group: 'grp',
  scimToken: 'sct',
  ssoConnection: 'ssc',
  grant: 'grt',
  invitation: 'inv',
  job: 'job',
  fhirClient: 'fhc',
  fhirExport: 'fhx',
  smartApp: 'sma',
  exportRequest: 'exr',
  patientAccount: 'pac',
  deletionCertificate: 'dcr',
  backup: 'bkp',
  restore: 'rst',
  rollout: 'rol',
  outcomeScore: 'osc',
  metric: 'mtr',
  dashboard: 'dsh',
  reportSchedule: 'rps',
} as const;
export type IdKind = keyof typeof KINDS;

const BODY = '[0-9a-hjkmnp-tv-z]{26}';
const patterns = Object.fromEntries(Object.entries(KINDS).map(([kind, prefix]) => [kind, new RegExp(`^${prefix}_${BODY}$`)])) as Record<
  IdKind,
  RegExp
>;

export function newId(kind: IdKind, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ID_ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomSlice(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += ID_ALPHABET[bytes[i]! % 32];
  return `${KINDS[kind]}_${time}${rand}`;
}

// Random bytes are drawn from the system a few kilobytes at a time: a call per id (several per request, one
// per audit record) costs microseconds each, a slice of a filled buffer almost nothing. Each slice is used once.
const RANDOM_POOL = Buffer.allocUnsafe(4096);
let randomOffset = RANDOM_POOL.length;
function randomSlice(n: number): Buffer {
  if (randomOffset + n > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  randomOffset += n;
  return RANDOM_POOL.subarray(randomOffset - n, randomOffset);
}

/** What every id of a kind starts with: `evt_`, `cln_`, … */
export const idPrefix = (kind: IdKind): string => `${KINDS[kind]}_`;

export function isId(kind: IdKind, value: string): boolean {
  return patterns[kind].test(value);
}

/** zod schema for an id of one kind; a malformed id is a 404 at the route (it cannot exist), see `http/app.ts`. */
export const idSchema = (kind: IdKind) => z.string().regex(patterns[kind], { message: `must be a ${kind} id (${KINDS[kind]}_…)` });

/** The part of a clinic id after `cln_`: safe to embed in identifiers (lower-case base32). */
export function clinicKey(clinicId: string): string {
  if (!isId('clinic', clinicId)) throw new Error(`not a clinic id: ${clinicId}`);
  return clinicId.slice(4);
}
