import { useSyncExternalStore } from 'react';

/** A signed-in person as the API describes them (POST /auth/login, /auth/me). */
export interface SignedInUser {
  id: string;
  email: string;
  name: string;
  isOperator: boolean;
}

export interface SessionState {
  token: string;
  expiresAt: string;
  user: SignedInUser;
}

export type SessionEnd = 'signed_out' | 'expired';

/**
 * The bearer session, kept in localStorage so every tab of the app shares it (signing out in one signs out all:
 * the `storage` event carries it), and ended on its own at `expiresAt`. Components read it with `useSession`;
 * the API client reads the token directly.
 */
class SessionStore {
  private state: SessionState | null = read();
  private ended: SessionEnd | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor() {
    this.arm();
    window.addEventListener('storage', (e) => {
      if (e.key !== KEY) return;
      const next = read();
      if (!next && this.state) this.ended = 'signed_out';
      this.state = next;
      this.arm();
      this.emit();
    });
  }

  token = (): string | null => this.state?.token ?? null;
  current = (): SessionState | null => this.state;
  /** Why the last session ended, until the next sign-in. */
  endReason = (): SessionEnd | null => this.ended;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  start(state: SessionState): void {
    this.state = state;
    this.ended = null;
    localStorage.setItem(KEY, JSON.stringify(state));
    this.arm();
    this.emit();
  }

  end(reason: SessionEnd): void {
    if (!this.state) return;
    this.state = null;
    this.ended = reason;
    localStorage.removeItem(KEY);
    clearTimeout(this.timer);
    this.emit();
  }

  expire = (): void => this.end('expired');

  private arm(): void {
    clearTimeout(this.timer);
    if (!this.state) return;
    const left = Date.parse(this.state.expiresAt) - Date.now();
    if (left <= 0) {
      this.state = null;
      this.ended = 'expired';
      localStorage.removeItem(KEY);
      return;
    }
    // setTimeout's limit is ~24.8 days; sessions are hours.
    this.timer = setTimeout(this.expire, Math.min(left, 2 ** 31 - 1));
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

const KEY = 'polyclinic.session';

function read(): SessionState | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as SessionState) : null;
  } catch {
    return null;
  }
}

export const session = new SessionStore();

export function useSession(): SessionState | null {
  return useSyncExternalStore(session.subscribe, session.current);
}
