import type { RawBuilder } from 'kysely';
import type { Resource } from '@medplum/fhirtypes';
import type { Permission } from '../access/roles.js';
import type { AuditEvent } from '../audit/search.js';
import type { Clinic } from '../controlplane/clinics.js';
import { isId, type IdKind } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { SearchRequest } from './search.js';
import type { SlotFinder } from './resources/slots.js';

/**
 * One FHIR resource type as this server offers it: the permission that reads it, the search parameters it
 * takes and how each becomes SQL, what `_include` can add, and the reads themselves. The routes and the
 * CapabilityStatement are both generated from the list of these (`resources.ts`), so the statement cannot
 * claim a parameter the routes do not take, nor miss one they do.
 */
export type SearchParamType = 'token' | 'string' | 'date' | 'reference';

export interface SearchParam {
  type: SearchParamType;
  documentation: string;
  where(values: string[], name: string): RawBuilder<boolean>[];
}

export interface IncludeDef {
  /** The type the include adds (`Patient` for `Appointment:patient`). */
  target: string;
  /** The ids (FHIR form) of the target the matched resources point to. */
  refs(resource: Resource): string[];
}

/** What every read knows besides its transaction: the clinic (the Organization, references to it). */
export interface FhirEnv {
  clinic: Pick<Clinic, 'id' | 'name' | 'slug'>;
  /** The clinic's PHI access trail (in its region, outside the tenant store). */
  /** Free slots of a provider, as the booking computes them (Slot). */
  slots?: SlotFinder;
  auditTrail?: (q: {
    id?: string | undefined;
    patientId?: string | undefined;
    from?: Date | undefined;
    to?: Date | undefined;
    limit: number;
  }) => Promise<AuditEvent[]>;
}

export interface ResourceDef {
  type: Resource['resourceType'];
  permission: Permission;
  /** Whether the resource is patient data: its reads are recorded in the clinic's PHI audit trail. */
  phi: boolean;
  params: Record<string, SearchParam>;
  includes?: Record<string, IncludeDef>;
  /** `_sort` parameters the type takes and the column each sorts by (the id breaks ties). */
  sorts?: Record<string, string>;
  /** The matching resources, `count + 1` at most (one more than the page tells whether there is a next). */
  search(scope: TenantScope, q: SearchRequest, env: FhirEnv): Promise<Resource[]>;
  /** Our patient id a resource belongs to (the audit record names them), or null. */
  patientOf(resource: Resource): string | null;
}

/** FHIR ids are `[A-Za-z0-9\-.]{1,64}`: ours carry an underscore after their kind (`pat_…`), FHIR's a hyphen (`pat-…`). */
export const fhirId = (id: string): string => id.replace('_', '-');

/** Our id of `kind` that a FHIR id names, or null when it cannot be one of ours. */
export function ourId(fhir: string, kind: IdKind): string | null {
  const id = fhir.replace('-', '_');
  return isId(kind, id) ? id : null;
}

/** `Patient/pat-…` → `pat_…` (or null). */
export function refId(reference: string | undefined, type: string, kind: IdKind): string | null {
  const m = reference ? new RegExp(`^(?:.*/)?${type}/([A-Za-z0-9.-]{1,64})$`).exec(reference) : null;
  return m ? ourId(m[1]!, kind) : null;
}

/** The SQL conditions of a search: every declared parameter it carries, ANDed. */
export function conditionsOf(params: Record<string, SearchParam>, q: SearchRequest): RawBuilder<boolean>[] {
  return [...q.params].flatMap(([name, values]) => params[name]!.where(values, name));
}

/** The ORDER BY of a search: its `_sort` (columns from `sorts`) before the type's own order. */
export function orderOf(
  sorts: Record<string, string> | undefined,
  q: SearchRequest,
  fallback: [column: string, desc: boolean][],
): [column: string, desc: boolean][] {
  return [...(q.sort ?? []).map(({ param, desc }): [string, boolean] => [sorts![param]!, desc]), ...fallback];
}

export const instant = (d: Date | string): string => (typeof d === 'string' ? new Date(d).toISOString() : d.toISOString());
