import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useSession } from './session';

const CLINIC_IDS = 'polyclinic.clinic-ids';

/** GET /auth/me, remembering which clinic id each of the person's slugs names (the next cold start uses it). */
export async function fetchMe() {
  const me = await call(api.GET('/api/v1/auth/me'));
  try {
    localStorage.setItem(CLINIC_IDS, JSON.stringify(Object.fromEntries(me.memberships.map((m) => [m.clinicSlug, m.clinicId]))));
  } catch {
    // Storage full or blocked: it only saves a round trip next time.
  }
  return me;
}

/** The clinic id a slug named the last time this browser asked (a guess: the API decides). */
export function knownClinicId(slug: string): string | undefined {
  try {
    return (JSON.parse(localStorage.getItem(CLINIC_IDS) ?? '{}') as Record<string, string>)[slug];
  } catch {
    return undefined;
  }
}

/** Who is signed in and where they work: the memberships carry each clinic's slug, name and the role held there. */
export function useMe() {
  const s = useSession();
  return useQuery({
    queryKey: ['me', s?.token ?? null],
    queryFn: fetchMe,
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
