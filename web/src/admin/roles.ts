import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';

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
  const { role } = useI18n();
  return (roles.data?.roles ?? []).map((r) => ({ value: r.key, label: role(r.key, r.name) }));
}
