import type { Kysely, Selectable } from 'kysely';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { pgErrorCode } from '../db/pg.js';
import { emit } from '../events/outbox.js';
import type { SchedulingDeps } from './deps.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { ProvidersTable } from './migration.js';
import type { Provider, ProviderInput, ProviderPatch } from './schemas.js';
import { requireTimeZone } from './zones.js';
import { isBaseRole } from '../access/roles.js';
import { readMemberRole } from './clinicians.js';

/**
 * A provider is a member of the clinic with a clinical role, seen as someone patients book: specialty,
 * where they are licensed, the zone their working hours are written in. The membership lives in the
 * control plane; the provider record lives in the clinic's store and is checked against it when created
 * and when booked, so a physician who leaves the clinic stops being bookable at once.
 */
const CLINICAL_ROLES = new Set<string>(['physician', 'nurse']); // and the clinic's roles derived from them

/** The user's name when they hold a clinical role in this clinic; 400 otherwise (without saying whether they exist). */
export async function requireClinicalMember(
  p: SchedulingDeps,
  clinicId: string,
  userId: string,
  opts: { cached?: boolean } = {},
): Promise<{ name: string; role: string }> {
  const row = opts.cached ? await p.clinicians.get(clinicId, userId) : await readMemberRole(p.control, clinicId, userId);
  if (!row) throw badRequest('provider_not_member', 'The user is not a member of this clinic');
  const base = isBaseRole(row.role) ? row.role : row.base_role;
  if (!CLINICAL_ROLES.has(base ?? ''))
    throw badRequest('provider_role_not_clinical', `A provider must hold a clinical role (physician or nurse); this member is ${row.role}`);
  return { name: row.name, role: row.role };
}

export async function createProvider(p: SchedulingDeps, scope: TenantScope, input: ProviderInput): Promise<Provider> {
  const timeZone = requireTimeZone(input.timeZone);
  const member = await requireClinicalMember(p, scope.clinicId, input.userId);
  try {
    const row = await scope.db
      .insertInto('providers')
      .values({
        clinic_id: scope.clinicId,
        id: newId('provider'),
        user_id: input.userId,
        display_name: input.displayName ?? member.name,
        specialty: input.specialty,
        licence_jurisdictions: input.licenceJurisdictions,
        time_zone: timeZone,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await emit(scope, 'provider.created', { providerId: row.id, userId: row.user_id });
    return toProvider(row);
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw conflict('provider_exists', 'This user is already a provider of this clinic');
    throw err;
  }
}

export async function getProviderRow(scope: TenantScope, id: string): Promise<Selectable<ProvidersTable>> {
  const row = await scope.db.selectFrom('providers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('provider');
  return row;
}

export async function getProvider(scope: TenantScope, id: string): Promise<Provider> {
  return toProvider(await getProviderRow(scope, id));
}

export async function listProviders(
  scope: TenantScope,
  page: { limit: number; cursor?: string | undefined; specialty?: string | undefined },
): Promise<{ items: Provider[]; nextCursor: string | null }> {
  let q = scope.db
    .selectFrom('providers')
    .selectAll()
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.cursor) q = q.where('id', '>', page.cursor);
  if (page.specialty) q = q.where('specialty', '=', page.specialty);
  const rows = await q.execute();
  const items = rows.slice(0, page.limit).map(toProvider);
  return { items, nextCursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}

export async function updateProvider(scope: TenantScope, id: string, patch: ProviderPatch): Promise<Provider> {
  const { version, ...fields } = patch;
  const set: Partial<Selectable<ProvidersTable>> = {};
  if (fields.displayName !== undefined) set.display_name = fields.displayName;
  if (fields.specialty !== undefined) set.specialty = fields.specialty;
  if (fields.licenceJurisdictions !== undefined) set.licence_jurisdictions = fields.licenceJurisdictions;
  if (fields.timeZone !== undefined) set.time_zone = requireTimeZone(fields.timeZone);
  if (fields.active !== undefined) set.active = fields.active;
  let q = scope.db
    .updateTable('providers')
    .set((eb) => ({ ...set, version: eb('version', '+', 1), updated_at: new Date() }))
    .where('id', '=', id);
  if (version !== undefined) q = q.where('version', '=', version);
  const row = await q.returningAll().executeTakeFirst();
  if (row) {
    await emit(scope, 'provider.updated', { providerId: id, fields: Object.keys(fields) });
    return toProvider(row);
  }
  await getProviderRow(scope, id);
  throw new AppError(409, 'version_conflict', 'The provider was changed since you read it; reload and retry');
}

/** The provider, if patients can be booked with them now: active and still a clinical member. */
export async function requireBookableProvider(p: SchedulingDeps, scope: TenantScope, id: string): Promise<Selectable<ProvidersTable>> {
  const row = await getProviderRow(scope, id);
  if (!row.active) throw conflict('provider_inactive', 'This provider is not taking appointments');
  await requireClinicalMember(p, scope.clinicId, row.user_id).catch(() => {
    throw conflict('provider_inactive', 'This provider no longer holds a clinical role in this clinic');
  });
  return row;
}

export function toProvider(r: Selectable<ProvidersTable>): Provider {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    userId: r.user_id,
    displayName: r.display_name,
    specialty: r.specialty,
    licenceJurisdictions: r.licence_jurisdictions,
    timeZone: r.time_zone,
    active: r.active,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}
