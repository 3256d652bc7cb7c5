import { createContext, useContext } from 'react';

/** The clinic whose portal is shown: its address, id and name. */
export interface PortalContext {
  slug: string;
  clinicId: string;
  clinicName: string;
}

const Context = createContext<PortalContext | null>(null);
export const PortalProvider = Context.Provider;

export function usePortal(): PortalContext & { path: (to?: string) => string } {
  const ctx = useContext(Context);
  if (!ctx) throw new Error('usePortal outside the patient portal');
  return { ...ctx, path: (to = '') => `/c/${ctx.slug}/portal${to ? `/${to}` : ''}` };
}
