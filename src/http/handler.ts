import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { describeError, type Logger } from '../observability/logger.js';
import { METRIC, type Metrics } from '../observability/metrics.js';
import { renderError } from './errors.js';

/** What the HTTP edge reports to: the log and the metrics. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export type HttpEvent = APIGatewayProxyEvent;
export type HttpResult = APIGatewayProxyResult;

/** Per-request facts a route adds to its one log line (serial, CN, CA…). */
export type LogFields = Record<string, unknown>;

export type Route = (event: HttpEvent, log: LogFields) => Promise<HttpResult>;

const BASE_HEADERS = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

const ISSUE_ROUTE = 'POST /certificates';

/** The metrics of one answered request: issued / rejected by reason, server errors, signer failures. */
function countOutcome(metrics: Metrics, route: string, status: number, errorCode: string | undefined): void {
  if (route === ISSUE_ROUTE && (status === 201 || status === 200)) metrics.count(METRIC.issued);
  if (route === ISSUE_ROUTE && status >= 400 && status < 500) metrics.count(METRIC.rejected, { Reason: errorCode ?? 'UNKNOWN' });
  if (status >= 500) metrics.count(METRIC.serverErrors);
  if (errorCode === 'SIGNER_UNAVAILABLE') metrics.count(METRIC.signerFailures);
}

/**
 * The HTTP edge shared by every function: one log line per request (route,
 * status, outcome, duration and what the route adds, with API Gateway's request
 * id as correlation id), the request's metrics, and every error rendered by the
 * single error mapping. Causes of 5xx are logged, never returned.
 */
function httpEdge(route: string, obs: () => Observability): middy.MiddlewareObj<HttpEvent, HttpResult, Error, Context> {
  const started = new WeakMap<object, number>();
  const line = (request: middy.Request<HttpEvent, HttpResult, Error, Context>, extra: LogFields) => {
    const t0 = started.get(request);
    const status = request.response?.statusCode ?? 500;
    const entry = {
      route,
      requestId: request.event?.requestContext?.requestId,
      awsRequestId: request.context?.awsRequestId,
      status,
      outcome: status < 400 ? 'success' : status < 500 ? 'rejected' : 'failed',
      durationMs: t0 === undefined ? undefined : Math.round((performance.now() - t0) * 100) / 100,
      ...fieldsOf(request.event),
      ...extra,
    };
    const { logger, metrics } = obs();
    if (status >= 500) logger.error('request failed', entry);
    else logger.info('request', entry);
    countOutcome(metrics, route, status, extra.errorCode as string | undefined);
    metrics.flush();
  };
  return {
    before: (request) => {
      started.set(request, performance.now());
      obs().logger.bind?.(request.context, request.event?.requestContext?.requestId);
    },
    after: (request) => line(request, {}),
    onError: (request) => {
      const rendered = renderError(request.error);
      request.response = json(rendered.statusCode, rendered.body, rendered.headers);
      line(request, {
        errorCode: rendered.body.error.code,
        ...(rendered.statusCode >= 500 ? { error: describeError(request.error) } : { reason: rendered.body.error.message }),
      });
    },
  };
}

/** Wraps a route as a middy Lambda handler. */
export function httpHandler(route: string, obs: () => Observability, fn: Route) {
  return middy<HttpEvent, HttpResult, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(httpEdge(route, obs))
    .handler((event) => fn(event, fieldsOf(event)));
}

const FIELDS = new WeakMap<HttpEvent, LogFields>();
function fieldsOf(event: HttpEvent): LogFields {
  let f = FIELDS.get(event);
  if (!f) FIELDS.set(event, (f = {}));
  return f;
}
