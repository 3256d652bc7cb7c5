import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useSession } from './session';

/** Who is signed in and where they work: the memberships carry each clinic's slug, name and the role held there. */
export function useMe() {
  const s = useSession();
  return useQuery({
    queryKey: ['me', s?.token ?? null],
    queryFn: () => call(api.GET('/api/v1/auth/me')),
    enabled: s !== null,
    staleTime: 60_000,
  });
}

export type Me = NonNullable<ReturnType<typeof useMe>['data']>;
export type Membership = Me['memberships'][number];

/** Where a person lands after signing in: the operator console, their one clinic, or the list of their clinics. */
export function homeOf(me: Me): string {
  if (me.user.isOperator) return '/operator';
  const [only, ...rest] = me.memberships;
  if (only && rest.length === 0) return `/c/${only.clinicSlug}`;
  return '/clinics';
}
