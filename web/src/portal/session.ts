import createClient, { type Middleware } from 'openapi-fetch';
import { useSyncExternalStore } from 'react';
import type { paths } from '../api/schema';

/** A patient's session in one clinic's portal, as POST /api/v1/portal/links/open and …/sign-in answer it. */
export interface PatientSession {
  token: string;
  expiresAt: string;
  clinicId: string;
  clinicSlug: string;
  accountId: string;
  patientId: string;
}

/**
 * Patient sessions, kept apart from staff sessions: one per clinic (a person may be a patient of two clinics and
 * staff of a third, in one browser, with three unconnected accounts), in localStorage under the clinic's slug.
 */
const KEY = (slug: string) => `polyclinic.patient.${slug}`;
const listeners = new Set<() => void>();
const cache = new Map<string, PatientSession | null>();

function read(slug: string): PatientSession | null {
  if (cache.has(slug)) return cache.get(slug)!;
  let s: PatientSession | null = null;
  try {
    const raw = localStorage.getItem(KEY(slug));
    s = raw ? (JSON.parse(raw) as PatientSession) : null;
  } catch {
    s = null;
  }
  if (s && Date.parse(s.expiresAt) <= Date.now()) s = null;
  cache.set(slug, s);
  return s;
}

const emit = () => {
  for (const l of listeners) l();
};
window.addEventListener('storage', (e) => {
  if (e.key?.startsWith('polyclinic.patient.')) {
    cache.clear();
    emit();
  }
});

export const patientSession = {
  get: read,
  start(s: PatientSession): void {
    localStorage.setItem(KEY(s.clinicSlug), JSON.stringify(s));
    cache.set(s.clinicSlug, s);
    emit();
  },
  end(slug: string): void {
    localStorage.removeItem(KEY(slug));
    cache.set(slug, null);
    emit();
  },
  /** The session whose clinic a portal URL names. */
  forClinic(clinicId: string): PatientSession | null {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key?.startsWith('polyclinic.patient.')) continue;
      const s = read(key.slice('polyclinic.patient.'.length));
      if (s?.clinicId === clinicId) return s;
    }
    return null;
  },
};

export function usePatientSession(slug: string): PatientSession | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => read(slug),
  );
}

const auth: Middleware = {
  onRequest({ request }) {
    const clinicId = /\/api\/v1\/clinics\/([^/]+)\/portal\//.exec(new URL(request.url).pathname)?.[1];
    const s = clinicId ? patientSession.forClinic(clinicId) : null;
    if (s) request.headers.set('authorization', `Bearer ${s.token}`);
    return request;
  },
  onResponse({ request, response }) {
    // The session ended (expired, signed out elsewhere): the portal sends the patient to sign in again.
    const clinicId = /\/api\/v1\/clinics\/([^/]+)\/portal\//.exec(new URL(request.url).pathname)?.[1];
    const s = clinicId ? patientSession.forClinic(clinicId) : null;
    if (response.status === 401 && s) patientSession.end(s.clinicSlug);
    return response;
  },
};

/** The patient portal's HTTP client: the staff client's types, the patient's own session. */
export const portalApi = createClient<paths>({ baseUrl: window.location.origin });
portalApi.use(auth);

/** What a first sign-in step answers: a session, or a challenge for the code of the patient's authenticator app. */
export type PatientSignInStep = PatientSession | { secondFactor: 'totp'; challenge: string; expiresAt: string };
export const needsSecondFactor = (s: PatientSignInStep): s is Extract<PatientSignInStep, { challenge: string }> => 'challenge' in s;

/**
 * Where a patient was going when the portal asked them to sign in (a video visit): kept for an hour in
 * localStorage, since the emailed link that finishes the sign-in opens in a new tab. Only a path on this origin
 * is kept (the clinic's pages, a SMART app's consent screen), never another origin.
 */
const NEXT_KEY = (slug: string) => `polyclinic.portal-next.${slug}`;
export const portalNext = {
  remember(slug: string, next: string | null): void {
    // A path, not `//host` or `/\host` (which browsers read as another origin).
    if (!next || !/^\/(?![/\\])/.test(next)) return;
    localStorage.setItem(NEXT_KEY(slug), JSON.stringify({ next, until: Date.now() + 3600_000 }));
  },
  take(slug: string): string | null {
    const raw = localStorage.getItem(NEXT_KEY(slug));
    localStorage.removeItem(NEXT_KEY(slug));
    try {
      const v = raw ? (JSON.parse(raw) as { next: string; until: number }) : null;
      return v && v.until > Date.now() ? v.next : null;
    } catch {
      return null;
    }
  },
};
