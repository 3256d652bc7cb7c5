import type { paths } from '../api/schema';

export type Flag = paths['/api/v1/platform/flags']['get']['responses'][200]['content']['application/json']['items'][number];
export type FlagBody = NonNullable<paths['/api/v1/platform/flags']['post']['requestBody']>['content']['application/json'];
export type Strategy = NonNullable<FlagBody['strategies']>[number];
export const FLAG_TYPES = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;

/**
 * The targeting a person sets in the console, as Unleash strategies: one gradual rollout (sticky per clinic)
 * constrained to the tiers, regions and clinics chosen. A flag whose strategies say more than that is edited
 * as JSON instead.
 */
export interface Targeting {
  rollout: number;
  tiers: string[];
  regions: string[];
  clinics: string[];
}

export function strategiesOf(name: string, t: Targeting): Strategy[] {
  const constraints = [
    ...(t.tiers.length ? [{ contextName: 'tier', operator: 'IN' as const, values: t.tiers }] : []),
    ...(t.regions.length ? [{ contextName: 'region', operator: 'IN' as const, values: t.regions }] : []),
    ...(t.clinics.length ? [{ contextName: 'clinicId', operator: 'IN' as const, values: t.clinics }] : []),
  ];
  return [
    {
      name: 'flexibleRollout',
      parameters: { rollout: String(t.rollout), stickiness: 'clinicId', groupId: name },
      ...(constraints.length ? { constraints } : {}),
    },
  ];
}

/** The console's targeting read back from strategies, or null when they say more than it can show. */
export function targetingOf(strategies: readonly Strategy[]): Targeting | null {
  if (strategies.length === 0) return { rollout: 100, tiers: [], regions: [], clinics: [] };
  if (strategies.length !== 1) return null;
  const [s] = strategies as [Strategy];
  if (s.name !== 'flexibleRollout' || s.variants?.length || s.segments?.length) return null;
  const out: Targeting = { rollout: Number(s.parameters?.rollout ?? 100), tiers: [], regions: [], clinics: [] };
  for (const c of s.constraints ?? []) {
    if (c.operator !== 'IN' || c.inverted || !c.values) return null;
    if (c.contextName === 'tier') out.tiers = c.values;
    else if (c.contextName === 'region') out.regions = c.values;
    else if (c.contextName === 'clinicId') out.clinics = c.values;
    else return null;
  }
  return out;
}
