/**
 * The issuance log's sequencer job (every minute in AWS, with reserved
 * concurrency 1): one sequencer run, its metrics and a job log.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { LogSequencingFunction } from '../compose/log.js';
import { powertools } from '../http/edge.js';
import { describeError } from '../observability/logger.js';
import { METRIC, MetricUnit } from '../observability/metrics.js';
import { didWork, sequenceLog, type SequenceReport } from '../service/log-sequencer.js';

export const logJob = (fn: LogSequencingFunction) => {
  const stack = middy<unknown, SequenceReport, Error, Context>({ timeoutEarlyInMillis: 0 });
  for (const m of powertools(fn.obs)) stack.use(m as middy.MiddlewareObj<unknown, SequenceReport, Error, Context>);
  return stack.handler(async () => {
    const started = performance.now();
    try {
      const report = await sequenceLog(fn.sequencer);
      const { metrics, logger } = fn.obs;
      metrics.addMetric(METRIC.logEntriesSequenced, MetricUnit.Count, report.sequenced);
      metrics.addMetric(METRIC.logQueueDepth, MetricUnit.Count, report.queueDepth);
      metrics.addMetric(METRIC.logBacklogAgeSeconds, MetricUnit.Seconds, report.backlogAgeSeconds);
      if (report.checkpointAgeSeconds !== undefined) metrics.addMetric(METRIC.logCheckpointAgeSeconds, MetricUnit.Seconds, report.checkpointAgeSeconds);
      const durationMs = Math.round(performance.now() - started);
      const fields = { job: 'log', outcome: report.conflict ? 'conflict' : 'success', durationMs, report: { ...report } };
      if (didWork(report)) logger.info('log sequencing', fields);
      else logger.debug('log sequencing', fields);
      return report;
    } catch (e) {
      fn.obs.logger.error('log sequencing failed', { job: 'log', outcome: 'failed', durationMs: Math.round(performance.now() - started), error: describeError(e) });
      throw e;
    }
  });
};
