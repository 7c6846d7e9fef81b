import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The logging port is AWS Lambda Powertools' Logger itself: structured JSON,
 * one object per line, with its own middleware (`injectLambdaContext`) for the
 * Lambda context and the correlation id. Never log PEM, CSR bodies or secrets.
 */
export type { Logger };

/** Errors whose code and message say everything: their stack is noise in the log. */
const CODED_ERRORS = new Set(['CaError', 'HttpError', 'PkiError', 'CsrError', 'KeyError', 'PolicyError']);

/** Error details for the log: name, message, code, log-only detail and the cause chain; no stack for domain errors. */
export function describeError(e: unknown, depth = 0): Record<string, unknown> | string {
  if (!(e instanceof Error)) return String(e);
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  const detail = (e as { logDetail?: unknown }).logDetail;
  if (detail !== undefined) out.detail = detail;
  if (!CODED_ERRORS.has(e.name) && e.stack) out.stack = e.stack.split('\n').slice(0, 6).join('\n');
  if (e.cause !== undefined && depth < 4) out.cause = describeError(e.cause, depth + 1);
  return out;
}

/** Keys whose values never reach a log line, whatever a caller passes. */
const REDACTED = /^(certificatePem|certificateChainPem|caCertificatePem|rootCertificatePem|chainPem|csr|body|privateKey|secretAccessKey|sessionToken|authorization)$/i;
export const redact = (key: string, value: unknown) => (REDACTED.test(key) ? '[redacted]' : value);

/** Finds a dotted path (`requestContext.requestId`) in the event: the correlation id. */
export function searchPath(path: string, data: unknown): unknown {
  let at: unknown = data;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Options every factory-ca logger shares: service name, redaction, the correlation id search. */
export const LOGGER_OPTIONS = { serviceName: 'factory-ca', jsonReplacerFn: redact, correlationIdSearchFn: searchPath } as const;

/**
 * A Powertools Logger (level from LOG_LEVEL / POWERTOOLS_LOG_LEVEL, service
 * `factory-ca`, X-Ray trace id when tracing is on). PEM- and secret-bearing keys
 * are redacted by name as a second line of defence.
 */
export function createLogger(): Logger {
  return new Logger(LOGGER_OPTIONS);
}

/** The attributes Powertools adds to every line itself; the rest of a line are the caller's fields. */
const STANDARD_KEYS = new Set([
  'level', 'message', 'timestamp', 'service', 'sampling_rate', 'xray_trace_id', 'cold_start', 'correlation_id',
  'function_arn', 'function_memory_size', 'function_name', 'function_request_id', 'function_version',
]);

/** A log line's own fields, without what Powertools adds to every line. */
export function fieldsOf(attributes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([k]) => !STANDARD_KEYS.has(k)));
}
