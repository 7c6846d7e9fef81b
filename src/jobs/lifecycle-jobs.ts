/**
 * The non-HTTP functions: bootstrap, and the scheduled rotation. Each is a middy
 * stack with Powertools' middlewares (logger context, metrics with the cold-start
 * metric, X-Ray) and a job log: the report on success, the cause on failure.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { LifecycleFunction } from '../compose/operations.js';
import { powertools } from '../http/edge.js';
import { describeError } from '../observability/logger.js';
import { countRotations, METRIC, MetricUnit, type Metrics } from '../observability/metrics.js';
import { bootstrap, type LifecycleReport, type RotationReport } from '../service/ca-lifecycle.js';
import { ensureLogKey } from '../service/log-keys.js';
import { rotateKeys, type KeysRotationReport } from '../service/rotation.js';
import { withCrls } from '../service/crl.js';

const DAY_MS = 86_400_000;

/** Days left of the active issuing CA and of the root: what the expiry alarm watches (written daily by the rotation). */
function reportValidity(metrics: Metrics, now: number, report: LifecycleReport): void {
  const days = (id: string) => {
    const ca = report.cas.find((c) => c.id === id);
    return ca ? Math.floor((Date.parse(ca.notAfter) - now) / DAY_MS) : undefined;
  };
  const issuing = days(report.activeIssuingCaId);
  const root = days(report.rootCaId);
  if (issuing !== undefined) metrics.addMetric(METRIC.issuingCaDaysRemaining, MetricUnit.Count, issuing);
  if (root !== undefined) metrics.addMetric(METRIC.rootCaDaysRemaining, MetricUnit.Count, root);
}

/** Logs a job's report (or its failure, with the cause), and its metrics. */
function jobLog(name: string, fn: LifecycleFunction): middy.MiddlewareObj<unknown, LifecycleReport, Error, Context> {
  const durationMs = (internal: object) => Math.round(performance.now() - ((internal as { startedAt: number }).startedAt));
  return {
    before: (request) => {
      (request.internal as { startedAt?: number }).startedAt = performance.now();
    },
    after: ({ response, internal }) => {
      if (!response) return;
      reportValidity(fn.obs.metrics, fn.lifecycle.clock().getTime(), response);
      countRotations(fn.obs.metrics, response as Partial<KeysRotationReport>);
      fn.obs.logger.info(name, { job: name, outcome: 'success', durationMs: durationMs(internal), report: { ...response } });
    },
    onError: ({ error, internal }) => {
      fn.obs.logger.error(`${name} failed`, { job: name, outcome: 'failed', durationMs: durationMs(internal), error: describeError(error) });
    },
  };
}

function job<E, R extends LifecycleReport>(name: string, fn: LifecycleFunction, run: (event: E) => Promise<R>) {
  const stack = middy<E, R, Error, Context>({ timeoutEarlyInMillis: 0 });
  for (const m of powertools(fn.obs)) stack.use(m as middy.MiddlewareObj<E, R, Error, Context>);
  return stack.use(jobLog(name, fn) as middy.MiddlewareObj<E, R, Error, Context>).handler(run);
}

/** The bootstrap job: create the CA hierarchy and register it with AWS IoT for JITP. */
export const bootstrapJob = (fn: LifecycleFunction) =>
  job('bootstrap', fn, async () => {
    const report = await bootstrap(fn.lifecycle);
    // The issuance log's key, after the hierarchy: the sequencer signs its checkpoints with it.
    report.actions.push(...(await ensureLogKey(fn.lifecycle)));
    return withCrls(fn.crl, report);
  });

/**
 * The scheduled rotation: the issuing CA and the log key, each only when due.
 * An event rotates now: {"force": true}, {"reason": "keyCompromise"}, and
 * with "key": "log" the same for the issuance log's key.
 */
export const rotationJob = (fn: LifecycleFunction) =>
  job('rotation', fn, (event: { force?: unknown; reason?: unknown; key?: unknown } | undefined) =>
    rotateKeys(fn.lifecycle, {
      force: event?.force === true,
      ...(event?.reason === 'keyCompromise' ? { reason: 'keyCompromise' as const } : {}),
      ...(event?.key === 'log' ? { key: 'log' as const } : {}),
    }).then((r) => withCrls(fn.crl, r)),
  );
