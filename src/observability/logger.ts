import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/**
 * The logging port: structured JSON, one object per line. Never log PEM, CSR
 * bodies or secrets. The implementation is AWS Lambda Powertools' Logger.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Ties the following lines to one invocation: Lambda context keys and the API Gateway request id as correlation id. */
  bind?(context: Context | undefined, correlationId: string | undefined): void;
}

/** Error details for the log: name, message, code and the cause chain, without stack noise for domain errors. */
export function describeError(e: unknown, depth = 0): Record<string, unknown> | string {
  if (!(e instanceof Error)) return String(e);
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (e.name !== 'CaError' && e.stack) out.stack = e.stack.split('\n').slice(0, 6).join('\n');
  if (e.cause !== undefined && depth < 4) out.cause = describeError(e.cause, depth + 1);
  return out;
}

/** Keys whose values never reach a log line, whatever a caller passes. */
const REDACTED = /^(certificatePem|certificateChainPem|caCertificatePem|rootCertificatePem|chainPem|csr|body|privateKey|secretAccessKey|sessionToken|authorization)$/i;
const redact = (key: string, value: unknown) => (REDACTED.test(key) ? '[redacted]' : value);

/**
 * A Powertools Logger (level from LOG_LEVEL / POWERTOOLS_LOG_LEVEL, service
 * `factory-ca`, X-Ray trace id when tracing is on). PEM- and secret-bearing keys
 * are redacted by name as a second line of defence.
 */
export function createLogger(service = 'factory-ca'): Logger {
  const logger = new PowertoolsLogger({ serviceName: service, jsonReplacerFn: redact });
  return {
    info: (message, fields = {}) => logger.info(message, fields),
    warn: (message, fields = {}) => logger.warn(message, fields),
    error: (message, fields = {}) => logger.error(message, fields),
    bind: (context, correlationId) => {
      if (context) logger.addContext(context);
      logger.setCorrelationId(correlationId);
    },
  };
}
