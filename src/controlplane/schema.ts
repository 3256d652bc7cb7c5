import { integer, jsonb, oneOf, text, timestamptz, type Database, bigint } from '../db/columns.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import type { ControlMigration } from './migration-kit.js';

/**
 * The control plane is global and holds no PHI: which clinics exist, where each one's data lives, the regions,
 * and the record of placement moves. These are its own tables; the other control-plane tables belong to the
 * domains that use them (`identity/`, `access/`, `settings/`, `flags/`, `scim/`, `sso/`, each in its
 * `control-schema.ts`), and `src/schema.ts` composes them.
 */
export const CONTROLPLANE_MIGRATIONS: ControlMigration[] = [
  {
    version: 1,
    name: 'regions, clinics, users, memberships, sessions, moves',
    statements: [
      `create table regions (
         id text primary key,
         jurisdiction text not null,
         failover_region_id text references regions (id),
         created_at timestamptz not null default now())`,
      `create table clinics (
         id text primary key,
         slug text not null unique,
         name text not null,
         tier text not null check (tier in ('small', 'mid', 'enterprise')),
         specialty text,
         data_region text not null references regions (id),
         placement_model text not null check (placement_model in ('pooled', 'schema', 'database')),
         placement_database text not null,
         placement_schema text not null,
         status text not null default 'provisioning' check (status in ('provisioning', 'active', 'moving', 'suspended')),
         schema_version integer not null default 0,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      `create index clinics_by_region on clinics (data_region, placement_model)`,
      `create table placement_moves (
         id text primary key,
         clinic_id text not null references clinics (id) on delete cascade,
         from_model text not null,
         to_model text not null,
         started_at timestamptz not null default now(),
         finished_at timestamptz,
         outcome text not null default 'running' check (outcome in ('running', 'completed', 'failed')),
         detail jsonb)`,
    ],
  },
  {
    version: 8,
    name: 'placement epoch',
    statements: [
      // Grows by one when a move freezes the clinic and again when it switches the clinic to its new store; each
      // store's anchor row carries the epoch since which it is the clinic's home (tenancy/placement/fence.ts).
      `alter table clinics add column placement_epoch bigint not null default 1`,
    ],
  },
  {
    version: 14,
    name: 'clinic incident modes',
    statements: [
      // An operator isolates a clinic in an incident (fleet/incidents.ts): suspended refuses its sign-in and API,
      // read_only refuses its writes. Kept on the clinic row so every node, and every restart, agrees.
      `alter table clinics drop constraint clinics_status_check`,
      `alter table clinics add constraint clinics_status_check
         check (status in ('provisioning', 'active', 'moving', 'suspended', 'read_only'))`,
      `alter table clinics add column status_reason text`,
    ],
  },
  {
    version: 28,
    name: 'control plane: no DDL for the application role',
    statements: [
      // Request paths connect as the control plane's application role (`tenancy/fleet.ts`, `prepareControlRole`),
      // which holds DML on the tables and nothing else. On a server older than PostgreSQL 15 every role may create
      // in `public`; here no role but the owner (the migrations' admin) may, whatever the server's version.
      `revoke create on schema public from public`,
    ],
  },
];

export const CLINIC_TIERS = ['small', 'mid', 'enterprise'] as const;
export type ClinicTier = (typeof CLINIC_TIERS)[number];
export const CLINIC_STATUSES = ['provisioning', 'active', 'moving', 'suspended', 'read_only'] as const;
export type ClinicStatus = (typeof CLINIC_STATUSES)[number];

export const CONTROLPLANE_COLUMNS = {
  regions: {
    id: text(),
    jurisdiction: text(),
    failover_region_id: text().nullable(),
    created_at: timestamptz().hasDefault(),
  },
  clinics: {
    id: text(),
    slug: text(),
    name: text(),
    tier: oneOf(CLINIC_TIERS),
    specialty: text().nullable(),
    data_region: text(),
    placement_model: oneOf(PLACEMENT_MODELS),
    placement_database: text(),
    placement_schema: text(),
    status: oneOf(CLINIC_STATUSES).hasDefault(),
    schema_version: integer().hasDefault(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
    placement_epoch: bigint().hasDefault(),
    status_reason: text().nullable(),
  },
  placement_moves: {
    id: text(),
    clinic_id: text(),
    from_model: text(),
    to_model: text(),
    started_at: timestamptz().hasDefault(),
    finished_at: timestamptz().nullable(),
    outcome: oneOf(['running', 'completed', 'failed']).hasDefault(),
    detail: jsonb<unknown>().nullable(),
  },
};

/**
 * The control-plane database as Kysely sees it. Declared here with the control plane's own tables, so that
 * this folder (and `tenancy/`) never imports a domain; `src/schema.ts` adds every domain's tables to this
 * same interface (declaration merging, as Fastify's decorators do), so every `Kysely<ControlDB>` sees them all.
 */
export interface ControlDB extends Database<typeof CONTROLPLANE_COLUMNS> {}
