/**
 * HTTP load against the local stack (serverless-offline + dynalite), for the
 * issuance benchmark. Run from the project root (the local stack is started
 * with paths relative to it).

 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCsr, newP256Key, STRING, subject } from '../test/helpers/csr-builder.js';
import { startLocalStack } from '../test/helpers/local-stack-process.js';

export interface LoadResult {
  /** Requests sent. */
  requests: number;
  concurrency: number;
  /** Requests whose answer passed the check (by default a 2xx status). */
  ok: number;
  /** Requests whose answer failed the check, or that got no answer. */
  failed: number;
  /** Successful requests per second of wall time. */
  perSecond: number;
  /** Latency percentiles over every request (nearest rank), from sending to the whole body read. */
  p50Ms: number;
  p99Ms: number;
  wallMs: number;
  /** Count by HTTP status; requests that got no answer count under `error:<code or name>`. */
  statuses: Record<string, number>;
}

/**
 * Tells whether an answer is a success. It may read the body; if it does not,
 * runLoad reads it (the latency always includes the whole body).
 */
export type ResponseCheck = (res: Response) => boolean | Promise<boolean>;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Sends each request once, `concurrency` at a time (a fixed pool of workers,
 * each taking the next request as soon as its previous one is answered), over
 * keep-alive connections (Node's fetch, undici's global pool). A request is ok
 * when `check` says so; by default when its status is 2xx.
 */
export async function runLoad(requests: Array<() => Promise<Response>>, concurrency: number, check: ResponseCheck = (res) => res.ok): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let next = 0;
  const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);

  const worker = async () => {
    for (let i = next++; i < requests.length; i = next++) {
      const start = performance.now();
      let passed = false;
      try {
        const res = await requests[i]!();
        count(String(res.status));
        passed = await check(res);
        if (!res.bodyUsed) await res.arrayBuffer();
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        count(`error:${err.cause?.code ?? err.name}`);
        passed = false;
      }
      latencies.push(performance.now() - start);
      if (passed) ok++;
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, requests.length)) }, worker));
  const wallMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  return {
    requests: requests.length,
    concurrency,
    ok,
    failed: requests.length - ok,
    perSecond: round(wallMs > 0 ? (ok * 1000) / wallMs : 0, 1),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    wallMs: round(wallMs, 0),
    statuses,
  };
}

/**
 * `count` distinct CSRs as PEM, each with its own new P-256 key and the subject
 * C=US, O=Example Corp, CN=<prefix>-<i>.
 *
 * They are built in process (test/helpers/csr-builder.ts, about 0.3 ms each
 * instead of ~5 ms for an `openssl req` process) and are encoded as
 * `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes
 * -subj "/C=US/O=Example Corp/CN=<prefix>-<i>"` makes them (checked field by
 * field with `openssl asn1parse`): version 0; the subject as three
 * single-attribute RDNs in that order, C a PrintableString, O and CN
 * UTF8Strings (openssl's default string_mask utf8only); an id-ecPublicKey
 * SubjectPublicKeyInfo with the named curve prime256v1 and an uncompressed
 * point; an empty attributes set `[0]`; signed ecdsa-with-SHA256 (DER
 * signature, no parameters). Only the key and signature bytes differ.
 */
export function makeCsrs(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(`${prefix}-${i}`) }) }));
}

/**
 * Starts the local stack as `npm start` does, on free ports and a new temporary
 * state directory (a fresh CA and ledger), and returns it with a stop() that
 * also deletes that directory. Run from the project root.
 */
export async function startBenchStack(): Promise<{ baseUrl: string; stop(): Promise<void> }> {
  if (!existsSync('scripts/start-local.ts') || !existsSync('serverless.yml')) {
    throw new Error(`startBenchStack: run from the project root (the local stack starts from the working directory, here ${process.cwd()})`);
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-stack-'));
  let stack: Awaited<ReturnType<typeof startLocalStack>>;
  try {
    stack = await startLocalStack(stateDir);
  } catch (e) {
    rmSync(stateDir, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    baseUrl: stack.baseUrl,
    stop: () =>
      (stopped ??= (async () => {
        try {
          await stack.stop();
        } finally {
          rmSync(stateDir, { recursive: true, force: true });
        }
      })()),
  };
}

const issueRequest = (baseUrl: string, csr: string) => () =>
  fetch(`${baseUrl}/certificates`, { method: 'POST', headers: { 'Content-Type': 'application/pkcs10' }, body: csr });
const healthRequest = (baseUrl: string) => () => fetch(`${baseUrl}/health`);
const created: ResponseCheck = (res) => res.status === 201;
const okStatus: ResponseCheck = (res) => res.status === 200;

/**
 * Requests per measurement by default. On two cores benchLocalApi took 9-10 s
 * with 300 (issuing at ~85/s at concurrency 1, ~125/s at 8; ~15 s when issuing
 * ran at ~60/s), plus 7-11 s to start the stack: well inside 40 s, and p99
 * still rests on three requests.
 */
const DEFAULT_COUNT = 300;

/** How many requests warm the stack up before each kind of measurement. */
const WARM_UP = 24;

/**
 * Issues `count` certificates (POST /certificates, application/pkcs10, a new
 * CSR each: only 201 counts as a success) at concurrency 1, then another
 * `count` at concurrency 8; then `count` GET /health at concurrency 1 and 8:
 * a no-op handler through the same emulator (API Gateway emulation, a Lambda
 * worker, the middleware), so its rate is the ceiling the emulator allows.
 * Before each kind, WARM_UP requests at concurrency 8 start (cold) the
 * function instances serverless-offline runs side by side and open the
 * keep-alive connections.
 *
 * Do not edit the project while it runs: serverless-esbuild watches every .js
 * and .ts file of the project (src/, test/, bench/, scripts/ alike) in offline
 * mode and rebuilds on a change, and a request caught by the rebuild hangs
 * until the function timeout (30 s locally) and gets a 504 — it shows as a
 * failure and a wall time 30 s too long.
 */
export async function benchLocalApi(
  baseUrl: string,
  count: number = DEFAULT_COUNT,
): Promise<{ issue1: LoadResult; issue8: LoadResult; noop1: LoadResult; noop8: LoadResult }> {
  const [warm, csrs1, csrs8] = [makeCsrs(WARM_UP, 'bench-warm'), makeCsrs(count, 'bench-c1'), makeCsrs(count, 'bench-c8')];
  const warmIssue = await runLoad(warm.map((csr) => issueRequest(baseUrl, csr)), 8, created);
  if (warmIssue.failed) throw new Error(`warm-up issuance failed: ${JSON.stringify(warmIssue.statuses)}`);
  const issue1 = await runLoad(csrs1.map((csr) => issueRequest(baseUrl, csr)), 1, created);
  const issue8 = await runLoad(csrs8.map((csr) => issueRequest(baseUrl, csr)), 8, created);

  const health = Array.from({ length: count }, () => healthRequest(baseUrl));
  const warmHealth = await runLoad(Array.from({ length: WARM_UP }, () => healthRequest(baseUrl)), 8, okStatus);
  if (warmHealth.failed) throw new Error(`warm-up GET /health failed: ${JSON.stringify(warmHealth.statuses)}`);
  const noop1 = await runLoad(health, 1, okStatus);
  const noop8 = await runLoad(health, 8, okStatus);
  return { issue1, issue8, noop1, noop8 };
}
