/**
 * `factory-ca issue`: one CSR, or a whole folder of them.
 *
 * A batch is safe to interrupt and run again: a CSR whose four output files are
 * there and match it is not sent again, and one sent again gets the same
 * certificate back (200) because issuance is idempotent per CSR, so a run killed
 * between the answer and the write loses nothing. summary.csv and summary.json
 * list every CSR of the folder after each run.
 */
import { SingleBar } from 'cli-progress';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { CliError, EXIT } from './errors.js';
import { csrPublicKey, existingDeviceFiles, looksLikeCsr, readCsrFile, removeLeftovers, writeDeviceFiles, writeFileAtomic, type CsrFile, type DeviceFiles } from './files.js';
import { formatProblem, outcomeOf, problemOf, sendWithRetries, TransportError, type ApiClient, type RetryPolicy } from './http.js';
import type { Io } from './io.js';

interface IssuedCertificate extends DeviceFiles {
  serialNumber: string;
  subject?: { CN?: string };
  notAfter: string;
}

/** What became of one CSR. */
export type RowStatus = 'issued' | 'replayed' | 'present' | 'refused' | 'unavailable' | 'failed' | 'pending';

export interface SummaryRow {
  csr: string;
  folder: string;
  commonName: string;
  serialNumber: string;
  notAfter: string;
  status: RowStatus;
  httpStatus: number | '';
  errorCode: string;
  errorMessage: string;
}

type Result = Omit<SummaryRow, 'csr' | 'folder'> & { problem?: string; files?: string[] };

const EMPTY = { commonName: '', serialNumber: '', notAfter: '', httpStatus: '' as const, errorCode: '', errorMessage: '' };

/** Sends one CSR (with retries) and writes its four files to `dir`. */
async function issueInto(client: ApiClient, csr: CsrFile, dir: string, retry: RetryPolicy, signal?: AbortSignal, lot?: string): Promise<Result> {
  const headers = lot ? { headers: { 'X-Lot-Id': lot } } : {};
  const answer = await sendWithRetries(client, { method: 'POST', path: '/certificates', body: csr.body, contentType: 'application/pkcs10', ...headers, ...(signal ? { signal } : {}) }, retry);
  const outcome = outcomeOf(answer.status);
  if (outcome !== 'ok') {
    const p = problemOf(answer);
    const status: RowStatus = outcome === 'refused' ? 'refused' : outcome === 'unavailable' ? 'unavailable' : 'failed';
    return { ...EMPTY, status, httpStatus: answer.status, errorCode: p.code, errorMessage: p.message, problem: formatProblem(p) };
  }
  const cert = answer.json as IssuedCertificate | undefined;
  if (!cert?.certificatePem || !cert.certificateChainPem || !cert.caCertificatePem || !cert.rootCertificatePem) {
    return { ...EMPTY, status: 'failed', httpStatus: answer.status, errorCode: 'BAD_ANSWER', errorMessage: 'the answer holds no certificate', problem: `HTTP ${answer.status} without a certificate: ${answer.text.slice(0, 200)}` };
  }
  const files = await writeDeviceFiles(dir, cert);
  return {
    ...EMPTY,
    status: answer.status === 201 ? 'issued' : 'replayed',
    httpStatus: answer.status,
    commonName: cert.subject?.CN ?? '',
    serialNumber: cert.serialNumber,
    notAfter: cert.notAfter,
    files,
  };
}

export interface SingleOptions {
  csr: string;
  out?: string;
  /** The production lot to issue under (X-Lot-Id). */
  lot?: string;
}

/** `issue --csr FILE`: prints serial, CN and notAfter; the exit status says issued, refused or unavailable. */
export async function issueSingle(client: ApiClient, options: SingleOptions, io: Io, retry: RetryPolicy): Promise<number> {
  const csr = readCsrFile(options.csr);
  const dir = resolve(options.out ?? dirname(options.csr));
  const r = await issueInto(client, csr, dir, retry, undefined, options.lot);
  if (r.problem) {
    io.err(`${r.status === 'refused' ? 'refused' : 'not issued'}: ${r.problem}`);
    if (r.status === 'unavailable') io.err('The service is busy or unavailable; run the same command again later (it is safe: the same CSR gets the same certificate).');
    return r.status === 'refused' ? EXIT.REFUSED : r.status === 'unavailable' ? EXIT.UNAVAILABLE : EXIT.FAILED;
  }
  io.out(`${r.status === 'issued' ? 'issued' : 'already issued for this CSR, the same certificate'} (HTTP ${r.httpStatus})`);
  io.out(`  serial    ${r.serialNumber}`);
  io.out(`  CN        ${r.commonName}`);
  io.out(`  notAfter  ${r.notAfter}`);
  for (const f of r.files ?? []) io.out(`  wrote     ${relative(process.cwd(), f) || f}`);
  return EXIT.OK;
}

export interface BatchOptions {
  csrDir: string;
  out: string;
  concurrency: number;
  /** The production lot to issue under (X-Lot-Id). */
  lot?: string;
  signal?: AbortSignal;
}

interface Job {
  csr: string;
  path: string;
  folder: string;
}

/** The CSRs of a folder, each with the output subfolder named from its base name. */
export function csrJobs(csrDir: string): Job[] {
  let names: string[];
  try {
    names = readdirSync(csrDir).sort();
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot read the CSR folder ${csrDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const files = names.filter((n) => {
    const path = join(csrDir, n);
    return statSync(path).isFile() && looksLikeCsr(n, () => readFileSync(path));
  });
  const base = (n: string) => n.slice(0, n.length - extname(n).length) || n;
  const counts = new Map<string, number>();
  for (const n of files) counts.set(base(n), (counts.get(base(n)) ?? 0) + 1);
  // Two CSRs with one base name (a.csr, a.der) keep their whole file names as folders.
  return files.map((n) => ({ csr: n, path: join(csrDir, n), folder: counts.get(base(n))! > 1 ? n : base(n) }));
}

const COLUMNS: (keyof SummaryRow)[] = ['csr', 'commonName', 'serialNumber', 'notAfter', 'status', 'httpStatus', 'errorCode', 'errorMessage', 'folder'];

const csvField = (v: unknown) => {
  const s = String(v ?? '');
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const toCsv = (columns: readonly string[], rows: readonly Record<string, unknown>[]) =>
  [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';

const STATUSES: RowStatus[] = ['issued', 'replayed', 'present', 'refused', 'unavailable', 'failed', 'pending'];

function totals(rows: SummaryRow[]): Record<RowStatus, number> {
  const t = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<RowStatus, number>;
  for (const r of rows) t[r.status]++;
  return t;
}

async function writeSummary(out: string, options: BatchOptions, url: string, rows: SummaryRow[], interrupted: boolean): Promise<void> {
  await writeFileAtomic(join(out, 'summary.csv'), toCsv(COLUMNS, rows as unknown as Record<string, unknown>[]));
  const summary = { url, csrDir: resolve(options.csrDir), outDir: resolve(out), finishedAt: new Date().toISOString(), interrupted, totals: totals(rows), certificates: rows };
  await writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

function lineOf(row: SummaryRow): string {
  const head = `${row.status.padEnd(11)} ${row.csr}`;
  if (row.errorCode) return `${head}  ${row.errorCode}${row.httpStatus ? ` (HTTP ${row.httpStatus})` : ''}: ${row.errorMessage}`;
  return `${head}  CN=${row.commonName}  serial=${row.serialNumber}  notAfter=${row.notAfter}`;
}

/**
 * `issue --csr-dir DIR --out DIR`. The exit status is the worst outcome: 1 when
 * any CSR failed otherwise, else 3 when any stayed unavailable, else 2 when any
 * was refused, else 0; 130 when interrupted (rerun to finish).
 */
export async function issueBatch(client: ApiClient, options: BatchOptions, io: Io, retry: RetryPolicy): Promise<number> {
  const jobs = csrJobs(options.csrDir);
  if (!jobs.length) throw new CliError(EXIT.FAILED, `no CSR in ${options.csrDir} (files *.csr, *.req, *.der, or *.pem holding a CERTIFICATE REQUEST)`);
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const rows: SummaryRow[] = jobs.map((j) => ({ csr: j.csr, folder: j.folder, ...EMPTY, status: 'pending' }));
  const bar = io.isTTY ? new SingleBar({ format: ' {bar} {value}/{total} | {counts} | ETA {eta_formatted}', hideCursor: true, stream: io.stdout, clearOnComplete: false }) : undefined;
  const countsText = () => {
    const t = totals(rows);
    return STATUSES.filter((s) => s !== 'pending' && t[s]).map((s) => `${s} ${t[s]}`).join(', ') || 'starting';
  };
  bar?.start(jobs.length, 0, { counts: countsText() });
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let fatal: CliError | undefined;
  let next = 0;

  const finish = (i: number, result: Result) => {
    const { problem: _p, files: _f, ...fields } = result;
    rows[i] = { ...rows[i]!, ...fields };
    if (bar) bar.increment(1, { counts: countsText() });
    else io.out(lineOf(rows[i]!));
  };

  const work = async (i: number) => {
    const job = jobs[i]!;
    const dir = join(out, job.folder);
    try {
      await removeLeftovers(dir);
      const csr = readCsrFile(job.path);
      const present = existingDeviceFiles(dir, csrPublicKey(csr));
      if (present) return finish(i, { ...EMPTY, ...present, status: 'present' });
      finish(i, await issueInto(client, csr, dir, retry, signal, options.lot));
    } catch (e) {
      if (signal.aborted) return; // interrupted: stays pending
      if (e instanceof TransportError && !e.transient) {
        fatal ??= e; // nothing listens there: the other CSRs would fail the same way
        stop.abort();
        return finish(i, { ...EMPTY, status: 'failed', errorCode: 'CONNECTION_FAILED', errorMessage: e.message.split('\n')[0]! });
      }
      if (e instanceof TransportError) return finish(i, { ...EMPTY, status: 'unavailable', errorCode: 'NO_ANSWER', errorMessage: e.message });
      finish(i, { ...EMPTY, status: 'failed', errorCode: 'CLIENT_ERROR', errorMessage: (e as Error).message });
    }
  };

  const worker = async () => {
    while (!signal.aborted && next < jobs.length) await work(next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, jobs.length) }, worker));
  } finally {
    bar?.stop();
    await writeSummary(out, options, client.urlOf(''), rows, signal.aborted && !fatal);
  }

  if (bar) for (const r of rows) if (r.errorCode) io.out(lineOf(r));
  const t = totals(rows);
  io.out(`${rows.length} CSRs: ${STATUSES.filter((s) => t[s]).map((s) => `${t[s]} ${s}`).join(', ')}. Summary: ${join(out, 'summary.csv')}`);
  if (fatal) throw fatal;
  if (t.pending) {
    io.err('interrupted: run the same command again to finish (what is done is kept).');
    return 130;
  }
  if (t.failed) return EXIT.FAILED;
  if (t.unavailable) {
    io.err('Some CSRs found the service unavailable after retries; run the same command again later to finish them.');
    return EXIT.UNAVAILABLE;
  }
  return t.refused ? EXIT.REFUSED : EXIT.OK;
}
