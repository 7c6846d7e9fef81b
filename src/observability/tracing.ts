import { Tracer } from '@aws-lambda-powertools/tracer';

export type { Tracer };

let shared: Tracer | undefined;

/**
 * The process's Powertools Tracer (X-Ray). Tracing is off outside Lambda and
 * when POWERTOOLS_TRACE_ENABLED=false (local mode).
 */
export const tracer = (): Tracer => (shared ??= new Tracer({ serviceName: 'factory-ca' }));

/** Traces an AWS SDK v3 client's calls when tracing is on. */
export function traced<T>(client: T): T {
  const t = tracer();
  return t.isTracingEnabled() ? t.captureAWSv3Client(client) : client;
}
