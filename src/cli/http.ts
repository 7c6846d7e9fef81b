/**
 * The HTTP side of the command line: one request to the API, signed with AWS
 * Signature V4 by the SDK's own signer when the endpoint wants it, and the
 * bounded retry of answers that say "later" (429, 5xx, ISSUANCE_IN_PROGRESS).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { CredentialProvider } from './aws.js';
import { CliError, EXIT } from './errors.js';

export interface ApiRequest {
  method: 'GET' | 'POST';
  /** The route, e.g. `/certificates`; appended to the base URL's path. */
  path: string;
  query?: Record<string, string | undefined>;
  body?: string | Uint8Array;
  contentType?: string;
  /** Request headers besides host, accept and the body's (e.g. X-Lot-Id); signed with the rest. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The JSON body, when it is JSON. */
  json: unknown;
}

/** The error an API answer carries: `{"error": {"code", "message", "details"}}`, or what API Gateway says. */
export interface ApiProblem {
  status: number;
  code: string;
  message: string;
  details: unknown[];
}

export interface SigningOptions {
  region: string;
  credentials: CredentialProvider;
}

export interface ApiClientOptions {
  baseUrl: URL;
  signing?: SigningOptions;
  timeoutMs?: number;
  maxSockets?: number;
}

/** Percent-encoding as SigV4 canonicalises it (RFC 3986 unreserved characters kept). */
export const escapeUri = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A request that never reached the API, or whose answer never came. */
export class TransportError extends CliError {
  constructor(
    message: string,
    /** Worth another attempt (reset, timeout); a refused connection is not. */
    readonly transient: boolean,
  ) {
    super(transient ? EXIT.UNAVAILABLE : EXIT.FAILED, message);
  }
}

const NOT_LISTENING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function transportError(e: NodeJS.ErrnoException, url: string): TransportError {
  if (NOT_LISTENING.has(e.code ?? '')) {
    const why = e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.code}: host not found or not reachable`;
    return new TransportError(
      `cannot reach ${url} (${why}).\n` +
        '  Locally, start the API first: npm start (it listens on http://localhost:3000).\n' +
        '  For a deployed stage, give its URL: the ServiceEndpoint that `serverless info --stage <stage>` prints.',
      false,
    );
  }
  return new TransportError(`no answer from ${url}: ${e.code ?? e.message}`, true);
}

export class ApiClient {
  private readonly signer?: SignatureV4;
  private readonly agent: HttpAgent;
  readonly signed: boolean;

  constructor(private readonly options: ApiClientOptions) {
    const { baseUrl, signing, maxSockets = 16 } = options;
    if (signing) this.signer = new SignatureV4({ service: 'execute-api', region: signing.region, credentials: signing.credentials, sha256: Sha256 });
    this.signed = Boolean(signing);
    this.agent = baseUrl.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
  }

  get baseUrl(): URL {
    return this.options.baseUrl;
  }

  /** The full URL of a route, for messages. */
  urlOf(path: string): string {
    return `${this.options.baseUrl.origin}${this.options.baseUrl.pathname.replace(/\/+$/, '')}${path}`;
  }

  close(): void {
    this.agent.destroy();
  }

  async send(req: ApiRequest): Promise<ApiAnswer> {
    const base = this.options.baseUrl;
    const path = `${base.pathname.replace(/\/+$/, '')}${req.path}`;
    const query = Object.fromEntries(Object.entries(req.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
    const headers: Record<string, string> = { ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])), host: base.host, accept: 'application/json' };
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : Buffer.from(req.body);
    if (body) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(body.length);
    }
    let signedHeaders = headers;
    if (this.signer) {
      const unsigned = new HttpRequest({ method: req.method, protocol: base.protocol, hostname: base.hostname, path, query, headers, ...(body ? { body } : {}) });
      signedHeaders = (await this.signer.sign(unsigned)).headers;
    }
    const search = Object.entries(query)
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`)
      .join('&');
    return this.transmit(req.method, `${path}${search ? `?${search}` : ''}`, { ...signedHeaders, 'user-agent': 'factory-ca-cli' }, body, req.signal);
  }

  private transmit(method: string, target: string, headers: Record<string, string>, body: Buffer | undefined, signal?: AbortSignal): Promise<ApiAnswer> {
    const base = this.options.baseUrl;
    const url = `${base.origin}${target}`;
    const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<ApiAnswer>((resolve, reject) => {
      if (signal?.aborted) return reject(new TransportError(`interrupted before ${method} ${url}`, false));
      const req = send(
        { protocol: base.protocol, hostname: base.hostname, port: base.port || undefined, method, path: target, headers, agent: this.agent, timeout: this.options.timeoutMs ?? 60_000, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(transportError(e, url)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError') reject(new TransportError(`interrupted during ${method} ${url}`, false));
        else reject(transportError(e, url));
      });
      req.end(body);
    });
  }
}

/** What went wrong, from an answer that is not a success. */
export function problemOf(answer: ApiAnswer): ApiProblem {
  const body = answer.json as { error?: { code?: unknown; message?: unknown; details?: unknown }; message?: unknown; Message?: unknown } | undefined;
  const error = body?.error;
  if (error && typeof error.code === 'string') {
    return { status: answer.status, code: error.code, message: String(error.message ?? ''), details: Array.isArray(error.details) ? error.details : [] };
  }
  // API Gateway's own answers (no valid signature, throttled, …) are {"message": "…"}.
  const gateway = body?.message ?? body?.Message;
  const code = answer.status === 403 ? 'ACCESS_DENIED' : answer.status === 429 ? 'THROTTLED' : `HTTP_${answer.status}`;
  return { status: answer.status, code, message: typeof gateway === 'string' ? gateway : answer.text.slice(0, 300).trim(), details: [] };
}

/** The problem in a line or a few: code, message and each detail. */
export function formatProblem(p: ApiProblem): string {
  const lines = [`${p.code} (HTTP ${p.status}): ${p.message}`];
  for (const d of p.details) {
    if (d && typeof d === 'object') {
      const { field, reason, ...rest } = d as Record<string, unknown>;
      const extra = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
      lines.push(`  - ${[field, reason].filter(Boolean).join(': ')}${extra.length ? ` (${extra.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n');
}

export type Outcome = 'ok' | 'refused' | 'unavailable' | 'failed';

export function outcomeOf(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 429 || status >= 500) return 'unavailable';
  if (status >= 400) return 'refused';
  return 'failed';
}

export const EXIT_OF: Record<Outcome, number> = { ok: EXIT.OK, refused: EXIT.REFUSED, unavailable: EXIT.UNAVAILABLE, failed: EXIT.FAILED };

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The first wait when the answer names none; doubled each time, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After honoured as given. */
  maxRetryAfterMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 10_000, maxRetryAfterMs: 60_000, sleep, random: Math.random };

/** Retry-After in milliseconds (delta-seconds or an HTTP date), if the answer has one. */
export function retryAfterMs(answer: ApiAnswer, now = Date.now()): number | undefined {
  const raw = answer.headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function isRetryable(answer: ApiAnswer): boolean {
  if (outcomeOf(answer.status) === 'unavailable') return true;
  return answer.status === 409 && problemOf(answer).code === 'ISSUANCE_IN_PROGRESS';
}

/**
 * Sends, and again while the answer says "later" (429, 5xx, 409
 * ISSUANCE_IN_PROGRESS) or the connection broke mid-way: at most
 * `policy.attempts` in all, waiting Retry-After when given, else an exponential
 * delay with jitter. Only for requests that are safe to repeat. Returns the
 * last answer; throws a TransportError when the last attempt got none.
 */
export async function sendWithRetries(client: ApiClient, req: ApiRequest, policy: RetryPolicy = DEFAULT_RETRY): Promise<ApiAnswer> {
  for (let attempt = 1; ; attempt++) {
    let answer: ApiAnswer | undefined;
    let reason: string;
    try {
      answer = await client.send(req);
      if (!isRetryable(answer) || attempt >= policy.attempts) return answer;
      reason = problemOf(answer).code;
    } catch (e) {
      if (!(e instanceof TransportError) || !e.transient || attempt >= policy.attempts || req.signal?.aborted) throw e;
      reason = e.message;
    }
    const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    const given = answer && retryAfterMs(answer);
    const delayMs = given !== undefined ? Math.min(given, policy.maxRetryAfterMs) : Math.round(exponential / 2 + (policy.random() * exponential) / 2);
    policy.onRetry?.({ attempt, delayMs, reason });
    await policy.sleep(delayMs, req.signal);
    if (req.signal?.aborted) throw new TransportError('interrupted', false);
  }
}
