import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Counters with a window, shared by every API node: the one place the platform keeps rate limits, sign-in
 * backoff and per-clinic quotas (`fleet/quotas.ts`). With Redis configured the counters live there, so a limit holds across
 * nodes and restarts; without it they live in this process (the embedded default is one node). Both are
 * `rate-limiter-flexible`, whose Redis counters are one atomic script per call; if Redis fails mid-flight each
 * limiter falls back to an in-memory one rather than letting every request through or refusing them all.
 *
 * A rule names its counters, so keys of different rules never meet; keys are whatever the caller counts by
 * (an address, an account, a clinic). Callers that count by people hash them first: Redis is not the place
 * for a list of email addresses.
 */
export interface LimitRule {
  /** Names the counters of this rule (part of every key). */
  name: string;
  /** Points a key may take in one window. */
  points: number;
  windowSeconds: number;
  /** Once a key is over, it is refused for this long (default: until its window ends). */
  blockSeconds?: number;
}

export interface LimitState {
  /** Whether the key is within its points (after this call, for `take` and `add`). */
  allowed: boolean;
  /** Points used in the current window. */
  used: number;
  /** When refused: whole seconds until the key is allowed again; otherwise 0. */
  retryAfter: number;
  /** The same in milliseconds (for a caller that paces by it: `fleet/paced-refusals.ts`). */
  retryAfterMs: number;
  /** Whole seconds until the key's current window ends and its points are back (0 for a key with none used). */
  resetAfter: number;
}

export interface Limiter {
  readonly rule: LimitRule;
  /** Takes points; refused (and nothing taken) when the key has none left. */
  take(key: string, points?: number): Promise<LimitState>;
  /** Counts points whatever the key has left (a failure that happened); says whether the key is now over. */
  add(key: string, points?: number): Promise<LimitState>;
  /** The key's state, changing nothing. */
  peek(key: string): Promise<LimitState>;
  /** Refuses the key for `seconds`, whatever it used. */
  hold(key: string, seconds: number): Promise<void>;
  /** Forgets the key. */
  clear(key: string): Promise<void>;
}

export type LimitBackend = 'memory' | 'redis';

export class Limits {
  private readonly limiters = new Map<string, Limiter>();

  private constructor(
    readonly backend: LimitBackend,
    private readonly prefix: string,
    private readonly redis: Redis | undefined,
  ) {}

  static memory(prefix: string): Limits {
    return new Limits('memory', prefix, undefined);
  }

  /** `client` is a connection that is not in subscriber mode; counters are prefixed with the deployment's instance. */
  static redis(client: Redis, prefix: string): Limits {
    return new Limits('redis', prefix, client);
  }

  limiter(rule: LimitRule): Limiter {
    const existing = this.limiters.get(rule.name);
    if (existing) {
      const same =
        existing.rule.points === rule.points &&
        existing.rule.windowSeconds === rule.windowSeconds &&
        existing.rule.blockSeconds === rule.blockSeconds;
      if (!same) throw new Error(`limit ${rule.name} is already defined with other numbers`);
      return existing;
    }
    const options = {
      keyPrefix: `${this.prefix}:limit:${rule.name}`,
      points: rule.points,
      duration: rule.windowSeconds,
      blockDuration: rule.blockSeconds ?? 0,
    };
    const memory = new RateLimiterMemory(options);
    const store: RateLimiterAbstract = this.redis
      ? new RateLimiterRedis({ ...options, storeClient: this.redis, insuranceLimiter: memory, rejectIfRedisNotReady: true })
      : memory;
    const limiter = new StoreLimiter(rule, store);
    this.limiters.set(rule.name, limiter);
    return limiter;
  }
}

class StoreLimiter implements Limiter {
  constructor(
    readonly rule: LimitRule,
    private readonly store: RateLimiterAbstract,
  ) {}

  private state(res: RateLimiterRes | null, allowed?: boolean): LimitState {
    const used = res?.consumedPoints ?? 0;
    const ok = allowed ?? used <= this.rule.points;
    const ms = Math.max(0, res?.msBeforeNext ?? 0);
    const reset = Math.ceil(ms / 1000);
    return { allowed: ok, used, retryAfter: ok ? 0 : Math.max(1, reset), retryAfterMs: ok ? 0 : Math.max(1, ms), resetAfter: reset };
  }

  async take(key: string, points = 1): Promise<LimitState> {
    try {
      return this.state(await this.store.consume(key, points), true);
    } catch (refused) {
      if (refused instanceof RateLimiterRes) return this.state(refused, false);
      throw refused;
    }
  }

  async add(key: string, points = 1): Promise<LimitState> {
    return this.state(await this.store.penalty(key, points));
  }

  async peek(key: string): Promise<LimitState> {
    return this.state(await this.store.get(key));
  }

  async hold(key: string, seconds: number): Promise<void> {
    await this.store.block(key, seconds);
  }

  async clear(key: string): Promise<void> {
    await this.store.delete(key);
  }
}

/**
 * What per-address limits count by: the IPv4 address, or the /64 of an IPv6 one (one subscriber's whole
 * network; counting single IPv6 addresses would give an attacker 2^64 budgets). IPv4-mapped IPv6 addresses
 * count as the IPv4 address they carry.
 */
export function addressKey(address: string | null | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
