import { CodedError, type CodedErrorOptions, type PkiErrorCode } from '../pki/errors.js';
import { CaError, type ServiceErrorCode } from '../service/errors.js';

/** What the HTTP edge refuses before any use case runs. */
export type HttpErrorCode = 'INVALID_REQUEST' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'NOT_ACCEPTABLE' | 'FORBIDDEN_ORIGIN' | 'ACCESS_DENIED';

/** The edge's error: the request itself (its media type, size, body, Accept, origin, signature) is wrong. */
export class HttpError extends CodedError<HttpErrorCode> {
  constructor(code: HttpErrorCode, message: string, options: CodedErrorOptions = {}) {
    super(code, message, options);
    this.name = 'HttpError';
  }
}

/** Every code a client may see. */
export type ErrorCode = PkiErrorCode | ServiceErrorCode | HttpErrorCode;

/** The one place where error codes become HTTP statuses (exhaustive over every layer's codes). */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  EST_CLIENT_CERT_REQUIRED: 401,
  CSR_MALFORMED: 400,
  CSR_SIGNATURE_INVALID: 400,
  FORBIDDEN_ORIGIN: 403,
  ACCESS_DENIED: 403,
  EST_CLIENT_CERT_REFUSED: 403,
  EST_SUBJECT_MISMATCH: 403,
  LOT_STATION_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  LOG_ENTRY_NOT_SEQUENCED: 404,
  NOT_ACCEPTABLE: 406,
  DUPLICATE_COMMON_NAME: 409,
  ISSUANCE_IN_PROGRESS: 409,
  CERTIFICATE_REVOKED: 409,
  KEY_BLOCKED: 409,
  KEY_IN_USE: 409,
  LOT_EXISTS: 409,
  LOT_NOT_FOUND: 409,
  LOT_CLOSED: 409,
  LOT_QUOTA_EXCEEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  POLICY_VIOLATION: 422,
  KEY_NOT_ALLOWED: 422,
  LOT_REQUIRED: 422,
  INTERNAL: 500,
  CA_NOT_READY: 503,
  SIGNER_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
  IOT_UNAVAILABLE: 503,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown[] };
}

export interface RenderedError {
  statusCode: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True when the client must not see the message (it is replaced by a generic one). */
  internal: boolean;
}

/**
 * Renders any thrown value. Only coded errors (the PKI core's, the service's,
 * the edge's) reach the client as they are; anything else is a 500 that never
 * shows its cause.
 */
export function renderError(e: unknown): RenderedError {
  const err: CodedError<ErrorCode> = e instanceof CodedError && e.code in STATUS_BY_CODE ? (e as CodedError<ErrorCode>) : new CaError('INTERNAL', 'Internal error', { cause: e });
  const statusCode = STATUS_BY_CODE[err.code];
  const internal = statusCode === 500;
  const body: ErrorBody = {
    error: {
      code: internal ? 'INTERNAL' : err.code,
      message: internal ? 'Internal error; the cause has been logged' : err.message,
      ...(!internal && err.details?.length ? { details: err.details } : {}),
    },
  };
  const headers: Record<string, string> = {};
  const retryAfter = err instanceof CaError ? err.retryAfterSeconds : undefined;
  if (!internal && retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return { statusCode, body, headers, internal };
}
