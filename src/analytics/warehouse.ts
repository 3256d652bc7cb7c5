import type { ScrubbedEvent } from './scrubber.js';

/**
 * The central warehouse: scrubbed events only (nothing that has not passed the scrubber reaches it), and
 * the platform metrics operators read from them. Embedded default: DuckDB in this process
 * (`duckdb-warehouse.ts`). At scale a column store implements the same interface — ClickHouse is the
 * intended one (see docs/privacy.md, "Warehouse"): `ingest` maps to a ReplacingMergeTree keyed by the event
 * key, so a resent event still counts once.
 */
export interface Warehouse {
  /** Applies a batch; an event whose key was applied before is ignored. Returns how many were new. */
  ingest(events: readonly ScrubbedEvent[]): Promise<number>;
  platformMetrics(): Promise<PlatformMetrics>;
  /** Deletes every event of an offboarded clinic (`lifecycle/offboard.ts`); returns how many there were. */
  forgetClinic(clinicId: string): Promise<number>;
  close(): Promise<void>;
}

export interface PlatformMetrics {
  /** Completed visits per year, region, tier and specialty. */
  visits: { year: number; region: string; tier: string; specialty: string | null; visits: number }[];
  /** Bookings per appointment type and modality, with the booked duration's median. */
  appointmentTypes: { appointmentType: string; modality: string; booked: number; medianMinutes: number | null }[];
  /** Clinics sending events, by tier (how many of each size are active). */
  activeClinics: { tier: string; clinics: number }[];
  events: number;
}
