import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { pgErrorCode } from '../db/pg.js';
import { ERROR_MESSAGE } from './schemas.js';

/**
 * SCIM errors are the platform's one error type, `AppError`, with the RFC 7644 §3.12 `scimType` carried in
 * `extra`. Domain code throws them like any other error; `renderScimError` is the wrapper that adapts them (and
 * anything else thrown under `/scim/v2`) to a SCIM error body, the way `http/problem.ts` renders problem+json
 * everywhere else.
 */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export const scimError = (status: number, scimType: ScimType | null, detail: string): AppError =>
  new AppError(status, scimType ? `scim_${scimType}` : `scim_${status}`, detail, scimType ? { scimType } : {});

export const invalidValue = (detail: string): AppError => scimError(400, 'invalidValue', detail);
export const invalidFilter = (detail: string): AppError => scimError(400, 'invalidFilter', detail);
export const invalidPath = (detail: string): AppError => scimError(400, 'invalidPath', detail);
export const noTarget = (detail: string): AppError => scimError(400, 'noTarget', detail);
export const mutability = (detail: string): AppError => scimError(400, 'mutability', detail);
export const uniqueness = (detail: string): AppError => scimError(409, 'uniqueness', detail);
export const resourceNotFound = (kind: string, id: string): AppError => scimError(404, null, `${kind} ${id} not found`);
export const preconditionFailed = (): AppError =>
  scimError(412, null, 'The resource changed since the version given in If-Match; read it again');

export const scimUnauthorized = (): AppError =>
  new AppError(
    401,
    'scim_unauthorized',
    'A valid SCIM bearer token for this clinic is required',
    {},
    { 'www-authenticate': 'Bearer realm="scim"' },
  );

/** A unique index that refused a concurrent write, in SCIM's words; other errors pass through. */
export function fromUniqueViolation(err: unknown): unknown {
  if (pgErrorCode(err) !== '23505') return err;
  const constraint = (err as { constraint?: string }).constraint;
  if (constraint === 'scim_users_user_name') return uniqueness('userName is already taken in this clinic');
  if (constraint === 'users_email') return uniqueness('emails: the address is already used by another account');
  return uniqueness('A resource with these values already exists');
}

/** Fastify's own failures (body parsing, size) in SCIM's words. */
const FASTIFY_ERRORS: Record<string, { status: number; scimType: ScimType | null; detail: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, scimType: null, detail: 'Send application/scim+json or application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, scimType: 'invalidSyntax', detail: 'The request body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, scimType: 'invalidSyntax', detail: 'The request body is not valid JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, scimType: 'tooMany', detail: 'The request body is too large' },
  FST_ERR_BAD_URL: { status: 400, scimType: 'invalidSyntax', detail: 'The request path is not validly percent-encoded' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, scimType: null, detail: 'A path segment of the request is too long' },
};

/**
 * Platform errors that SCIM names with its own `scimType`: the edge's text rule (`http/input-text.ts`) refuses
 * a value (NUL, unpaired surrogate, too long), or a JSON body nested too deep to be a SCIM resource.
 */
const SCIM_TYPES_OF_CODES: Record<string, ScimType> = {
  invalid_text: 'invalidValue',
  text_too_long: 'invalidValue',
  body_too_deep: 'invalidSyntax',
};

export function sendScim(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(SCIM_CONTENT_TYPE).serializer(JSON.stringify).send(body);
}

/** Fastify's failure, or an unexpected one, as status, scimType and detail. */
function describe(err: FastifyError | Error): { status: number; scimType: ScimType | null; detail: string } {
  const fe = err as FastifyError;
  const known = fe.code ? FASTIFY_ERRORS[fe.code] : undefined;
  if (known) return known;
  if (err instanceof SyntaxError) return { status: 400, scimType: 'invalidSyntax', detail: 'The request body is not valid JSON' };
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, scimType: null, detail: fe.message };
  return { status: 500, scimType: null, detail: 'Something went wrong on our side; the request id identifies it' };
}

export function renderScimError(err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  let failure: { status: number; scimType: string | null; detail: string };
  if (err instanceof AppError) {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    const scimType = typeof err.extra.scimType === 'string' ? err.extra.scimType : (SCIM_TYPES_OF_CODES[err.code] ?? null);
    failure = { status: err.status, scimType, detail: err.message };
  } else failure = describe(err);
  const { status, scimType, detail } = failure;
  if (status >= 500) req.log.error({ err }, 'SCIM request failed');
  else req.log.info({ status, scimType, detail }, 'SCIM request refused');
  return sendScim(reply, status, { schemas: [ERROR_MESSAGE], status: String(status), ...(scimType ? { scimType } : {}), detail });
}
