import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';

/** The clinic's roles (base and derived) with their permissions; every member may read them. */
export function useRoles() {
  const { clinicId } = useClinic();
  return useQuery({
    queryKey: [clinicId, 'roles'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/roles', { params: { path: { clinicId } } })),
    staleTime: 60_000,
  });
}

export type Role = NonNullable<ReturnType<typeof useRoles>['data']>['roles'][number];

export function useRoleOptions() {
  const roles = useRoles();
  return (roles.data?.roles ?? []).map((r) => ({ value: r.key, label: r.name }));
}
