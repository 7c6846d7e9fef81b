import { CaError, type ErrorCode } from '../pki/errors.js';

/** The one place where domain errors become HTTP statuses. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  CSR_MALFORMED: 400,
  CSR_SIGNATURE_INVALID: 400,
  FORBIDDEN_ORIGIN: 403,
  ACCESS_DENIED: 403,
  NOT_FOUND: 404,
  DUPLICATE_COMMON_NAME: 409,
  ISSUANCE_IN_PROGRESS: 409,
  CERTIFICATE_REVOKED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  POLICY_VIOLATION: 422,
  KEY_NOT_ALLOWED: 422,
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

/** Renders any thrown value. Only CaErrors reach the client as they are; a 500 never shows its cause. */
export function renderError(e: unknown): RenderedError {
  const err = e instanceof CaError ? e : new CaError('INTERNAL', 'Internal error', { cause: e });
  const statusCode = STATUS_BY_CODE[err.code] ?? 500;
  const internal = statusCode === 500;
  const body: ErrorBody = {
    error: {
      code: internal ? 'INTERNAL' : err.code,
      message: internal ? 'Internal error; the cause has been logged' : err.message,
      ...(!internal && err.details?.length ? { details: err.details } : {}),
    },
  };
  const headers: Record<string, string> = {};
  if (!internal && err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
  return { statusCode, body, headers, internal };
}
