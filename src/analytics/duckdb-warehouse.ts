import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ScrubbedEvent } from './scrubber.js';
import type { PlatformMetrics, Warehouse } from './warehouse.js';

/**
 * The embedded warehouse: DuckDB, in a file under the data directory (or in memory). One table of scrubbed
 * events, the fields the metrics read lifted into columns, the rest kept as JSON. Idempotent by the event
 * key (its primary key, `INSERT OR IGNORE`). DuckDB runs queries on one connection here; calls are queued
 * so a metrics read never interleaves with a batch being applied.
 */
export class DuckDbWarehouse implements Warehouse {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<DuckDbWarehouse> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    const db = await instance.connect();
    await db.run(`create table if not exists events (
      key varchar primary key,
      type varchar not null,
      clinic_id varchar not null,
      region varchar not null,
      tier varchar not null,
      specialty varchar,
      year integer not null,
      appointment_type varchar,
      modality varchar,
      to_status varchar,
      duration_minutes integer,
      fields json not null)`);
    await db.run('create or replace table staging as select * from events limit 0');
    return new DuckDbWarehouse(instance, db);
  }

  ingest(events: readonly ScrubbedEvent[]): Promise<number> {
    if (events.length === 0) return Promise.resolve(0);
    return this.serial(async () => {
      const appender = await this.db.createAppender('staging');
      for (const e of events) {
        const f = e.fields;
        appender.appendVarchar(e.key);
        appender.appendVarchar(e.type);
        appender.appendVarchar(e.clinicId);
        appender.appendVarchar(e.region);
        appender.appendVarchar(e.tier);
        varchar(appender, e.specialty);
        appender.appendInteger(e.year);
        varchar(appender, typeof f.appointmentType === 'string' ? f.appointmentType : null);
        varchar(appender, typeof f.modality === 'string' ? f.modality : null);
        varchar(appender, e.type === 'appointment.status_changed' && typeof f.to === 'string' ? f.to : null);
        if (typeof f.endsAt === 'number') appender.appendInteger(f.endsAt);
        else appender.appendNull();
        appender.appendVarchar(JSON.stringify(f));
        appender.endRow();
      }
      appender.closeSync();
      // Duplicates inside one batch too (rare: a redelivery racing a resend): the first of a key wins, as across batches.
      const unique = new Set(events.map((e) => e.key)).size === events.length;
      const applied = await this.db.run(
        unique
          ? 'insert or ignore into events select * from staging'
          : 'insert or ignore into events select * exclude (n) from (select *, row_number() over (partition by key) as n from staging) where n = 1',
      );
      await this.db.run('delete from staging');
      return applied.rowsChanged;
    });
  }

  platformMetrics(): Promise<PlatformMetrics> {
    return this.serial(async () => {
      const visits = await this.rows(
        `select year, region, tier, specialty, count(*)::integer as visits from events
         where type = 'appointment.status_changed' and to_status = 'completed'
         group by all order by year, region, tier, specialty`,
      );
      const types = await this.rows(
        `select appointment_type as "appointmentType", modality, count(*)::integer as booked,
                median(duration_minutes)::double as "medianMinutes"
         from events where type = 'appointment.booked' and appointment_type is not null
         group by all order by booked desc, "appointmentType" limit 50`,
      );
      const clinics = await this.rows('select tier, count(distinct clinic_id)::integer as clinics from events group by tier order by tier');
      const total = await this.rows('select count(*)::integer as n from events');
      return {
        visits: visits as PlatformMetrics['visits'],
        appointmentTypes: types as PlatformMetrics['appointmentTypes'],
        activeClinics: clinics as PlatformMetrics['activeClinics'],
        events: Number(total[0]?.n ?? 0),
      };
    });
  }

  forgetClinic(clinicId: string): Promise<number> {
    return this.serial(async () => (await this.db.run('delete from events where clinic_id = $1', [clinicId])).rowsChanged);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
    this.db.closeSync();
    this.instance.closeSync();
  }

  private async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.db.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }
}

function varchar(appender: { appendVarchar(v: string): void; appendNull(): void }, value: string | null): void {
  if (value === null) appender.appendNull();
  else appender.appendVarchar(value);
}
