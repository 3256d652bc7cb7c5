import type { ClinicTier } from '../controlplane/schema.js';
import { AppError } from '../errors.js';

/**
 * A clinic's share of a shared pool (a bulkhead). The region pool serves every pooled and schema clinic of the
 * region; without shares, one clinic's flood fills it and every other clinic's request queues behind the flood.
 * Here each clinic may hold at most `perClinic` of the pool's connections at once; its further requests wait in a
 * queue of their own (first come, first served within the clinic), not in the pool's, so another clinic's
 * request waits for at most a pool's worth of requests ahead of it, whatever the flood. A request that cannot
 * get its share within `waitMs` is answered 503 `clinic_busy` with `Retry-After`: the flooding clinic is told to
 * slow down, the others never see it.
 *
 * A tier may also be capped below the share (`tierCap`, 0: no cap). A share bounds how much of the *pool* a
 * flood takes, not how much of the node's *CPU*: a small clinic's whole quota window of reads admitted at once
 * ran five at a time beside a neighbour's read, and the neighbour's slowest percentile paid for every one
 * (docs/benchmarks.md, "Noisy neighbour"). Capped at one or two, the same reads run one after another from the
 * clinic's own queue, which costs nothing while it waits: the flood still gets its quota, over a little longer.
 *
 * Counted in this process: each node has its own pool, so each node keeps its own shares of it (one `PoolShares`
 * per region pool, sized from that pool).
 */
export class PoolShares {
  private readonly held = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(
    readonly perClinic: number,
    private readonly waitMs: number,
    private readonly tierCap: Readonly<Record<ClinicTier, number>> = { small: 0, mid: 0, enterprise: 0 },
  ) {}

  /** How many of its transactions a clinic of `tier` may run on this pool at once. */
  limitOf(tier: ClinicTier): number {
    const cap = this.tierCap[tier];
    return cap > 0 ? Math.min(cap, this.perClinic) : this.perClinic;
  }

  /** Waits for one of the clinic's share; the function that gives it back (call it once). */
  async acquire(clinicId: string, tier: ClinicTier): Promise<() => void> {
    let entry = this.held.get(clinicId);
    if (!entry) this.held.set(clinicId, (entry = { active: 0, waiting: [] }));
    if (entry.active < this.limitOf(tier)) {
      entry.active++;
      return this.releaser(clinicId, entry);
    }
    const e = entry;
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = e.waiting.indexOf(turn);
        if (i >= 0) e.waiting.splice(i, 1);
        reject(clinicBusy(Math.max(1, Math.ceil(this.waitMs / 1000))));
      }, this.waitMs);
      e.waiting.push(turn);
    });
    // The releaser handed its slot straight to this waiter: `active` already counts it.
    return this.releaser(clinicId, e);
  }

  /** Connections a clinic holds now (for the health view). */
  activeOf(clinicId: string): number {
    return this.held.get(clinicId)?.active ?? 0;
  }

  private releaser(clinicId: string, entry: { active: number; waiting: (() => void)[] }): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = entry.waiting.shift();
      if (next) return next();
      entry.active--;
      if (entry.active === 0 && this.held.get(clinicId) === entry) this.held.delete(clinicId);
    };
  }
}

export const clinicBusy = (retryAfter: number): AppError =>
  new AppError(
    503,
    'clinic_busy',
    'This clinic is using all of its share of the database right now; try again in a moment',
    { retryAfter },
    { 'retry-after': String(retryAfter) },
  );
