/**
 * The HTTP edge every function shares: a middy stack of Powertools' own
 * middlewares (Lambda context and correlation id in the logger, metrics flushed
 * with the cold-start metric, X-Ray around the handler) and three small ones of
 * the project's: the request log line, the business-outcome counters a function
 * asks for, and the one error mapping. Per-request state lives in middy's
 * request (the handler's context carries the log fields), never in module state.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { describeError, type Logger } from '../observability/logger.js';
import { count, METRIC, type Metrics } from '../observability/metrics.js';
import type { Tracer } from '../observability/tracing.js';
import { renderError, type ErrorBody } from './errors.js';

/** What a function reports to: the log, the metrics and (in AWS) X-Ray. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer?: Tracer;
}

export type HttpEvent = APIGatewayProxyEvent;
export type HttpResult = APIGatewayProxyResult;

/** Per-request facts a route adds to its one log line (serial, CN, CA…). */
export type LogFields = Record<string, unknown>;

/** The Lambda context as a route sees it: with the fields of its log line. */
export interface RouteContext extends Context {
  log: LogFields;
}

export type Route = (event: HttpEvent, context: RouteContext) => Promise<HttpResult>;
type Request = middy.Request<HttpEvent, HttpResult, Error, RouteContext>;
export type Middleware = middy.MiddlewareObj<HttpEvent, HttpResult, Error, RouteContext>;

const BASE_HEADERS = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A text answer of another media type (a PEM chain), with the same protective headers. */
export function text(statusCode: number, body: string, contentType: string, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...BASE_HEADERS, 'Content-Type': contentType, ...headers }, body };
}

/** A binary answer (a DER CRL), base64 for API Gateway, which sends the bytes for a binary media type. */
export function binary(statusCode: number, body: Uint8Array, contentType: string, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { ...BASE_HEADERS, 'Content-Type': contentType, ...headers },
    body: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
    isBase64Encoded: true,
  };
}

const startedAt = Symbol('startedAt');

/**
 * One log line per request (route, status, outcome, duration and what the route
 * added), and the metrics every route shares: server errors and signer failures.
 */
export function requestLog(route: string, { logger, metrics }: Observability): Middleware {
  const line = (request: Request) => {
    const t0 = (request.internal as Record<symbol, number>)[startedAt];
    const status = request.response?.statusCode ?? 500;
    const fields = request.context.log ?? {};
    const entry = {
      route,
      requestId: request.event?.requestContext?.requestId,
      awsRequestId: request.context?.awsRequestId,
      status,
      outcome: status < 400 ? 'success' : status < 500 ? 'rejected' : 'failed',
      durationMs: t0 === undefined ? undefined : Math.round((performance.now() - t0) * 100) / 100,
      ...fields,
    };
    if (status >= 500) logger.error('request failed', entry);
    else logger.info('request', entry);
    if (status >= 500) count(metrics, METRIC.serverErrors);
    if (fields.errorCode === 'SIGNER_UNAVAILABLE') count(metrics, METRIC.signerFailures);
  };
  return {
    before: (request) => {
      (request.internal as Record<symbol, number>)[startedAt] = performance.now();
      request.context.log = {};
    },
    after: line,
    onError: line,
  };
}

/** Counts each refused request (4xx) under `name`, by error code: a business metric a function opts into. */
export function countRejections(metrics: Metrics, name: string): Middleware {
  return {
    onError: (request) => {
      const status = request.response?.statusCode ?? 500;
      if (status >= 400 && status < 500) count(metrics, name, { Reason: String(request.context.log?.errorCode ?? 'UNKNOWN') });
    },
  };
}

/** The single error mapping: every thrown value becomes the documented status and body; a 5xx never shows its cause. */
export function errorResponse(): Middleware {
  return {
    onError: (request) => {
      const rendered = renderError(request.error);
      request.response = json(rendered.statusCode, rendered.body, rendered.headers);
      Object.assign((request.context.log ??= {}), {
        errorCode: rendered.body.error.code,
        ...(rendered.statusCode >= 500 ? { error: describeError(request.error) } : { reason: rendered.body.error.message }),
      });
    },
  };
}

/** The media type of an error rendered as text. */
export const TEXT_ERROR_TYPE = 'text/plain; charset=utf-8';

/** One line of text: line breaks (a message may quote what the client sent) become spaces. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

/**
 * The error as text: "CODE: message" on the first line, then each detail on a
 * line of its own ("field: reason", its other fields in parentheses). What EST
 * clients show their user.
 */
export function errorText({ error }: ErrorBody): string {
  const lines = [`${error.code}: ${error.message}`];
  for (const d of (error.details ?? []) as Array<Record<string, unknown>>) {
    const { field, reason, ...rest } = d;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    lines.push(`${field === undefined ? '' : `${String(field)}: `}${String(reason)}${extra.length ? ` (${extra.join(', ')})` : ''}`);
  }
  return `${lines.map(oneLine).join('\n')}\n`;
}

/**
 * For routes whose clients expect a plain-text reason (EST): the one error
 * mapping's answer (status, code, message, Retry-After: errorResponse) with its
 * JSON body written as text/plain. Given as one of httpFunction's `extra`
 * middlewares, it runs after errorResponse has rendered the error.
 */
export function plainTextErrors(): Middleware {
  return {
    onError: (request) => {
      const res = request.response;
      if (!res || res.headers?.['Content-Type'] !== BASE_HEADERS['Content-Type']) return;
      const { 'Content-Type': _json, ...headers } = res.headers as Record<string, string>;
      request.response = text(res.statusCode, errorText(JSON.parse(res.body) as ErrorBody), TEXT_ERROR_TYPE, headers);
    },
  };
}

/** Powertools' middlewares: logger context and correlation id, metrics with the cold-start metric, X-Ray. */
export function powertools(obs: Observability, correlationIdPath?: string) {
  return [
    injectLambdaContext(obs.logger, { resetKeys: true, ...(correlationIdPath ? { correlationIdPath } : {}) }),
    logMetrics(obs.metrics, { captureColdStartMetric: true }),
    ...(obs.tracer ? [captureLambdaHandler(obs.tracer)] : []),
  ];
}

/** What the edge of a function is made of: its observability and (local mode) its guard's port. */
export interface EdgeDeps {
  obs: Observability;
  /** Local mode's guards (src/http/local-guards.ts), run before the route; none in AWS. */
  guards?: Middleware[];
}

/**
 * A route as a middy Lambda handler. `extra` middlewares (a function's own
 * counters) sit between the request log and the error mapping, so they see the
 * rendered response.
 */
export function httpFunction(route: string, { obs, guards = [] }: EdgeDeps, fn: Route, ...extra: Middleware[]): LambdaHttpHandler {
  const stack = middy<HttpEvent, HttpResult, Error, RouteContext>({ timeoutEarlyInMillis: 0 });
  for (const m of powertools(obs, 'requestContext.requestId')) stack.use(m as Middleware);
  stack.use(requestLog(route, obs));
  for (const g of guards) stack.use(g);
  for (const m of extra) stack.use(m);
  // Lambda passes a plain Context; the request log middleware adds the log fields before the route runs.
  return stack.use(errorResponse()).handler(fn) as unknown as LambdaHttpHandler;
}

/** An HTTP function as Lambda (and a test) calls it. */
export type LambdaHttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;
