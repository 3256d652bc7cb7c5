import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { uniqueness } from './errors.js';
import { preferredEmail, readableName, type Json } from './resource.js';

/**
 * The platform account (`users` row) behind a provisioned user. SCIM always creates a new account and never
 * adopts an existing one: an IdP of clinic A must not be able to take over, deactivate or sign in as a person
 * whose account another clinic (or the platform) made, just by sending the same email.
 *
 * `users.email` is unique across the platform, so the email a directory sends is handled like this:
 * - nobody holds it: the account takes it;
 * - an account that belongs to this clinic holds it (another provisioned user, or staff of this clinic): the
 *   new account is created with a reserved placeholder (`usr_…@scim.invalid`) and the address stays in the
 *   SCIM resource only. Directories do hold two entries with one mailbox (Microsoft's suite does);
 * - an account outside this clinic holds it: 409 `uniqueness`, and nothing is created. That tells the clinic's
 *   IdP that the address is in use on the platform, which clinic admins already learn from the staff API.
 * Values that are not addresses (`emailName357`) also get the placeholder. Sign-in for provisioned users is
 * by SSO, linked by IdP subject, never by this column.
 */
const ADDRESS = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;
const RESERVED_DOMAIN = '@scim.invalid';
const placeholder = (userId: string): string => `${userId}${RESERVED_DOMAIN}`;

async function chooseEmail(db: Kysely<ControlDB>, clinicId: string, userId: string, wanted: string | undefined): Promise<string> {
  if (!wanted || wanted.length > 320 || !ADDRESS.test(wanted) || wanted.toLowerCase().endsWith(RESERVED_DOMAIN)) return placeholder(userId);
  const holder = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb(eb.fn('lower', ['email']), '=', wanted.toLowerCase()))
    .executeTakeFirst();
  if (!holder || holder.id === userId) return wanted;
  const ofThisClinic = await db
    .selectFrom('memberships')
    .select('user_id')
    .where('clinic_id', '=', clinicId)
    .where('user_id', '=', holder.id)
    .union(db.selectFrom('scim_users').select('user_id').where('clinic_id', '=', clinicId).where('user_id', '=', holder.id))
    .executeTakeFirst();
  if (ofThisClinic) return placeholder(userId);
  throw uniqueness(`emails: ${wanted} is already used by an account outside this clinic`);
}

export async function createAccount(db: Kysely<ControlDB>, clinicId: string, userId: string, resource: Json): Promise<void> {
  const email = await chooseEmail(db, clinicId, userId, preferredEmail(resource));
  // No password: a provisioned user signs in through the clinic's identity provider.
  await db
    .insertInto('users')
    .values({ id: userId, email, name: readableName(resource), password_hash: null })
    .execute();
}

/** Keeps the account's name and email in step with the directory. */
export async function updateAccount(db: Kysely<ControlDB>, clinicId: string, userId: string, before: Json, after: Json): Promise<void> {
  const name = readableName(after);
  const wanted = preferredEmail(after);
  const emailChanged = (wanted ?? '').toLowerCase() !== (preferredEmail(before) ?? '').toLowerCase();
  const set: { name?: string; email?: string } = {};
  if (name !== readableName(before)) set.name = name;
  if (emailChanged) set.email = await chooseEmail(db, clinicId, userId, wanted);
  if (Object.keys(set).length) await db.updateTable('users').set(set).where('id', '=', userId).execute();
}

/**
 * A deleted provisioned user keeps their account row, because clinical records name their author by user id;
 * it loses its email (released for reuse) and, elsewhere in the same transaction, its membership and sessions.
 */
export async function retireAccount(db: Kysely<ControlDB>, userId: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ email: placeholder(userId), password_hash: null })
    .where('id', '=', userId)
    .where('is_operator', '=', false)
    .execute();
}
