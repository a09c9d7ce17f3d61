/**
 * One error shape for every route, page API and framework failure:
 * `{ error: { code, message, details? } }`, with field-level details for 400s.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigurationError, InvalidRequestError, OrchestratorError, coerceError, type FieldError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

export const API_ERROR_CODES = [
  'INVALID_REQUEST',
  'INVALID_SETTINGS',
  'INVALID_MODEL',
  'MODEL_IN_USE',
  'MALFORMED_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'IDEMPOTENCY_CONFLICT',
  'PRECONDITION_FAILED',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** An error meant for the caller: its status, code and message are sent as they are. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  readonly details?: unknown;
  /** Response headers that go with it, such as retry-after or www-authenticate. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    statusCode: number,
    code: ApiErrorCode,
    message: string,
    details?: unknown,
    headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
    this.headers = headers;
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details?: unknown };
}

export const fieldErrorSchema = {
  type: 'object',
  required: ['path', 'code', 'message'],
  properties: {
    path: { type: 'string', description: "JSON pointer to the offending value ('' for the whole document)." },
    code: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: [...API_ERROR_CODES] },
        message: { type: 'string' },
        details: { description: 'For 400s: a list of field errors `{ path, code, message }`; otherwise code-specific.' },
      },
    },
  },
} as const;

export function errorBody(code: ApiErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Maps anything thrown by a handler, a hook or the framework to what the caller should see. */
export function toApiError(thrown: unknown): ApiError {
  if (thrown instanceof ApiError) return thrown;
  if (thrown instanceof InvalidRequestError) return new ApiError(400, 'INVALID_REQUEST', thrown.message, thrown.errors);
  if (thrown instanceof ConfigurationError) {
    return new ApiError(400, 'INVALID_SETTINGS', thrown.message, [{ path: '', code: thrown.code, message: thrown.message } satisfies FieldError]);
  }
  if (thrown instanceof OrchestratorError && thrown.code === 'NOT_FOUND') return new ApiError(404, 'NOT_FOUND', thrown.message);
  const err = coerceError(thrown) as Partial<FastifyError> & Error;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'request body is larger than the limit of 64 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content type: send application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'MALFORMED_JSON', err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'request body is empty: send a JSON document' : 'request body is not valid JSON', [
        { path: '', code: 'json', message: 'is not valid JSON' },
      ]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'MALFORMED_JSON', 'content-length does not match the body');
    case 'FST_ERR_VALIDATION':
      return new ApiError(400, 'INVALID_REQUEST', err.message, validationDetails(err));
    default:
      break;
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(err.statusCode, err.statusCode === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', err.message);
  }
  return new ApiError(500, 'INTERNAL', 'internal error', undefined, {}, { cause: err });
}

function validationDetails(err: Partial<FastifyError>): FieldError[] {
  return (err.validation ?? []).map((v) => ({ path: v.instancePath ?? '', code: v.keyword, message: v.message ?? v.keyword }));
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
  return reply.status(error.statusCode).type('application/json; charset=utf-8').send(errorBody(error.code, error.message, error.details));
}

/** Installs the error and not-found handlers on the root instance (child scopes inherit them). */
export function registerErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((thrown: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toApiError(thrown);
    if (error.statusCode >= 500 && error.code === 'INTERNAL') {
      log.error({ err: coerceError(error.cause ?? thrown), reqId: request.id, method: request.method, route: request.routeOptions.url }, 'request failed');
    }
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new ApiError(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
}
