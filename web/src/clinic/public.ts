import { useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { api, call } from '../api/client';
import { appearance } from '../app/appearance';
import type { Language } from '../i18n/i18n';

/** What anyone may know of a clinic by its slug: its look, its languages and how its staff sign in. */
export function usePublicClinic(slug: string | undefined) {
  return useQuery({
    queryKey: ['public-clinic', slug],
    queryFn: () => call(api.GET('/api/v1/public/clinics/{slug}', { params: { path: { slug: slug! } } })),
    enabled: Boolean(slug),
    staleTime: 5 * 60_000,
    retry: false,
  });
}

export type PublicClinic = NonNullable<ReturnType<typeof usePublicClinic>['data']>;

/** Applies a clinic's look and languages while the component is shown; the platform's come back after. */
export function useClinicAppearance(clinic: PublicClinic | undefined): void {
  useEffect(() => {
    if (!clinic) return;
    appearance.set({
      branding: {
        displayName: clinic.displayName,
        logo: clinic.logo,
        primaryColor: clinic.primaryColor,
        onPrimaryColor: clinic.onPrimaryColor,
      },
      languages: { offered: clinic.languages.offered as Language[], fallback: clinic.languages.default as Language },
    });
    return () => appearance.set({ branding: null, languages: null });
  }, [clinic]);
}
