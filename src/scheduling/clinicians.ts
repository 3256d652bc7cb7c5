import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { precompiled } from '../db/precompiled.js';
import type { InvalidationBus } from '../platform/bus.js';

/** A member of a clinic as booking sees them: their role, and the base role it derives from (a clinic's own role). */
export interface MemberRole {
  role: string;
  name: string;
  base_role: string | null;
}

/**
 * The member and the base role their role derives from, in one control-plane round trip, compiled once.
 */
const memberRole = precompiled((db: Kysely<ControlDB>, a: { clinicId: string; userId: string }) =>
  db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .leftJoin('clinic_roles', (j) =>
      j.onRef('clinic_roles.clinic_id', '=', 'memberships.clinic_id').onRef('clinic_roles.key', '=', 'memberships.role'),
    )
    .select(['memberships.role', 'users.name', 'clinic_roles.base_role'])
    .where('memberships.clinic_id', '=', a.clinicId)
    .where('memberships.user_id', '=', a.userId),
);

/** The membership as the control plane holds it now (no cache): creating a provider, rescheduling. */
export async function readMemberRole(control: Kysely<ControlDB>, clinicId: string, userId: string): Promise<MemberRole | undefined> {
  const [row] = await memberRole(control, { clinicId, userId });
  return row;
}

/**
 * "Is this provider still a member here, and in what role?", asked by every booking, answered from memory.
 * The control-plane query was a round trip and a message per booking, a fifth of a booking's socket writes.
 *
 * It is cached exactly as a session's principal is (`identity/sessions.ts`), so a provider's standing is as
 * fresh as the provider's own access: every change of a user's memberships, role or grants (members, clinic
 * roles, grants, SCIM, SSO, offboarding, invitations) publishes the user on the bus's `user-sessions` topic,
 * and every node forgets that user's entries at once; a bus that reconnects (messages may have been lost)
 * drops them all; nothing is kept longer than `cacheMs` (5 s) in any case. A read that was in flight when its
 * user was forgotten is answered but not kept.
 */
export class ClinicalMembers {
  private readonly cache = new Map<string, { row: MemberRole | undefined; until: number }>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Bumped when a user is forgotten, so a read that started before is not cached after. */
  private readonly generation = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;

  constructor(
    private readonly control: Kysely<ControlDB>,
    bus: InvalidationBus,
    private readonly cacheMs = 5_000,
    private readonly maxEntries = 50_000,
  ) {
    this.unsubscribe = bus.subscribe('user-sessions', (userId) => this.forget(userId));
    this.unsubscribeReconnect = bus.onReconnect(() => this.clear());
  }

  async get(clinicId: string, userId: string): Promise<MemberRole | undefined> {
    const key = `${clinicId}\u0000${userId}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.row;
    const seen = this.generation.get(userId) ?? 0;
    const row = await readMemberRole(this.control, clinicId, userId);
    if ((this.generation.get(userId) ?? 0) === seen) {
      if (this.cache.size >= this.maxEntries) this.clear();
      this.cache.set(key, { row, until: Date.now() + this.cacheMs });
      let keys = this.byUser.get(userId);
      if (!keys) this.byUser.set(userId, (keys = new Set()));
      keys.add(key);
    }
    return row;
  }

  private forget(userId: string): void {
    this.generation.set(userId, (this.generation.get(userId) ?? 0) + 1);
    for (const key of this.byUser.get(userId) ?? []) this.cache.delete(key);
    this.byUser.delete(userId);
  }

  private clear(): void {
    // Generations stay: a read in flight across the clear must still not be kept if its user was forgotten.
    this.cache.clear();
    this.byUser.clear();
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
    this.clear();
  }
}
