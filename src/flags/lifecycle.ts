/**
 * Flag lifecycle: every flag has an owner and a type, and each type an expected lifetime after which a
 * flag that is still around is stale (Unleash's defaults). Kill switches and permission flags are meant to
 * live on; so is any flag marked permanent. An explicit `retireBy` date wins over the type's lifetime.
 */
export const FLAG_TYPES = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;
export type FlagType = (typeof FLAG_TYPES)[number];

export const EXPECTED_LIFETIME_DAYS: Record<FlagType, number | null> = {
  release: 40,
  experiment: 40,
  operational: 7,
  'kill-switch': null,
  permission: null,
};

export interface LifecycleFacts {
  type: FlagType;
  permanent: boolean;
  retireBy: string | null;
  createdAt: Date;
}

/** The day a flag should be gone by, or null when it is meant to stay. */
export function retireDate(f: LifecycleFacts): string | null {
  if (f.permanent) return null;
  if (f.retireBy) return f.retireBy;
  const days = EXPECTED_LIFETIME_DAYS[f.type];
  if (days === null) return null;
  return new Date(f.createdAt.getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

export function isStale(f: LifecycleFacts, today = new Date()): boolean {
  const due = retireDate(f);
  return due !== null && due < today.toISOString().slice(0, 10);
}
