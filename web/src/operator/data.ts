import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';

export type FleetClinic = paths['/api/v1/platform/clinics/{clinicId}']['get']['responses'][200]['content']['application/json'];

export function useRegions() {
  return useQuery({ queryKey: ['ops', 'regions'], queryFn: () => call(api.GET('/api/v1/platform/regions')), staleTime: 5 * 60_000 });
}

/** Store health as the node's readiness probe sees it: the control plane and each region's store. */
export function useStoreHealth() {
  return useQuery({
    queryKey: ['ops', 'health'],
    queryFn: async () => {
      const res = await fetch('/readyz', { headers: { accept: 'application/json' } });
      return (await res.json()) as { status: string; stores: Record<string, string> };
    },
    refetchInterval: 15_000,
  });
}

export const TIER_PLACEMENT = { small: 'pooled', mid: 'schema', enterprise: 'database' } as const;
