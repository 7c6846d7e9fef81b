import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Metric names, one place: dashboards and alarms (serverless.yml) use the same strings. */
export const METRIC = {
  issued: 'CertificatesIssued',
  rejected: 'CertificatesRejected',
  revoked: 'CertificatesRevoked',
  serverErrors: 'ServerErrors',
  signerFailures: 'SignerFailures',
  kmsSignLatency: 'KmsSignLatency',
  issuingCaDaysRemaining: 'IssuingCaDaysRemaining',
  rootCaDaysRemaining: 'RootCaDaysRemaining',
  rotations: 'IssuingCaRotations',
} as const;
export const METRICS_NAMESPACE = 'factory-ca';

/** The metrics port. Counts and timings are buffered and written by `flush` (one EMF line per invocation). */
export interface Metrics {
  count(name: string, dimensions?: Record<string, string>): void;
  milliseconds(name: string, value: number): void;
  gauge(name: string, value: number): void;
  flush(): void;
}

export const noMetrics: Metrics = { count() {}, milliseconds() {}, gauge() {}, flush() {} };

/** CloudWatch embedded metric format through Powertools Metrics (namespace factory-ca, dimension service). */
export function createMetrics(service = 'factory-ca'): Metrics {
  const metrics = new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: service });
  let stored = false;
  return {
    count(name, dimensions) {
      if (dimensions) {
        // Dimensioned metrics (rejections by reason) go out at once, with their own dimensions.
        const single = metrics.singleMetric();
        single.addDimensions(dimensions);
        single.addMetric(name, MetricUnit.Count, 1);
        return;
      }
      metrics.addMetric(name, MetricUnit.Count, 1);
      stored = true;
    },
    milliseconds(name, value) {
      metrics.addMetric(name, MetricUnit.Milliseconds, value);
      stored = true;
    },
    gauge(name, value) {
      metrics.addMetric(name, MetricUnit.Count, value);
      stored = true;
    },
    flush() {
      if (!stored) return;
      stored = false;
      metrics.publishStoredMetrics();
    },
  };
}
