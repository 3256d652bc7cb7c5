import type { Kysely } from 'kysely';
import type { Database } from '../db/columns.js';
import type { ANCHOR_COLUMNS } from './migrations.js';

/**
 * The tables a tenant transaction sees. Names are unqualified: the transaction's search_path picks the schema.
 *
 * Tenancy declares only its own table, the clinic's anchor row. `src/schema.ts` adds every domain's tables to
 * this same interface (declaration merging, as Fastify's decorators do), so tenancy never imports a domain
 * while every `TenantScope` still sees all the tables.
 */
export interface TenantDB extends Database<typeof ANCHOR_COLUMNS> {}

/** What domain code receives: the clinic it acts for and a transaction already confined to that clinic. */
export interface TenantScope {
  clinicId: string;
  db: Kysely<TenantDB>;
  /** The acting user from the request context, for outbox and audit records; null for system work. */
  actorId: string | null;
  /**
   * The tenant version the clinic's store is at (the control plane's record), when the scope comes from a clinic
   * transaction: code that needs a newer store than some clinics have during a staged rollout branches on it.
   */
  schemaVersion?: number;
}

/** `snapshot` is a read-only repeatable-read transaction: one consistent view across tables (exports). */
export type TenantAccess = 'read' | 'write' | 'snapshot';
