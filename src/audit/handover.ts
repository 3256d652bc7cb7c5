import pg from 'pg';
import type { Clinic } from '../controlplane/clinics.js';
import { inTransaction, quoteIdent as q, withClient } from '../db/pg.js';
import { AppError } from '../errors.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { HandoverReport, RegionHandover } from '../tenancy/move-report.js';
import type { AuditEventsTable, TrailDeps } from './region-db.js';
import { appendBatch } from './appender.js';
import { AUDIT_SCHEMA, GENESIS_HASH } from './region-migration.js';
import { removeClinicTrail } from './removal.js';
import { payloadOf, verifyAuditChain } from './verify.js';

type HandoverDeps = TrailDeps & { stores: Pick<TenantStores, 'regionDb' | 'adminUrl'> };
interface Head {
  seq: number;
  hash: string;
}

/** Records read and re-appended per statement. */
const BATCH = 500;
const events = `${q(AUDIT_SCHEMA)}.events`;
const heads = `${q(AUDIT_SCHEMA)}.heads`;
const departures = `${q(AUDIT_SCHEMA)}.departures`;

/**
 * Hands a clinic's PHI audit trail to another region of its jurisdiction during a region move
 * (`regions/move.ts`, driven by `tenancy/move.ts`).
 *
 * The target's chain is rebuilt by appending the source's records, in order, through the target's own
 * `append()`: a record's hash covers only its predecessor's hash, its `seq` and its canonical payload (which
 * names the clinic, not the region), so the target computes the very hashes the source holds, and equal heads
 * (`seq` and hash) prove the two chains equal record by record. Nothing is inserted around the guards.
 *
 * Appends go on at the source throughout (reads are audited while writes are frozen). The bulk goes before the
 * freeze; in the freeze, the source's head row is locked (appends of the clinic wait, those of other clinics do
 * not), the rest is copied and the heads compared, and a departure is written in that same transaction, which
 * commits just after the control plane names the new region. The appends that waited then find the departure
 * (SQLSTATE PCM01), read the clinic again and append in its new region (`trail.ts`). Once the clinic is served,
 * the chain is verified at the target from its first record and the source's copy is deleted; the departure
 * stays, so a node that has not heard of the move can never start a new chain there.
 */
export class TrailHandover implements RegionHandover {
  /** The source head the target holds too: all that was copied. */
  private copied: Head = { seq: 0, hash: GENESIS_HASH };
  /** The source connection holding the clinic's head row from `beforeSwitch` to `switched`. */
  private lock: pg.Client | undefined;

  constructor(
    private readonly p: HandoverDeps,
    private readonly clinic: Clinic,
    private readonly to: string,
  ) {}

  private get from(): string {
    return this.clinic.dataRegion;
  }

  async prepare(): Promise<void> {
    const { p, clinic, to } = this;
    // The target starts empty: what an earlier stay (its departure) or a failed move left there goes.
    await withClient(p.stores.adminUrl(to), (c) =>
      inTransaction(c, async () => {
        await removeClinicTrail(c, clinic.id);
        await c.query(`delete from ${departures} where clinic_id = $1`, [clinic.id]);
      }),
    );
    // The source gets a head even if the clinic never had a record, so the freeze has a row to lock.
    await this.appendAt(this.from, []);
    await withClient(p.stores.adminUrl(this.from), async (c) => {
      const head = await readHead(c, clinic.id);
      await this.copy(c, head.seq);
    });
  }

  async beforeSwitch(): Promise<void> {
    const { clinic } = this;
    const lock = new pg.Client({ connectionString: this.p.stores.adminUrl(this.from), application_name: 'polyclinic-move' });
    lock.on('error', () => {});
    await lock.connect();
    this.lock = lock;
    await lock.query('begin');
    const head = await readHead(lock, clinic.id, 'for update');
    await this.copy(lock, head.seq);
    // Equal heads: the target's chain, rebuilt from the same payloads, is the source's record by record.
    if (this.copied.seq !== head.seq || this.copied.hash !== head.hash)
      throw new AppError(
        500,
        'move_verification_failed',
        `The audit trail copied to ${this.to} ends at ${this.copied.seq}, the source's at ${head.seq}; the clinic stays in ${this.from}`,
      );
    await lock.query(
      `insert into ${departures} (clinic_id, to_region) values ($1, $2)
         on conflict (clinic_id) do update set to_region = excluded.to_region, departed_at = now()`,
      [clinic.id, this.to],
    );
  }

  async switched(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    try {
      await lock?.query('commit');
    } finally {
      await lock?.end().catch(() => {});
    }
  }

  async abandon(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.query('rollback').catch(() => {});
    await lock?.end().catch(() => {});
    // Nobody appends the clinic's records in the target region before the switch: its copy can simply go.
    await withClient(this.p.stores.adminUrl(this.to), (c) => inTransaction(c, () => removeClinicTrail(c, this.clinic.id)));
  }

  /** Best effort: the move has happened; a failure here is reported, and the source's copy stays (fenced). */
  async finish(): Promise<HandoverReport> {
    const { p, clinic, to } = this;
    const report: HandoverReport = { what: 'audit trail', records: this.copied.seq, verified: false, sourceRemoved: false };
    try {
      const there = { ...clinic, dataRegion: to };
      const v = await verifyAuditChain(
        { stores: p.stores, log: p.log, clinics: { get: async () => there, fresh: async () => there } },
        clinic.id,
      );
      report.verified = v.ok && v.records >= this.copied.seq;
      if (!report.verified) p.log.error({ clinicId: clinic.id, problem: v.problem }, 'the audit trail handed over does not verify');
      if (report.verified)
        report.sourceRemoved = await withClient(p.stores.adminUrl(this.from), (c) =>
          inTransaction(c, async () => {
            // The departure refuses every append since the switch: the source's head is where it was copied.
            const head = await readHead(c, clinic.id, 'for update');
            if (head.seq !== this.copied.seq) return false;
            await removeClinicTrail(c, clinic.id);
            return true;
          }),
        );
    } catch (err) {
      p.log.error({ err, clinicId: clinic.id }, 'verifying or removing the audit trail left in the old region failed');
    }
    return report;
  }

  /**
   * Appends the source's records after the copied head up to `upTo` to the target, through its `append()`, and
   * checks after each batch that the target's head is the source's record: same `seq`, same hash.
   */
  private async copy(source: pg.ClientBase, upTo: number): Promise<void> {
    await withClient(this.p.stores.adminUrl(this.to), async (target) => {
      while (this.copied.seq < upTo) {
        const rows = await source.query<AuditEventsTable>(
          `select * from ${events} where clinic_id = $1 and seq > $2 and seq <= $3 order by seq limit ${BATCH}`,
          [this.clinic.id, this.copied.seq, upTo],
        );
        if (rows.rows.length === 0) break;
        await this.appendAt(this.to, rows.rows.map(payloadOf));
        const last = rows.rows.at(-1)!;
        const head = await readHead(target, this.clinic.id);
        if (head.seq !== Number(last.seq) || head.hash !== last.hash)
          throw new AppError(
            500,
            'move_verification_failed',
            `The audit trail copied to ${this.to} differs from ${this.from}'s at record ${last.seq}; the clinic stays in ${this.from}`,
          );
        this.copied = head;
      }
    });
  }

  /** One `append()` on the region's app pool, as every record is written. */
  private async appendAt(region: string, payloads: string[]): Promise<void> {
    await appendBatch(this.p.stores.regionDb(region), { clinicId: this.clinic.id, payloads });
  }
}

/** The clinic's chain head, read as an administrator (pinned as the app is: the trail's RLS may be forced). */
async function readHead(c: pg.ClientBase, clinicId: string, lock = ''): Promise<Head> {
  await c.query(`select set_config('app.clinic_id', $1, false)`, [clinicId]);
  const r = await c.query<{ seq: string; hash: string }>(`select seq, hash from ${heads} where clinic_id = $1 ${lock}`, [clinicId]);
  const row = r.rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
}
