import { useQuery } from '@tanstack/react-query';
import { createContext, useContext } from 'react';
import { api, call } from '../api/client';

/** The signed-in member in this clinic: what they may do, and the provider record they act as (if any). */
export function useClinicSelf(clinicId: string | undefined) {
  return useQuery({
    queryKey: ['clinic-self', clinicId],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/me', { params: { path: { clinicId: clinicId! } } })),
    enabled: Boolean(clinicId),
    staleTime: 60_000,
  });
}

export type ClinicSelf = NonNullable<ReturnType<typeof useClinicSelf>['data']>;
export type Permission = ClinicSelf['permissions'][number];

export interface ClinicContextValue {
  clinicId: string;
  slug: string;
  self: ClinicSelf;
  /** Whether the member holds a permission here; screens and actions a role may not use are not offered. */
  can(...any: Permission[]): boolean;
  /** An app path inside this clinic. */
  path(rest: string): string;
}

const Context = createContext<ClinicContextValue | null>(null);
export const ClinicProvider = Context.Provider;

export function useClinic(): ClinicContextValue {
  const v = useContext(Context);
  if (!v) throw new Error('useClinic outside a clinic');
  return v;
}
