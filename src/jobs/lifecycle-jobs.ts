import type { App } from '../app.js';
import { lifecycleOf } from '../app-lifecycle.js';
import { describeError } from '../observability/logger.js';
import { METRIC } from '../observability/metrics.js';
import { bootstrap, rotate, type LifecycleReport } from '../service/ca-lifecycle.js';

const DAY_MS = 86_400_000;

/** Days left of the active issuing CA and of the root: what the expiry alarm watches (written daily by the rotation). */
function reportValidity(a: App, report: LifecycleReport): void {
  const now = a.clock().getTime();
  const days = (id: string) => {
    const ca = report.cas.find((c) => c.id === id);
    return ca ? Math.floor((Date.parse(ca.notAfter) - now) / DAY_MS) : undefined;
  };
  const issuing = days(report.activeIssuingCaId);
  const root = days(report.rootCaId);
  if (issuing !== undefined) a.metrics.gauge(METRIC.issuingCaDaysRemaining, issuing);
  if (root !== undefined) a.metrics.gauge(METRIC.rootCaDaysRemaining, root);
}

/** Runs a lifecycle job, logs its report (or its failure, with the cause) and returns the report. */
async function job<R extends LifecycleReport>(app: () => App, name: string, run: (a: App) => Promise<R>): Promise<R> {
  const a = app();
  const started = performance.now();
  try {
    const report = await run(a);
    reportValidity(a, report);
    if ((report as { rotated?: boolean }).rotated) a.metrics.count(METRIC.rotations);
    a.metrics.flush();
    a.logger.info(name, { job: name, outcome: 'success', durationMs: Math.round(performance.now() - started), report: { ...report } });
    return report;
  } catch (e) {
    a.logger.error(`${name} failed`, { job: name, outcome: 'failed', durationMs: Math.round(performance.now() - started), error: describeError(e) });
    throw e;
  }
}

/** The bootstrap job: create the CA hierarchy and register it with AWS IoT for JITP. */
export const bootstrapJob = (app: () => App) => () => job(app, 'bootstrap', (a) => bootstrap(lifecycleOf(a)));

/** The scheduled rotation: acts only when the active issuing CA is due. */
export const rotationJob = (app: () => App) => (event?: { force?: unknown }) =>
  job(app, 'rotation', (a) => rotate(lifecycleOf(a), { force: event?.force === true }));
