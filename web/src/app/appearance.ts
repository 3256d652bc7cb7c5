import { useSyncExternalStore } from 'react';
import type { Language } from '../i18n/i18n';

/** A clinic's own look, from its `branding` settings (GET /api/v1/public/clinics/{slug}). */
export interface Branding {
  displayName: string;
  logo: string | null;
  primaryColor: string;
  onPrimaryColor: string;
}

export interface Appearance {
  /** null: the platform's own look (the operator console, the platform sign-in). */
  branding: Branding | null;
  languages: { offered: Language[]; fallback: Language } | null;
}

/**
 * Which look and which languages the screen on show uses. The clinic layout and the clinic's sign-in page
 * set it; everything else leaves the platform's. One small store, so the theme and the language providers
 * above the router can follow the route below them.
 */
let current: Appearance = { branding: null, languages: null };
const listeners = new Set<() => void>();

export const appearance = {
  get: (): Appearance => current,
  set(next: Appearance): void {
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    current = next;
    for (const l of listeners) l();
  },
  subscribe(l: () => void): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};

export const useAppearance = (): Appearance => useSyncExternalStore(appearance.subscribe, appearance.get);
