import { CodedError, type CodedErrorOptions } from '../pki/errors.js';

export type { ErrorDetail } from '../pki/errors.js';

/** The outcomes of the use cases that are not a certificate. */
export type ServiceErrorCode =
  | 'INVALID_REQUEST'
  | 'NOT_FOUND'
  | 'DUPLICATE_COMMON_NAME'
  | 'ISSUANCE_IN_PROGRESS'
  | 'CERTIFICATE_REVOKED'
  | 'KEY_BLOCKED'
  | 'KEY_IN_USE'
  | 'EST_CLIENT_CERT_REQUIRED'
  | 'EST_CLIENT_CERT_REFUSED'
  | 'EST_SUBJECT_MISMATCH'
  | 'CA_NOT_READY'
  | 'SIGNER_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'IOT_UNAVAILABLE'
  /** The issuance log has no such entry within the checkpoint asked for (yet). */
  | 'LOG_ENTRY_NOT_SEQUENCED'
  | 'LOT_EXISTS'
  | 'LOT_NOT_FOUND'
  | 'LOT_CLOSED'
  | 'LOT_QUOTA_EXCEEDED'
  | 'LOT_STATION_NOT_ALLOWED'
  | 'LOT_REQUIRED'
  | 'INTERNAL';

export interface CaErrorOptions extends CodedErrorOptions {
  /** Seconds a client should wait before retrying (transient failures only). */
  retryAfterSeconds?: number;
  /**
   * The service refused the request before applying it (a 4xx: throttling,
   * validation): nothing was written. Unset, a failed write may have landed.
   */
  notApplied?: boolean;
}

/** The service's error: a use-case outcome, or an adapter's failure translated into one. */
export class CaError extends CodedError<ServiceErrorCode> {
  readonly retryAfterSeconds: number | undefined;
  readonly notApplied: boolean;

  constructor(code: ServiceErrorCode, message: string, options: CaErrorOptions = {}) {
    super(code, message, options);
    this.name = 'CaError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.notApplied = options.notApplied ?? false;
  }
}
