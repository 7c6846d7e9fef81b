import { Tracer } from '@aws-lambda-powertools/tracer';

let tracer: Tracer | undefined;

/**
 * Traces an AWS SDK v3 client's calls with X-Ray (Powertools Tracer). A no-op
 * outside Lambda, and when POWERTOOLS_TRACE_ENABLED=false (local mode).
 */
export function traced<T>(client: T): T {
  tracer ??= new Tracer({ serviceName: 'factory-ca' });
  return tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}
