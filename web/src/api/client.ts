import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import { session } from '../auth/session';

/** A problem+json answer of the API (RFC 9457 with our stable `code`), thrown by `call`. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Field errors: `path` is `body.field.sub` (requests) or `namespace.key` (settings). */
    readonly errors: readonly { path: string; message: string }[],
    readonly body: Record<string, unknown>,
  ) {
    super(detail || code);
    this.name = 'ApiProblem';
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ request, response }) {
    // A 401 on anything but the sign-in steps means the session ended (expired, revoked, signed out elsewhere).
    if (response.status === 401 && session.token() && !new URL(request.url).pathname.startsWith('/api/v1/auth/login')) session.expire();
    return response;
  },
};

/** The one HTTP client of the app: typed from the OpenAPI document (`schema.d.ts`), authenticated by the session. */
export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Awaits a client call: its data, or an `ApiProblem` built from the problem+json body. */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (err) {
    throw new ApiProblem(0, 'network_error', err instanceof Error ? err.message : 'network error', [], {});
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = (error && typeof error === 'object' ? error : {}) as Record<string, unknown>;
  throw new ApiProblem(
    response.status,
    typeof body.code === 'string' ? body.code : `http_${response.status}`,
    typeof body.detail === 'string' ? body.detail : response.statusText,
    Array.isArray(body.errors) ? (body.errors as { path: string; message: string }[]) : [],
    body,
  );
}

/** A fresh idempotency key for one user action (retries of the same action reuse it). */
export const idempotencyKey = (): string => crypto.randomUUID();
