import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetConfig } from '../config.js';
import type { ClinicTier } from '../controlplane/schema.js';

/**
 * A token bucket in front of each clinic's admitted requests on this node: what smooths a quota window that
 * opens all at once. The quotas (`quotas.ts`) count a window across nodes, so a clinic may spend its whole
 * window in one burst: 64 connections of a small clinic spent its 50 reads in the first tenth of each second,
 * all beside a neighbour's read, and the neighbour's slowest percentile paid (docs/benchmarks.md, "Noisy
 * neighbour"). Here a clinic's requests pass at once up to `clinicBurst`, and beyond it each waits for its token
 * (one every window ÷ quota: 20 ms for a small clinic) on a timer, costing nothing while it waits; the quota is
 * unchanged (it decides what is admitted, this only when it runs). A clinic that sends at or below its rate never
 * waits; one that bursts gets the same answers, spread over the time its quota describes.
 *
 * The bucket is GCRA (the generic cell rate algorithm): one "theoretical arrival time" per clinic, no refill
 * timer. Counted in this process, as the pool shares are: each node smooths what it runs. A wait never exceeds one
 * quota window (`rateWindowSeconds`): a clinic cannot be admitted more than a window's worth in a window, so its
 * bucket cannot fall further behind than that (a node that took over another's clinics stays bounded too).
 */
export class ClinicPacing {
  private readonly due = new Map<string, number>();

  constructor(private readonly config: Pick<FleetConfig, 'clinicRate' | 'clinicBurst' | 'rateWindowSeconds'>) {}

  /** How long a request of the clinic arriving `now` waits for its token (and takes it); 0 when off (`clinicBurst` 0). */
  take(clinic: { id: string; tier: ClinicTier }, now: number): number {
    const burst = this.config.clinicBurst;
    if (burst === 0) return 0;
    const interval = 1000 / this.config.clinicRate[clinic.tier];
    const tolerance = interval * (burst - 1);
    if (this.due.size > 10_000) for (const [id, at] of this.due) if (at < now) this.due.delete(id);
    // The clinic's next token is due `at`; never further ahead than one window past the burst it may take at once.
    const at = Math.min(Math.max(this.due.get(clinic.id) ?? now, now), now + this.config.rateWindowSeconds * 1000 + tolerance);
    this.due.set(clinic.id, at + interval);
    return Math.max(0, at - tolerance - now);
  }

  /** Waits for the clinic's token. */
  async wait(clinic: { id: string; tier: ClinicTier }): Promise<void> {
    const ms = this.take(clinic, Date.now());
    if (ms >= 1) await sleep(ms);
  }
}
