import type pg from 'pg';
import type { TenantTable } from '../catalogue.js';
import type { TenantAccess } from '../tenant-db.js';
import type { TenantMigration } from '../migration-kit.js';
import type { Placement, PlacementModel } from '../naming.js';

/** The interface the three placements implement (`pooled.ts`, `schema.ts`, `database.ts`); see `index.ts`. */

/** What the implementations need from the deployment: names, role passwords, and admin URLs of its servers. */
export interface PlacementContext {
  instance: string;
  secret: string;
  /** Admin URL of a database on a region's server (the region database when `database` is omitted). */
  adminUrl(regionId: string, database?: string): string;
  /** Where a clinic's own pool connects to its database: the server, or the region's pooler in front of it. */
  clinicUrl(regionId: string, database: string): string;
  /** Closes this process's own pool of a clinic, if it has one, before its database goes away. */
  closeClinicPool(clinicId: string): Promise<void>;
  /** Every tenant table, parents first (`src/schema.ts` composes them): what removal deletes. */
  tenantTables: readonly TenantTable[];
}

/** One clinic's store: whose it is, in which region, at which address. */
export interface ClinicStore {
  clinicId: string;
  regionId: string;
  placement: Placement;
}

/** The clinic as a tenant transaction sees it: its store and the placement epoch the node believes. */
export interface PlacedClinic {
  id: string;
  dataRegion: string;
  placement: Placement;
  placementEpoch: number;
}

/**
 * Which connections a clinic's tenant transactions use: the region's app pool, or a pool of the clinic's own.
 * An own pool is kept while its `key` (the database it reaches) stays the same; `url` is only called to open
 * one, since it derives the role's password (an HMAC) and is not worth computing on every request.
 */
export type StorePool = { kind: 'region' } | { kind: 'clinic'; key: string; url(): string };

export interface MigrationResult {
  from: number;
  to: number;
  applied: number;
}

export interface PlacementKind {
  readonly model: PlacementModel;
  /** Where a clinic's store is in this placement. */
  address(opts: { instance: string; clinicId: string; regionDatabase: string }): Placement;
  /** The statement that opens a tenant transaction (see `fence.ts`), sent in the same message as a read's query. */
  pin(ctx: PlacementContext, clinic: PlacedClinic, access: TenantAccess): string;
  pool(ctx: PlacementContext, clinic: PlacedClinic): StorePool;
  /** Builds the clinic's empty store (no anchor yet), idempotently; returns its schema version. */
  create(ctx: PlacementContext, store: ClinicStore, migrations: TenantMigration[]): Promise<number>;
  /**
   * Brings the store that holds this clinic to the latest version, repairing its role and grants on the way.
   * `admin`, when given, is an admin connection to the store's database that the caller reuses across stores
   * (the parallel fleet migration, `tenancy/fleet-stores.ts`); without it the kind opens one of its own.
   */
  migrate(ctx: PlacementContext, store: ClinicStore, migrations: TenantMigration[], admin?: pg.ClientBase): Promise<MigrationResult>;
  /** Removes everything of the clinic at this address (its rows, or its schema, or its database, and its role). */
  remove(ctx: PlacementContext, store: ClinicStore): Promise<void>;
  /**
   * Present when this placement's stores can be built ahead and claimed by a new clinic (`spares.ts`): a clinic's
   * own schema or database. The keeper (`tenancy/spares.ts`) decides when; the kind knows how.
   */
  readonly spares?: SpareKind;
  /**
   * Present when one store per region holds every clinic of this placement: the fleet migrates it once per
   * region, whatever clinics it holds (and migrating one of its clinics migrates all of them).
   */
  readonly regionStore?: {
    address(regionDatabase: string): Placement;
    migrate(ctx: PlacementContext, regionId: string, migrations: TenantMigration[], admin?: pg.ClientBase): Promise<MigrationResult>;
  };
}

/** A spare store as it stands on a region's server: its random key and the migrations it was built at. */
export interface SpareStore {
  key: string;
  fingerprint: string;
}

/**
 * How one placement builds, lists, claims and discards its spare stores. `admin` is an admin connection to the
 * region database; every operation on one spare holds the advisory lock on its key (`spareLock`), so a claim,
 * a build and a discard of the same spare never overlap, and two claimers never take the same one.
 */
export interface SpareKind {
  /** The region's spares (regions may share a server: a spare database says whose it is). */
  list(ctx: PlacementContext, regionId: string, admin: pg.ClientBase): Promise<SpareStore[]>;
  /** Builds one spare at `migrations`, whole or not at all (a half-built one is never listed). */
  build(ctx: PlacementContext, regionId: string, admin: pg.ClientBase, migrations: TenantMigration[]): Promise<SpareStore>;
  /** Renames a spare at `fingerprint` to the clinic's store and role; false when none could be taken. */
  claim(ctx: PlacementContext, admin: pg.ClientBase, store: ClinicStore, fingerprint: string): Promise<boolean>;
  /** Drops a spare and its role, unless another operation holds it; false then. */
  discard(ctx: PlacementContext, admin: pg.ClientBase, spare: SpareStore): Promise<boolean>;
}
