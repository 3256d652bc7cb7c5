import type { Clinic } from '../controlplane/clinics.js';

/**
 * What this node has seen of each clinic's requests lately: counts, errors and recent durations, in windows of
 * `windowMs` (the last full window and the current one). It feeds the operator's views (the slowest clinics,
 * a clinic's health) and picks the clinics busy enough to get a metrics series of their own (`metrics.ts`).
 * In memory and per node, like the requests it counts: a fleet view adds the nodes' answers.
 */
export interface ClinicFigures {
  clinicId: string;
  region: string;
  tier: Clinic['tier'];
  placement: Clinic['placement']['model'];
  requests: number;
  /** Answers 5xx, and 429/503 refusals of this clinic's quota or share. */
  errors: number;
  refused: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

interface Window {
  requests: number;
  errors: number;
  refused: number;
  /** The last `SAMPLES` durations, a ring. */
  durations: number[];
  next: number;
}

const SAMPLES = 256;

export class ClinicStats {
  private current = new Map<string, { clinic: Clinic; w: Window }>();
  private previous = new Map<string, { clinic: Clinic; w: Window }>();
  private started = Date.now();

  constructor(private readonly windowMs = 60_000) {}

  note(clinic: Clinic, status: number, ms: number, now = Date.now()): void {
    this.roll(now);
    let entry = this.current.get(clinic.id);
    if (!entry) this.current.set(clinic.id, (entry = { clinic, w: { requests: 0, errors: 0, refused: 0, durations: [], next: 0 } }));
    entry.clinic = clinic;
    const w = entry.w;
    w.requests++;
    if (status >= 500) w.errors++;
    if (status === 429 || status === 503) w.refused++;
    if (w.durations.length < SAMPLES) w.durations.push(ms);
    else w.durations[w.next] = ms;
    w.next = (w.next + 1) % SAMPLES;
  }

  /** Every clinic seen in the last two windows, with its figures over both. */
  figures(now = Date.now()): ClinicFigures[] {
    this.roll(now);
    const ids = new Set([...this.current.keys(), ...this.previous.keys()]);
    return [...ids].map((id) => {
      const a = this.current.get(id);
      const b = this.previous.get(id);
      const clinic = (a ?? b)!.clinic;
      const durations = [...(a?.w.durations ?? []), ...(b?.w.durations ?? [])].sort((x, y) => x - y);
      const at = (q: number) => (durations.length ? durations[Math.min(durations.length - 1, Math.floor(q * durations.length))]! : 0);
      return {
        clinicId: id,
        region: clinic.dataRegion,
        tier: clinic.tier,
        placement: clinic.placement.model,
        requests: (a?.w.requests ?? 0) + (b?.w.requests ?? 0),
        errors: (a?.w.errors ?? 0) + (b?.w.errors ?? 0),
        refused: (a?.w.refused ?? 0) + (b?.w.refused ?? 0),
        p50Ms: round(at(0.5)),
        p95Ms: round(at(0.95)),
        p99Ms: round(at(0.99)),
      };
    });
  }

  /** The `n` clinics with the most requests over the last two windows. */
  busiest(n: number, now = Date.now()): string[] {
    if (n === 0) return [];
    return this.figures(now)
      .sort((a, b) => b.requests - a.requests)
      .slice(0, n)
      .map((f) => f.clinicId);
  }

  private roll(now: number): void {
    if (now - this.started < this.windowMs) return;
    // More than one window passed with nothing: the previous window is empty too.
    this.previous = now - this.started < 2 * this.windowMs ? this.current : new Map();
    this.current = new Map();
    this.started = now;
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
