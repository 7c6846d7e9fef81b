/**
 * Errors with a stable code, and the PKI core's own. Each layer throws its own
 * kind: the PKI core what is wrong with a CSR, a key or a subject (here), the
 * service its use-case outcomes (src/service/errors.ts), the HTTP edge what is
 * wrong with a request (src/http/errors.ts). The HTTP status of every code is
 * decided in one place only (src/http/errors.ts). `message` is safe to show to a
 * client; `logDetail` and `cause` are for the log and never leave the service.
 */
export interface ErrorDetail {
  field?: string;
  reason: string;
  [key: string]: unknown;
}

export interface CodedErrorOptions {
  details?: ErrorDetail[];
  cause?: unknown;
  /** What an operator needs to know, for the log only (never sent to a client). */
  logDetail?: string;
}

/** The shape every error a client may see has: a stable code, a message, details. */
export abstract class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: ErrorDetail[] | undefined;
  readonly logDetail: string | undefined;

  constructor(code: C, message: string, options: CodedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.logDetail = options.logDetail;
  }
}

/** What the PKI core refuses in a request: the CSR itself, its key, its subject. */
export type PkiErrorCode = 'CSR_MALFORMED' | 'CSR_SIGNATURE_INVALID' | 'KEY_NOT_ALLOWED' | 'POLICY_VIOLATION';

export class PkiError extends CodedError<PkiErrorCode> {
  constructor(code: PkiErrorCode, message: string, options: CodedErrorOptions = {}) {
    super(code, message, options);
    this.name = 'PkiError';
  }
}

/** Not a CSR, or its signature does not prove possession of its key. */
export class CsrError extends PkiError {
  constructor(code: 'CSR_MALFORMED' | 'CSR_SIGNATURE_INVALID', message: string, options: CodedErrorOptions = {}) {
    super(code, message, options);
    this.name = 'CsrError';
  }
}

/** A public key the policy does not certify (type, size, or a weak key). */
export class KeyError extends PkiError {
  constructor(message: string, options: CodedErrorOptions = {}) {
    super('KEY_NOT_ALLOWED', message, options);
    this.name = 'KeyError';
  }
}

/** A subject the policy refuses; `details` lists every violation. */
export class PolicyError extends PkiError {
  constructor(message: string, options: CodedErrorOptions = {}) {
    super('POLICY_VIOLATION', message, options);
    this.name = 'PolicyError';
  }
}

export const csrMalformed = (reason: string, cause?: unknown): CsrError =>
  new CsrError('CSR_MALFORMED', `The CSR could not be parsed: ${reason}`, { cause });
