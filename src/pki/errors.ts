/**
 * Domain errors of the CA. Each carries a stable code; the HTTP status is decided
 * in one place only (src/http/errors.ts). `message` is safe to show to a client;
 * the underlying `cause` is for the log and never leaves the service.
 */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'CSR_MALFORMED'
  | 'CSR_SIGNATURE_INVALID'
  | 'NOT_FOUND'
  | 'DUPLICATE_COMMON_NAME'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'FORBIDDEN_ORIGIN'
  | 'ACCESS_DENIED'
  | 'POLICY_VIOLATION'
  | 'KEY_NOT_ALLOWED'
  | 'ISSUANCE_IN_PROGRESS'
  | 'CERTIFICATE_REVOKED'
  | 'CA_NOT_READY'
  | 'SIGNER_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'IOT_UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorDetail {
  field?: string;
  reason: string;
  [key: string]: unknown;
}

export interface CaErrorOptions {
  details?: ErrorDetail[];
  cause?: unknown;
  /** What an operator needs to know, for the log only (never sent to a client). */
  logDetail?: string;
  /** Seconds a client should wait before retrying (transient failures only). */
  retryAfterSeconds?: number;
}

export class CaError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly logDetail: string | undefined;

  constructor(code: ErrorCode, message: string, options: CaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CaError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.logDetail = options.logDetail;
  }
}

export const csrMalformed = (reason: string, cause?: unknown): CaError =>
  new CaError('CSR_MALFORMED', `The CSR could not be parsed: ${reason}`, { cause });
