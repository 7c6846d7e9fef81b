/**
 * The CRL publishing job (every minute): a middy stack with Powertools'
 * middlewares and a job log, like the lifecycle jobs. It signs a CA's CRL only
 * when one is due, so most runs read the ledger and sign nothing.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { CrlPublishingFunction } from '../compose/crl.js';
import { powertools } from '../http/edge.js';
import { describeError } from '../observability/logger.js';
import { METRIC, MetricUnit } from '../observability/metrics.js';
import { publishDueCrls, type CrlReport } from '../service/crl.js';

export const crlJob = (fn: CrlPublishingFunction) => {
  const stack = middy<unknown, CrlReport, Error, Context>({ timeoutEarlyInMillis: 0 });
  for (const m of powertools(fn.obs)) stack.use(m as middy.MiddlewareObj<unknown, CrlReport, Error, Context>);
  return stack.handler(async () => {
    const started = performance.now();
    try {
      const report = await publishDueCrls(fn.crl);
      const { metrics, logger } = fn.obs;
      if (report.published.length) metrics.addMetric(METRIC.crlsPublished, MetricUnit.Count, report.published.length);
      if (report.hoursRemaining !== undefined) metrics.addMetric(METRIC.crlHoursRemaining, MetricUnit.Count, report.hoursRemaining);
      const durationMs = Math.round(performance.now() - started);
      if (report.published.length) logger.info('crl publication', { job: 'crl', outcome: 'success', durationMs, report: { ...report } });
      else logger.debug('crl publication', { job: 'crl', outcome: 'success', durationMs, report: { ...report } });
      return report;
    } catch (e) {
      fn.obs.logger.error('crl publication failed', { job: 'crl', outcome: 'failed', durationMs: Math.round(performance.now() - started), error: describeError(e) });
      throw e;
    }
  });
};
