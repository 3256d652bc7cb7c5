import type { FleetConfig } from '../config.js';
import type { ClinicTier } from '../controlplane/schema.js';
import { AppError } from '../errors.js';
import type { LimitState, Limiter, Limits } from '../platform/limiter.js';
import type { Refusal } from './paced-refusals.js';

/**
 * Request quotas of the clinic routes: one budget per clinic, sized by its tier, and one per user inside a
 * clinic, so that neither a clinic's integration gone wild nor one user's script takes the node from the other
 * clinics. Both live in the platform's `Limits` (Redis when configured, so a clinic's budget holds across
 * nodes; in this process otherwise) and count in windows of `rateWindowSeconds`: a clinic may burst its
 * whole window's budget, then waits for the window to end. A refused request is answered 429 with
 * `Retry-After` before any database work; a member of the clinic is counted only after the membership check,
 * so someone else's requests never spend a clinic's budget.
 *
 * The user is taken first: a user over their own budget does not spend the clinic's. Each answer carries the
 * IETF rate-limit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` names both budgets,
 * `RateLimit` says what is left of each. A refusal carries when it ends, to the millisecond, so that a session
 * asking again before then is answered by `paced-refusals.ts` without coming here.
 */
export class ClinicQuotas {
  private readonly clinic: Record<ClinicTier, Limiter>;
  private readonly user: Limiter;
  private readonly policy: Record<ClinicTier, string>;
  private readonly refusedUntil = new Map<string, number>();

  constructor(limits: Limits, config: Pick<FleetConfig, 'clinicRate' | 'userRate' | 'rateWindowSeconds'>) {
    const w = config.rateWindowSeconds;
    const rule = (tier: ClinicTier): Limiter =>
      limits.limiter({ name: `clinic-${tier}`, points: config.clinicRate[tier] * w, windowSeconds: w });
    this.clinic = { small: rule('small'), mid: rule('mid'), enterprise: rule('enterprise') };
    this.user = limits.limiter({ name: 'clinic-user', points: config.userRate * w, windowSeconds: w });
    const userPolicy = `"user";q=${config.userRate * w};w=${w}`;
    this.policy = {
      small: `"clinic";q=${config.clinicRate.small * w};w=${w}, ${userPolicy}`,
      mid: `"clinic";q=${config.clinicRate.mid * w};w=${w}, ${userPolicy}`,
      enterprise: `"clinic";q=${config.clinicRate.enterprise * w};w=${w}, ${userPolicy}`,
    };
  }

  /** Takes one request from the user's and the clinic's budgets; the headers to answer with, or a 429. */
  async admit(clinic: { id: string; tier: ClinicTier }, userId: string): Promise<Record<string, string>> {
    const policy = this.policy[clinic.tier];
    const mine = this.clinic[clinic.tier];
    // A clinic already refused stays refused on this node until its window ends, without asking Redis: a flood
    // that ignores Retry-After then costs the node a map lookup per request, not two round trips.
    const known = this.refusedUntil.get(clinic.id);
    if (known !== undefined) {
      const ms = known - Date.now();
      if (ms > 0) throw overQuota('clinic', refusedFor(mine, ms), mine, policy);
      this.refusedUntil.delete(clinic.id);
    }
    const user = await this.user.take(`${clinic.id}:${userId}`);
    if (!user.allowed) throw overQuota('user', user, this.user, policy);
    const state = await mine.take(clinic.id);
    if (!state.allowed) {
      this.refusedUntil.set(clinic.id, Date.now() + state.retryAfterMs);
      throw overQuota('clinic', state, mine, policy);
    }
    return {
      'ratelimit-policy': policy,
      ratelimit: `"clinic";r=${left(state, mine)};t=${state.resetAfter}, "user";r=${left(user, this.user)};t=${user.resetAfter}`,
    };
  }
}

const left = (state: LimitState, limiter: Limiter): number => Math.max(0, limiter.rule.points - state.used);

const refusedFor = (limiter: Limiter, ms: number): LimitState => {
  const seconds = Math.ceil(ms / 1000);
  return { allowed: false, used: limiter.rule.points, retryAfter: Math.max(0, seconds), retryAfterMs: ms, resetAfter: seconds };
};

/** A quota's 429, and when its refusal ends: what `paced-refusals.ts` answers a session that asks again. */
export class QuotaExceeded extends AppError {
  constructor(
    which: 'clinic' | 'user',
    state: LimitState,
    limiter: Limiter,
    policy: string,
    readonly refusal: Refusal,
  ) {
    const whose = which === 'clinic' ? "This clinic's" : 'Your';
    super(
      429,
      'quota_exceeded',
      `${whose} request quota is spent; retry after ${state.retryAfter} s`,
      { quota: which, retryAfter: state.retryAfter },
      {
        'retry-after': String(state.retryAfter),
        'ratelimit-policy': policy,
        ratelimit: `"${which}";r=${left(state, limiter)};t=${state.retryAfter}`,
      },
    );
  }
}

function overQuota(which: 'clinic' | 'user', state: LimitState, limiter: Limiter, policy: string): QuotaExceeded {
  const until = Date.now() + state.retryAfterMs;
  const refusal: Refusal = {
    until,
    spacingMs: (limiter.rule.windowSeconds * 1000) / limiter.rule.points,
    // As of the moment it leaves: a held answer tells how long is left then (0 once the refusal has ended).
    answer: (now) => new QuotaExceeded(which, refusedFor(limiter, Math.max(0, until - now)), limiter, policy, refusal),
  };
  return new QuotaExceeded(which, state, limiter, policy, refusal);
}
