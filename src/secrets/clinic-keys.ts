import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { ClinicCache, clinicKey } from '../fleet/clinic-cache.js';
import type { InvalidationBus } from '../platform/bus.js';
import type { SecretBox } from '../platform/secrets.js';

/**
 * The key hierarchy's middle tier: one random 256-bit data key per clinic (and version), kept in the control plane
 * (`clinic_keys`) only wrapped under the deployment key, and unwrapped keys cached per node for ten minutes.
 *
 * A clinic's first key is made the first time one of its secrets is sealed: clinics that never configure SSO or
 * patient second factors never have one, and a clinic that existed before keys did gets one without a migration.
 * Two nodes sealing at once both try to insert version 1; one row wins and both use it.
 *
 * Destroying a clinic's keys (offboarding) deletes its rows and drops the cached copies on every node through the
 * bus (`ClinicCache.invalidate`). A node that missed the message keeps its copy for at most the TTL, for a clinic
 * whose rows are gone by then; the backups, which are what crypto-shredding is for, hold only wrapped keys that are
 * no longer in any live database, and ciphertexts that no live key opens.
 */
const WRAP_PURPOSE = 'clinic-data-key';
const CACHE = { max: 10_000, ttlMs: 10 * 60_000 };

export interface DataKey {
  version: number;
  key: Buffer;
}

/** The clinic's key of that version is not there: destroyed at offboarding or rotation, or never made. */
export class ClinicKeyMissing extends Error {
  constructor(
    readonly clinicId: string,
    readonly version: number,
  ) {
    super(`No data key ${version} of ${clinicId}: destroyed, or never made; secrets sealed under it cannot be opened`);
    this.name = 'ClinicKeyMissing';
  }
}

export class ClinicKeys {
  private readonly cache: ClinicCache<Buffer>;

  constructor(
    private readonly control: Kysely<ControlDB>,
    private readonly deployment: SecretBox,
    bus: InvalidationBus,
  ) {
    this.cache = new ClinicCache<Buffer>('clinic-data-keys', bus, CACHE);
  }

  /**
   * The clinic's newest key, made when it has none. Read from the control plane on every call (seals are rare:
   * an admin saving a connection, a patient enrolling a phone), so a rotation is seen at once by every node.
   */
  async current(clinicId: string): Promise<DataKey> {
    let row = await this.newest(clinicId);
    if (!row) {
      const version = 1;
      await this.control
        .insertInto('clinic_keys')
        .values({ clinic_id: clinicId, version, wrapped: this.wrap(clinicId, version, randomBytes(32)) })
        .onConflict((oc) => oc.doNothing())
        .execute();
      row = await this.newest(clinicId);
      if (!row) throw new ClinicKeyMissing(clinicId, version);
    }
    return { version: row.version, key: await this.version(clinicId, row.version) };
  }

  /** The clinic's key of that version (for opening), from this node's cache or unwrapped from its row. */
  async version(clinicId: string, version: number): Promise<Buffer> {
    return this.cache.get(clinicKey(clinicId, 'data-key', String(version)), async () => {
      const row = await this.control
        .selectFrom('clinic_keys')
        .select('wrapped')
        .where('clinic_id', '=', clinicId)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!row) throw new ClinicKeyMissing(clinicId, version);
      return this.unwrap(clinicId, version, row.wrapped);
    });
  }

  /** The versions the clinic has, oldest first. */
  async versions(clinicId: string): Promise<number[]> {
    const rows = await this.control
      .selectFrom('clinic_keys')
      .select('version')
      .where('clinic_id', '=', clinicId)
      .orderBy('version')
      .execute();
    return rows.map((r) => r.version);
  }

  /** Adds a new newest version: from now on seals use it; the older ones still open until destroyed. */
  async rotate(clinicId: string): Promise<number> {
    const version = ((await this.newest(clinicId))?.version ?? 0) + 1;
    // A concurrent rotation of the same clinic takes the same number: the primary key refuses the second.
    await this.control
      .insertInto('clinic_keys')
      .values({ clinic_id: clinicId, version, wrapped: this.wrap(clinicId, version, randomBytes(32)) })
      .execute();
    return version;
  }

  /**
   * Deletes the clinic's keys (all of them, or those older than `below`) and drops every node's cached copies.
   * Returns the versions destroyed; destroying what is already gone destroys nothing and is no error.
   */
  async destroy(clinicId: string, below?: number): Promise<number[]> {
    let q = this.control.deleteFrom('clinic_keys').where('clinic_id', '=', clinicId);
    if (below !== undefined) q = q.where('version', '<', below);
    const rows = await q.returning('version').execute();
    await this.cache.invalidate(clinicId);
    return rows.map((r) => r.version).sort((a, b) => a - b);
  }

  close(): void {
    this.cache.close();
  }

  private newest(clinicId: string) {
    return this.control
      .selectFrom('clinic_keys')
      .select('version')
      .where('clinic_id', '=', clinicId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  // The wrapped key is bound to its clinic and version: a row copied to another clinic or version does not unwrap.
  private wrap(clinicId: string, version: number, key: Buffer): string {
    return this.deployment.seal(WRAP_PURPOSE, key.toString('base64'), `${clinicId}:${version}`);
  }

  private unwrap(clinicId: string, version: number, wrapped: string): Buffer {
    return Buffer.from(this.deployment.open(WRAP_PURPOSE, wrapped, `${clinicId}:${version}`), 'base64');
  }
}
