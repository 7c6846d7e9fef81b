import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The metrics port is AWS Lambda Powertools' Metrics (CloudWatch embedded metric format), flushed by its `logMetrics` middleware. */
export type { Metrics };
export { MetricUnit };

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
  crlsPublished: 'CrlsPublished',
  /** Hours until the soonest nextUpdate of the CRLs in force: the CRL alarm watches it. */
  crlHoursRemaining: 'CrlHoursRemaining',
  /** The issuance log: entries appended by a sequencer run, queue items it left, and the latest checkpoint's age. */
  logEntriesSequenced: 'LogEntriesSequenced',
  logQueueDepth: 'LogQueueDepth',
  logCheckpointAgeSeconds: 'LogCheckpointAgeSeconds',
  /** How long the oldest certificate or revocation not yet logged has waited: the log's alarm watches it. */
  logBacklogAgeSeconds: 'LogBacklogAgeSeconds',
  /** The issuance log's key was replaced. */
  logKeyRotations: 'LogKeyRotations',
  /** A lot's issuance crossed 90 % of its quota (once per lot). */
  lotNearQuota: 'LotsNearQuota',
  /** A lot issued its last seat (once per lot). */
  lotAtQuota: 'LotsAtQuota',
} as const;
export const METRICS_NAMESPACE = 'factory-ca';

/** Counts one event; with dimensions (rejections by reason) it goes out at once as its own metric. */
export function count(metrics: Metrics, name: string, dimensions?: Record<string, string>): void {
  if (!dimensions) {
    metrics.addMetric(name, MetricUnit.Count, 1);
    return;
  }
  const single = metrics.singleMetric();
  single.addDimensions(dimensions);
  single.addMetric(name, MetricUnit.Count, 1);
}

/**
 * Powertools warns on every flush without metrics (health checks, reads): that
 * is the normal case here, so that one warning is dropped; anything else goes to
 * the console as Powertools would write it.
 */
const quiet = {
  debug: () => undefined,
  info: (...a: unknown[]) => console.info(...a),
  warn: (message: unknown, ...a: unknown[]) => (/^No application metrics to publish/.test(String(message)) ? undefined : console.warn(message, ...a)),
  error: (...a: unknown[]) => console.error(...a),
};

/** CloudWatch embedded metric format through Powertools Metrics (namespace factory-ca, dimension service). */
export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'factory-ca', logger: quiet });
}

/** The rotations a rotation run made (the scheduled job's and POST /ca/rotate's alike). */
export function countRotations(metrics: Metrics, report: { rotated?: boolean; logKey?: { rotated: boolean } }): void {
  if (report.rotated) count(metrics, METRIC.rotations);
  if (report.logKey?.rotated) count(metrics, METRIC.logKeyRotations);
}
