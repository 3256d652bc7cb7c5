import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { AppError } from '../errors.js';

/**
 * FHIR errors are the platform's one error type, `AppError`; `renderFhirError` is the one place that adapts
 * them (and anything else thrown under `/fhir/R4`) to an `OperationOutcome`, the way `http/problem.ts` renders
 * problem+json and `scim/errors.ts` SCIM bodies. The stable `code` travels as the issue's `details.coding`, so a
 * client branches on it exactly as on the REST API; a refused resource names its elements in `expression`.
 */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export const CODE_SYSTEM = 'https://polyclinic.dev/problems';

/** An incoming resource refused by the validator: each issue names its element (`Patient.birthDate`). */
export const invalidResource = (issues: OperationOutcomeIssue[]): AppError =>
  new AppError(
    400,
    'fhir_invalid_resource',
    issues.map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? i.diagnostics ?? 'invalid'}`).join('; '),
    {
      issues,
    },
  );

/** A search parameter or value this server does not support. */
export const invalidSearch = (message: string, parameter?: string): AppError =>
  new AppError(400, 'fhir_invalid_search', message, parameter ? { expression: [parameter] } : {});

export const resourceNotFound = (type: string): AppError =>
  new AppError(404, 'fhir_resource_not_found', `${type} not found in this clinic`);

/** HTTP status → OperationOutcome.issue.code (FHIR R4 `issue-type`). */
const ISSUE_CODE: Record<number, OperationOutcomeIssue['code']> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  404: 'not-found',
  405: 'not-supported',
  409: 'conflict',
  412: 'conflict',
  413: 'too-costly',
  414: 'too-costly',
  415: 'not-supported',
  422: 'processing',
  429: 'throttled',
  503: 'transient',
};

const FASTIFY_CODES: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Send application/fhir+json or application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'empty_body', message: 'The request body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', message: 'The request body is not valid JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: 'The request body is too large' },
  FST_ERR_BAD_URL: { status: 400, code: 'malformed_url', message: 'The request path is not validly percent-encoded' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'path_parameter_too_long', message: 'A path segment is too long' },
};

export function operationOutcome(status: number, code: string, message: string, expression?: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: status >= 500 ? 'fatal' : 'error',
        code: ISSUE_CODE[status] ?? (status >= 500 ? 'exception' : 'invalid'),
        details: { coding: [{ system: CODE_SYSTEM, code }], text: message },
        ...(expression?.length ? { expression } : {}),
      },
    ],
  };
}

export function sendFhir(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(FHIR_JSON).serializer(JSON.stringify).send(body);
}

export function renderFhirError(err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    if (err.status >= 500) req.log.warn({ code: err.code }, err.message);
    // A refused resource: one issue per element the validator named, each with our stable code.
    const issues = err.extra.issues as OperationOutcomeIssue[] | undefined;
    if (issues?.length)
      return sendFhir(reply, err.status, {
        resourceType: 'OperationOutcome',
        issue: issues.map((i) => ({
          ...i,
          severity: 'error',
          details: { coding: [{ system: CODE_SYSTEM, code: err.code }], text: i.details?.text ?? err.message },
        })),
      });
    return sendFhir(reply, err.status, operationOutcome(err.status, err.code, err.message, err.extra.expression as string[] | undefined));
  }
  const fe = err as FastifyError;
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return sendFhir(reply, known.status, operationOutcome(known.status, known.code, known.message));
  if (err instanceof SyntaxError)
    return sendFhir(reply, 400, operationOutcome(400, 'malformed_json', 'The request body is not valid JSON'));
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return sendFhir(reply, fe.statusCode, operationOutcome(fe.statusCode, (fe.code ?? 'bad_request').toLowerCase(), fe.message));
  req.log.error({ err }, 'FHIR request failed');
  return sendFhir(reply, 500, operationOutcome(500, 'internal_error', 'Something went wrong on our side; the request id identifies it'));
}
