import { createHash } from 'node:crypto';
import { addressKey, type Limiter, type Limits } from '../platform/limiter.js';

/**
 * Who may try a password now. Failures are counted per (account × address) and per address, never per account
 * alone: a lock on the account would let anyone who knows a clinician's email lock that clinician out from the
 * clinic's own network (six wrong passwords did, for 15 minutes), and the difference between "locked" and
 * "wrong" told an attacker which emails have accounts.
 *
 * - **Account × address**: `maxFailures` failures in a row cost nothing; from the `maxFailures`th on, each
 *   failure holds the pair back twice as long as the one before (1 s, 2 s, 4 s … up to `maxBackoffMinutes`).
 *   Guessing one account from one address slows to a few tries an hour; the account signs in from anywhere else
 *   at once. Attempts made while held test nothing and are not counted.
 * - **Address**: beyond `addressMaxFailures` failed sign-ins in 15 minutes, whatever the accounts, the address is
 *   held for 15 minutes. A password spray across many accounts from one address stops there; a clinic behind
 *   one NAT shares this budget, which is why it is counted in failures, not in sign-ins.
 *
 * The counters are keyed by the email as typed (lower-cased and hashed), not by the account: an unknown email is
 * throttled exactly like a known one, so the throttle itself says nothing about which emails exist. Failed
 * second factors count too. A held attempt is answered like a wrong password (identity/signin.ts), so it
 * neither confirms the password nor tells the attacker it was held.
 */
export interface SignInPolicy {
  maxFailures: number;
  maxBackoffMinutes: number;
  addressMaxFailures: number;
}

export const ADDRESS_WINDOW_SECONDS = 15 * 60;
/** How long a pair's failures are remembered: well beyond the longest backoff, so the doubling is not reset by waiting it out. */
const PAIR_MEMORY_SECONDS = 24 * 60 * 60;

export type HeldBack = { scope: 'account_address' | 'address'; retryAfter: number };

const accountKey = (email: string): string => createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 24);

export class SignInThrottle {
  private readonly pairFailures: Limiter;
  private readonly pairHold: Limiter;
  private readonly addressFailures: Limiter;

  constructor(
    limits: Limits,
    private readonly policy: SignInPolicy,
  ) {
    // Counts only (`add`); the points are never reached.
    this.pairFailures = limits.limiter({ name: 'signin-pair-failures', points: 1_000_000, windowSeconds: PAIR_MEMORY_SECONDS });
    this.pairHold = limits.limiter({ name: 'signin-pair-hold', points: 1, windowSeconds: 1 });
    this.addressFailures = limits.limiter({
      name: 'signin-address-failures',
      points: policy.addressMaxFailures,
      windowSeconds: ADDRESS_WINDOW_SECONDS,
    });
  }

  /** Whether an attempt for `email` from `address` is held back now, and for how long. */
  async heldBack(email: string, address: string | null): Promise<HeldBack | undefined> {
    const from = addressKey(address);
    const [byAddress, byPair] = await Promise.all([this.addressFailures.peek(from), this.pairHold.peek(this.pair(email, from))]);
    if (!byAddress.allowed) return { scope: 'address', retryAfter: byAddress.retryAfter };
    if (!byPair.allowed) return { scope: 'account_address', retryAfter: byPair.retryAfter };
    return undefined;
  }

  /** A failed step (unknown email, wrong password, wrong second factor): counts it and sets the backoff. */
  async failed(email: string, address: string | null): Promise<void> {
    const from = addressKey(address);
    const pair = this.pair(email, from);
    const [count, byAddress] = await Promise.all([this.pairFailures.add(pair), this.addressFailures.add(from)]);
    const beyond = count.used - this.policy.maxFailures;
    if (beyond >= 0) await this.pairHold.hold(pair, Math.min(2 ** beyond, this.policy.maxBackoffMinutes * 60));
    if (!byAddress.allowed) await this.addressFailures.hold(from, ADDRESS_WINDOW_SECONDS);
  }

  /** The whole sign-in succeeded: this pair starts afresh (the address's budget does not). */
  async succeeded(email: string, address: string | null): Promise<void> {
    const pair = this.pair(email, addressKey(address));
    await Promise.all([this.pairFailures.clear(pair), this.pairHold.clear(pair)]);
  }

  private pair(email: string, from: string): string {
    return `${accountKey(email)}|${from}`;
  }
}
