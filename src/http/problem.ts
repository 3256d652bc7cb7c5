import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors.js';

/** RFC 9457 problem details, with our stable `code`. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const problemResponses = {
  400: Problem,
  401: Problem,
  403: Problem,
  404: Problem,
  409: Problem,
  503: Problem,
} as const;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Fastify's own errors mapped to stable codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'empty_body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'invalid_content_type' },
  FST_ERR_BAD_URL: { status: 400, code: 'malformed_url' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'path_parameter_too_long' },
};

export function sendProblem(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return (
    reply
      .code(status)
      // Set here as well as in the app's onSend hook: Fastify's router errors (frameworkErrors) bypass every hook.
      .header('x-request-id', req.id)
      .type('application/problem+json')
      .serializer(JSON.stringify)
      .send({
        type: `https://polyclinic.dev/problems/${code}`,
        title: TITLES[status] ?? 'Error',
        status,
        code,
        detail,
        instance: req.url,
        requestId: req.id,
        ...extra,
      })
  );
}

/** The one place errors become responses. */
export function errorHandler(err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    if (err.status >= 500) req.log.warn({ code: err.code }, err.message);
    return sendProblem(req, reply, err.status, err.code, err.message, err.extra);
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = (err as FastifyError).validationContext;
    // A malformed id in the path names nothing that can exist: answer as for any unknown record.
    if (context === 'params') return sendProblem(req, reply, 404, 'not_found', 'No such resource');
    const errors = err.validation.map((v) => ({
      path: [
        context,
        ...String(v.instancePath ?? '')
          .split('/')
          .filter(Boolean),
      ].join('.'),
      message: v.message ?? 'invalid',
    }));
    return sendProblem(
      req,
      reply,
      400,
      'validation_failed',
      `Invalid ${context}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
      { errors },
    );
  }
  const fe = err as FastifyError;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return sendProblem(req, reply, known.status, known.code, fe.message);
  if (err instanceof SyntaxError) return sendProblem(req, reply, 400, 'malformed_json', 'The request body is not valid JSON');
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return sendProblem(req, reply, fe.statusCode, (fe.code ?? 'bad_request').toLowerCase(), fe.message);
  const sqlState = (err as { code?: unknown }).code;
  if (typeof sqlState === 'string' && TRANSIENT_SQLSTATES.has(sqlState)) {
    // The store gave up on this request, not on its input: a deadlock victim, a serialization conflict, a lock it
    // could not have in time, a connection an administrator or a failover ended. The same request may be retried.
    req.log.warn({ err }, 'transient store error');
    reply.header('retry-after', '1');
    return sendProblem(req, reply, 503, 'store_busy', 'The clinic’s store could not serve this request just now; retry it');
  }
  req.log.error({ err }, 'unhandled error');
  return sendProblem(req, reply, 500, 'internal_error', 'Something went wrong on our side; the request id identifies it');
}

/** PostgreSQL errors that say "try again", not "this is wrong" (SQLSTATE classes 40, 55P03, 57P01–57P03). */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03']);
