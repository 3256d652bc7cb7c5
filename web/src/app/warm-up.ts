import type { QueryClient } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { fetchMe, knownClinicId } from '../auth/me';
import { session } from '../auth/session';
import { queries } from '../clinic/data';
import { today } from '../i18n/calendar';
import { ClinicLayout, OperatorLayout, SchedulePage } from './screens';

/**
 * A cold start of a clinic screen would otherwise be a waterfall: the page, then who am I, then the clinic's
 * layout code, then what may I do here, then the screen's code, then its data. Here the requests and the code
 * that do not depend on each other start at once, before the first render; the components then find them in
 * the query cache and the module cache. Nothing here decides anything: a stale guess just costs a request.
 *
 * Resolves when the screen's code is here (or failed to come: the screen then asks again and says so), so that the
 * first render can wait for it rather than show a loading state for a moment (`main.tsx`).
 */
export function warmUp(queryClient: QueryClient, path: string): Promise<void> {
  const token = session.token();
  const slug = /^\/c\/([^/]+)/.exec(path)?.[1];
  if (token) void queryClient.prefetchQuery({ queryKey: ['me', token], queryFn: fetchMe, staleTime: 60_000 });
  // Signed out, the operator's and a clinic's screens send the visitor to sign in: no screen code to wait for.
  if (!slug) return token && path.startsWith('/operator') ? settled(OperatorLayout.preload()) : Promise.resolve();
  void queryClient.prefetchQuery({
    queryKey: ['public-clinic', slug],
    queryFn: () => call(api.GET('/api/v1/public/clinics/{slug}', { params: { path: { slug } } })),
    staleTime: 5 * 60_000,
  });
  // A visit link, the patient area and a clinic's sign-in page are not the clinic layout: nothing to wait for.
  if (!token || /^\/c\/[^/]+\/(visit|portal|sign-in)(\/|$)/.test(path)) return Promise.resolve();
  void warmClinic(queryClient, token, slug, path).catch(() => {
    // A guess that did not pan out: the screens ask again and show what the API says.
  });
  // The code after the requests: the browser has six connections to the server, and the day's data is the longer
  // chain (who am I, what may I do here, the day, its patients), so its first request must not queue behind
  // twenty-odd chunks of screen code.
  return new Promise<void>((resolve) =>
    setTimeout(() => {
      const schedule = /\/schedule\/?$/.test(path) || new RegExp(`^/c/${slug}/?$`).test(path);
      void settled(Promise.all([ClinicLayout.preload(), schedule ? SchedulePage.preload() : undefined])).then(resolve);
    }, 0),
  );
}

function settled(p: Promise<unknown>): Promise<void> {
  return p.then(
    () => undefined,
    () => undefined,
  );
}

/** The clinic's "what may I do here", then, for a provider opening their day, the day itself and its patients. */
async function warmClinic(queryClient: QueryClient, token: string, slug: string, path: string): Promise<void> {
  const clinicId =
    knownClinicId(slug) ??
    (await queryClient.fetchQuery({ queryKey: ['me', token], queryFn: fetchMe, staleTime: 60_000 })).memberships.find(
      (m) => m.clinicSlug === slug,
    )?.clinicId;
  if (!clinicId) return;
  const self = await queryClient.fetchQuery({
    queryKey: ['clinic-self', clinicId],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/me', { params: { path: { clinicId } } })),
    staleTime: 60_000,
  });
  const params = new URLSearchParams(window.location.search);
  const daySchedule = /\/schedule\/?$/.test(path) && params.get('view') !== 'week' && !params.has('provider');
  if (!daySchedule || !self.providerId || !self.permissions.includes('schedule.read')) return;
  if (self.permissions.includes('provider.read')) void queryClient.prefetchQuery(queries.providers(clinicId));
  void queryClient.prefetchQuery(queries.appointmentTypes(clinicId));
  const day = await queryClient.fetchQuery(
    queries.appointments(clinicId, self.providerId, params.get('date') ?? today(), 1, Intl.DateTimeFormat().resolvedOptions().timeZone),
  );
  if (day.items.length && self.permissions.includes('patient.read'))
    await queryClient.prefetchQuery(
      queries.patientsByIds(
        clinicId,
        day.items.map((a) => a.patientId),
      ),
    );
}
