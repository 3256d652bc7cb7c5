import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppError } from '../errors.js';

/**
 * What a flood over its quota may still cost the node: almost nothing. Measured (`bench/noisy-neighbour.ts`,
 * docs/benchmarks.md): 64 connections of one clinic that ignore `Retry-After` send ~5,500 requests a second, and
 * answering each with a cheap 429 still took the node's one event loop from the quiet clinics (their p99 ×10).
 * The answer itself was never the cost; the rate of answers was. So a session that was refused and asks again
 * before its refusal ends is answered here, before its session is resolved or its body read, and its 429 is
 * *held* on a timer (no CPU, one idle socket) instead of being sent at once:
 *
 * - A client waits for the answer before it sends the next request on that connection (HTTP/1.1 does, and so
 *   does every client library and autocannon), so each of the flood's connections costs the node one answer per
 *   hold, not one per round trip: 64 connections → ~64 answers a second instead of ~5,500.
 * - Answers are released one `spacingMs` (the quota's window over its points: the time one token takes) after
 *   another from the refusal's end, not all at once: the flood's next requests arrive at about its quota's rate
 *   instead of as a burst of every connection at the window's start, so the work it is entitled to (its quota
 *   of 200s) is spread over the window and never queues ahead of a neighbour by more than a request or two.
 * - A hold never exceeds `maxHoldMs` (a long quota window must not hold a socket for a minute), and a clinic
 *   holds at most `maxHeldPerClinic` answers: beyond that its 429 goes at once with `Connection: close`, so a
 *   clinic opening ever more connections spends handshakes of its own, not the node's sockets.
 * - The first refusal of a session is answered at once, with `Retry-After`: a client that honours it never sees
 *   a held answer. A held answer says what is true when it leaves (`Retry-After` and `RateLimit` as of then).
 *
 * Only a session already seen to be a member of the clinic and refused is remembered (the clinic scope's check
 * ran for it), so nobody learns anything here they did not learn from the first 429; a session revoked meanwhile
 * gets its 429 until the refusal ends (at most one quota window), then its 401. Counted in this process: a
 * refusal is a node's own view, as the quotas' `refusedUntil` is.
 */
export interface Refusal {
  /** When the refusal ends (epoch ms). */
  until: number;
  /** One token's time of the quota refused (window ÷ points): the spacing of held answers. */
  spacingMs: number;
  /** The answer as of a moment: its `Retry-After` counts from then. */
  answer(now: number): AppError;
}

interface ClinicHolds {
  held: number;
  /** When the next held answer of this clinic may leave (epoch ms). */
  next: number;
}

/** Refusals remembered at most (sessions × clinics); beyond it, new ones are simply answered the long way. */
const REMEMBERED_MAX = 10_000;

export class PacedRefusals {
  private readonly refusals = new Map<string, Refusal>();
  private readonly holds = new Map<string, ClinicHolds>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  constructor(
    private readonly maxHoldMs: number,
    private readonly maxHeldPerClinic: number,
  ) {}

  /** Remembers that `authorization`'s request to the clinic was refused (the clinic scope's check ran for it). */
  remember(clinicId: string, authorization: string | undefined, refusal: Refusal): void {
    if (!authorization || this.maxHoldMs === 0) return;
    if (this.refusals.size >= REMEMBERED_MAX) this.forgetEnded(Date.now());
    if (this.refusals.size < REMEMBERED_MAX) this.refusals.set(key(clinicId, authorization), refusal);
  }

  /**
   * If this request repeats a refusal still in force, answers it (held, or at once with `Connection: close`
   * beyond the clinic's bound) through `done` and says true; otherwise false, and the request goes on.
   */
  answer(clinicId: string, req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): boolean {
    const authorization = req.headers.authorization;
    if (!authorization || this.refusals.size === 0) return false;
    const k = key(clinicId, authorization);
    const refusal = this.refusals.get(k);
    if (!refusal) return false;
    const now = Date.now();
    if (refusal.until <= now) {
      this.refusals.delete(k);
      return false;
    }
    let holds = this.holds.get(clinicId);
    if (!holds) this.holds.set(clinicId, (holds = { held: 0, next: 0 }));
    if (holds.held >= this.maxHeldPerClinic) {
      reply.header('connection', 'close');
      done(refusal.answer(now));
      return true;
    }
    const at = Math.min(Math.max(refusal.until, holds.next), now + this.maxHoldMs);
    holds.next = Math.max(at, holds.next) + refusal.spacingMs;
    holds.held++;
    const h = holds;
    const release = () => {
      this.timers.delete(timer);
      if (--h.held === 0 && this.holds.get(clinicId) === h) this.holds.delete(clinicId);
      done(refusal.answer(Date.now()));
    };
    const timer = setTimeout(release, at - now);
    this.timers.set(timer, release);
    return true;
  }

  /** Answers every held request now (the node is closing: a held answer must not hold up its shutdown). */
  releaseAll(): void {
    for (const [timer, release] of [...this.timers]) {
      clearTimeout(timer);
      release();
    }
  }

  /** Answers held at this moment, all clinics together (for tests and the health view). */
  heldCount(): number {
    return this.timers.size;
  }

  private forgetEnded(now: number): void {
    for (const [k, r] of this.refusals) if (r.until <= now) this.refusals.delete(k);
  }
}

const key = (clinicId: string, authorization: string): string => `${clinicId}\n${authorization}`;
