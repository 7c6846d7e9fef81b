/**
 * The one answer every AWS adapter gives to "may this failure be retried
 * later?": throttling, a service fault (5xx), a timeout or a dropped connection.
 * Each adapter maps a transient failure to its own "unavailable" code (503 with
 * Retry-After) and anything else to an error that needs an operator.
 */
const TRANSIENT_NAMES = new Set([
  // Throttling, any service.
  'ThrottlingException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  // Service faults.
  'InternalServerError',
  'InternalFailureException',
  'InternalException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  // The SDK's own timeouts.
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const NETWORK_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH)$/;

export function isTransientAwsError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { name?: unknown; code?: unknown; message?: unknown; $retryable?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (typeof err.name === 'string' && TRANSIENT_NAMES.has(err.name)) return true;
  if (err.$retryable !== undefined) return true;
  if (err.$fault === 'server') return true;
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  if (typeof err.code === 'string' && NETWORK_CODES.test(err.code)) return true;
  return typeof err.message === 'string' && /\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up)\b/i.test(err.message);
}
