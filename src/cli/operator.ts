/**
 * The operator commands: get, list, export, revoke, ca, rotate. Each is one
 * route of the API (export walks every page of the list).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { CliError, EXIT } from './errors.js';
import { writeFileAtomic } from './files.js';
import { EXIT_OF, formatProblem, outcomeOf, problemOf, sendWithRetries, type ApiAnswer, type ApiClient, type ApiRequest, type RetryPolicy } from './http.js';
import { toCsv } from './issue.js';
import type { Io } from './io.js';

export interface Operator {
  client: ApiClient;
  io: Io;
  retry: RetryPolicy;
}

/** The answer's body when it is a success; otherwise the problem printed and its exit status thrown. */
async function call<T>(op: Operator, req: ApiRequest, options: { retry?: boolean } = {}): Promise<{ body: T; answer: ApiAnswer }> {
  const answer = options.retry === false ? await op.client.send(req) : await sendWithRetries(op.client, req, op.retry);
  const outcome = outcomeOf(answer.status);
  if (outcome !== 'ok') throw new CliError(EXIT_OF[outcome], `${req.method} ${op.client.urlOf(req.path)}: ${formatProblem(problemOf(answer))}`);
  return { body: answer.json as T, answer };
}

/** A serial number as the API writes it: lower-case hex, colons dropped. */
export function canonicalSerial(serial: string): string {
  const s = serial.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(s)) throw new CliError(EXIT.FAILED, `not a serial number: ${serial} (hexadecimal, colons allowed)`);
  return s;
}

interface CertificateItem {
  serialNumber: string;
  certificateId?: string;
  certificatePem?: string;
  subject?: Record<string, string>;
  issuingCaId?: string;
  notBefore?: string;
  notAfter?: string;
  status?: string;
  issuedAt?: string;
  stationId?: string;
  lotId?: string;
  revokedAt?: string;
  revocationReason?: string;
}

const show = (io: Io, pairs: [string, unknown][]) => {
  for (const [k, v] of pairs) if (v !== undefined && v !== '') io.out(`${k.padEnd(18)} ${String(v)}`);
};

export async function getCertificate(op: Operator, serial: string, format: { json?: boolean; pem?: boolean }): Promise<number> {
  const { body } = await call<CertificateItem>(op, { method: 'GET', path: `/certificates/${canonicalSerial(serial)}` });
  if (format.json) op.io.out(JSON.stringify(body, null, 2));
  else if (format.pem) op.io.out((body.certificatePem ?? '').trimEnd());
  else
    show(op.io, [
      ['serial', body.serialNumber],
      ['commonName', body.subject?.CN],
      ['subject', body.subject && Object.entries(body.subject).map(([k, v]) => `${k}=${v}`).join(', ')],
      ['status', body.status],
      ['issuedAt', body.issuedAt],
      ['notBefore', body.notBefore],
      ['notAfter', body.notAfter],
      ['issuingCaId', body.issuingCaId],
      ['stationId', body.stationId],
      ['certificateId', body.certificateId],
      ['revokedAt', body.revokedAt],
      ['revocationReason', body.revocationReason],
    ]);
  return EXIT.OK;
}

/** The list filters, as the API names them. */
export interface ListFilters {
  commonName?: string;
  lotId?: string;
  issuingCaId?: string;
  status?: string;
  stationId?: string;
  issuedAfter?: string;
  issuedBefore?: string;
  limit?: number;
}

export function listQuery(f: ListFilters, next?: string): Record<string, string | undefined> {
  return {
    commonName: f.commonName,
    lotId: f.lotId,
    issuingCaId: f.issuingCaId,
    status: f.status,
    stationId: f.stationId,
    issuedAfter: f.issuedAfter,
    issuedBefore: f.issuedBefore,
    limit: f.limit === undefined ? undefined : String(f.limit),
    next,
  };
}

interface Page {
  items?: CertificateItem[];
  next?: string;
}

/** Whether an item passes the filters: applied to what comes back too, so that an API that ignores one cannot widen the answer. */
export function matches(c: CertificateItem, f: ListFilters): boolean {
  return (
    (f.commonName === undefined || c.subject?.CN === f.commonName) &&
    (f.lotId === undefined || c.lotId === f.lotId) &&
    (f.issuingCaId === undefined || c.issuingCaId === f.issuingCaId) &&
    (f.status === undefined || c.status === f.status) &&
    (f.stationId === undefined || c.stationId === f.stationId) &&
    (f.issuedAfter === undefined || (c.issuedAt !== undefined && Date.parse(c.issuedAt) >= Date.parse(f.issuedAfter))) &&
    (f.issuedBefore === undefined || (c.issuedAt !== undefined && Date.parse(c.issuedAt) < Date.parse(f.issuedBefore)))
  );
}

async function page(op: Operator, filters: ListFilters, next?: string): Promise<Page> {
  const { body } = await call<Page>(op, { method: 'GET', path: '/certificates', query: listQuery(filters, next) });
  if (!body || !Array.isArray(body.items)) throw new CliError(EXIT.FAILED, 'the list answer has no items');
  return { ...body, items: body.items.filter((c) => matches(c, filters)) };
}

const ROW_COLUMNS = ['serialNumber', 'commonName', 'status', 'issuedAt', 'notBefore', 'notAfter', 'issuingCaId', 'stationId', 'revokedAt', 'revocationReason', 'certificateId'] as const;

const flat = (c: CertificateItem): Record<string, unknown> => ({ ...c, commonName: c.subject?.CN ?? '' });

export async function listCertificates(op: Operator, filters: ListFilters, options: { next?: string; json?: boolean }): Promise<number> {
  const p = await page(op, filters, options.next);
  if (options.json) {
    op.io.out(JSON.stringify(p, null, 2));
    return EXIT.OK;
  }
  const rows = p.items!.map((c) => [c.serialNumber, c.subject?.CN ?? '', c.status ?? '', c.issuedAt ?? '', c.notAfter ?? '', c.issuingCaId ?? '', c.stationId ?? '']);
  const head = ['SERIAL', 'CN', 'STATUS', 'ISSUED', 'NOT AFTER', 'CA', 'STATION'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) op.io.out(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  '));
  op.io.out(`${rows.length} certificate${rows.length === 1 ? '' : 's'}`);
  if (p.next) op.io.err(`more: run again with --next ${p.next}`);
  return EXIT.OK;
}

/** Writes every page, to a file (renamed into place when complete) or to stdout. */
export async function exportCertificates(op: Operator, filters: ListFilters, options: { format: 'ndjson' | 'csv'; out?: string }): Promise<number> {
  const temp = options.out && join(dirname(options.out), `.${basename(options.out)}.${process.pid}.tmp`);
  const file = temp ? createWriteStream(temp) : undefined;
  const write = (s: string) => (file ? file.write(s) : op.io.stdout.write(s));
  let count = 0;
  try {
    if (options.format === 'csv') write(toCsv(ROW_COLUMNS, []));
    let next: string | undefined;
    do {
      const p = await page(op, { ...filters, limit: filters.limit ?? 1000 }, next);
      for (const item of p.items!) {
        write(options.format === 'csv' ? toCsv(ROW_COLUMNS, [flat(item)]).split('\n').slice(1).join('\n') : `${JSON.stringify(item)}\n`);
        count++;
      }
      next = p.next || undefined;
    } while (next);
    if (file) {
      file.end();
      await finished(file);
      await rename(temp!, options.out!);
    }
  } catch (e) {
    if (file) {
      file.destroy();
      await rm(temp!, { force: true });
    }
    throw e;
  }
  op.io.err(`exported ${count} certificate${count === 1 ? '' : 's'}${options.out ? ` to ${options.out}` : ''}`);
  return EXIT.OK;
}

export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn', 'aACompromise'] as const;

interface Revocation {
  serialNumber: string;
  status: string;
  revokedAt: string;
  revocationReason: string;
  alreadyRevoked: boolean;
  iot?: { certificateId?: string; outcome?: string };
}

export async function revokeCertificate(op: Operator, serial: string, reason: string): Promise<number> {
  const { body } = await call<Revocation>(op, { method: 'POST', path: `/certificates/${canonicalSerial(serial)}/revoke`, body: JSON.stringify({ reason }), contentType: 'application/json' });
  op.io.out(body.alreadyRevoked ? `already revoked (since ${body.revokedAt}, ${body.revocationReason})` : `revoked (${body.revocationReason})`);
  show(op.io, [
    ['serial', body.serialNumber],
    ['revokedAt', body.revokedAt],
    ['AWS IoT', body.iot?.outcome],
    ['AWS IoT cert id', body.iot?.certificateId],
  ]);
  return EXIT.OK;
}

interface CaAnswer {
  id: string;
  certificatePem: string;
  notBefore: string;
  notAfter: string;
  rootCertificatePem: string;
  chainPem: string;
}

export async function showCa(op: Operator, options: { json?: boolean; out?: string }): Promise<number> {
  const { body } = await call<CaAnswer>(op, { method: 'GET', path: '/ca' });
  if (options.json) op.io.out(JSON.stringify(body, null, 2));
  else show(op.io, [
    ['active issuing CA', body.id],
    ['notBefore', body.notBefore],
    ['notAfter', body.notAfter],
  ]);
  if (options.out) {
    await writeFileAtomic(join(options.out, 'issuing.pem'), body.certificatePem);
    await writeFileAtomic(join(options.out, 'root.pem'), body.rootCertificatePem);
    await writeFileAtomic(join(options.out, 'chain.pem'), body.chainPem);
    op.io.err(`wrote issuing.pem, root.pem and chain.pem (issuing then root) to ${options.out}`);
  }
  return EXIT.OK;
}

interface RotationAnswer {
  rotated: boolean;
  reason: string;
  activeIssuingCaId: string;
  previousIssuingCaId?: string;
  nextDueAt?: string;
  actions?: string[];
  cas?: { id: string; role?: string; status?: string; notAfter?: string; iotStatus?: string }[];
  logKey?: { rotated: boolean; reason: string; keyAlias: string; previousGeneration?: number; cosignUntil?: string; nextDueAt?: string; actions?: string[] };
}

export async function rotateCa(op: Operator, options: { force?: boolean; reason?: string; logKey?: boolean; generation?: string }): Promise<number> {
  const force = Boolean(options.force || options.reason === 'keyCompromise');
  if (options.generation !== undefined && (!options.logKey || options.reason !== 'keyCompromise' || !/^[1-9][0-9]{0,8}$/.test(options.generation))) {
    throw new CliError(EXIT.REFUSED, '--generation names a compromised log key: a positive integer, with --log-key --reason keyCompromise');
  }
  const request = {
    force,
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.logKey ? { key: 'log' } : {}),
    ...(options.generation !== undefined ? { generation: Number(options.generation) } : {}),
  };
  // Never repeated on its own: a forced rotation sent twice would rotate twice.
  const { body } = await call<RotationAnswer>(op, { method: 'POST', path: '/ca/rotate', body: JSON.stringify(request), contentType: 'application/json' }, { retry: false });
  op.io.out(`issuing CA: ${body.rotated ? 'rotated' : 'not rotated'}: ${body.reason}`);
  show(op.io, [
    ['active issuing CA', body.activeIssuingCaId],
    ['previous', body.previousIssuingCaId],
    ['next rotation due', body.nextDueAt],
  ]);
  for (const a of body.actions ?? []) op.io.out(`  - ${a}`);
  for (const ca of body.cas ?? []) op.io.out(`  ${ca.id.padEnd(12)} ${(ca.role ?? '').padEnd(8)} ${(ca.status ?? '').padEnd(8)} until ${ca.notAfter ?? '?'}${ca.iotStatus ? `  AWS IoT ${ca.iotStatus}` : ''}`);
  const log = body.logKey;
  if (log) {
    op.io.out(`issuance log key: ${log.rotated ? 'rotated' : 'not rotated'}: ${log.reason}`);
    show(op.io, [
      ['log key', log.keyAlias],
      ['co-signed until', log.cosignUntil && `${log.cosignUntil} (by generation ${log.previousGeneration})`],
      ['next log key rotation due', log.nextDueAt],
    ]);
    for (const a of log.actions ?? []) op.io.out(`  - ${a}`);
  }
  if (options.reason === 'keyCompromise' && options.logKey && log?.rotated) {
    op.io.out('');
    const cosigner = log.previousGeneration !== undefined ? `, co-signed by generation ${log.previousGeneration} until ${log.cosignUntil}` : ' alone';
    op.io.out(`Checkpoints are signed by ${log.keyAlias}${cosigner} from now on, and the compromised log key is disabled. Next (README, "If a key is compromised"):`);
    op.io.out(`  1. give auditors the new public key: aws kms get-public-key --key-id ${log.keyAlias}`);
    op.io.out('  2. tell them from when checkpoints signed only by the old key are not to be trusted');
  } else if (options.reason === 'keyCompromise' && body.previousIssuingCaId) {
    const old = body.previousIssuingCaId;
    op.io.out('');
    op.io.out(`The compromised issuing CA ${old} no longer issues, and its KMS key is disabled. Next (README, "If a key is compromised"):`);
    op.io.out(`  1. in AWS IoT, set its CA certificate INACTIVE: aws iot update-ca-certificate --certificate-id <its AWS IoT id> --new-status INACTIVE`);
    op.io.out(`  2. list the devices it signed, to re-issue them: factory-ca export --url <url> --issuing-ca-id ${old} --format csv --out ${old}-devices.csv`);
  }
  return EXIT.OK;
}

/** The most hashes one block request carries (the API's limit). */
const BLOCK_BATCH = 200;

/**
 * Reads a block-list file: one 64-hex SHA-256 of a SubjectPublicKeyInfo per
 * line, and/or PEM "PUBLIC KEY" blocks; blank lines and lines starting with #
 * are skipped. Anything else is refused with its line number, before any request.
 */
export function parseBlockList(text: string): { hashes: string[]; pems: string[] } {
  const pems = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  const rest = text.replace(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g, (m) => '\n'.repeat(m.split('\n').length - 1));
  const hashes: string[] = [];
  rest.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (!/^[0-9a-fA-F]{64}$/.test(line)) throw new CliError(EXIT.FAILED, `line ${i + 1}: not a 64-hex-digit key hash or a PEM PUBLIC KEY block: ${line.slice(0, 40)}`);
    hashes.push(line.toLowerCase());
  });
  return { hashes: [...new Set(hashes)], pems };
}

/** Blocks every key of a file (hashes in batches, PEM keys one by one); idempotent, so a rerun after an interruption is safe. */
export async function blockKeyFile(op: Operator, file: string, options: { reason: string; entry?: string }): Promise<number> {
  const { hashes, pems } = parseBlockList(readFileSync(file, 'utf8'));
  const common = { reason: options.reason, ...(options.entry ? { entry: options.entry } : {}) };
  let blocked = 0;
  let already = 0;
  for (let i = 0; i < hashes.length; i += BLOCK_BATCH) {
    const { body } = await call<{ blocked: number; alreadyBlocked: number }>(op, {
      method: 'POST',
      path: '/blocked-keys',
      body: JSON.stringify({ spkiSha256s: hashes.slice(i, i + BLOCK_BATCH), ...common }),
      contentType: 'application/json',
    });
    blocked += body.blocked;
    already += body.alreadyBlocked;
  }
  for (const publicKeyPem of pems) {
    const { body } = await call<{ alreadyBlocked: boolean }>(op, { method: 'POST', path: '/blocked-keys', body: JSON.stringify({ publicKeyPem, ...common }), contentType: 'application/json' });
    if (body.alreadyBlocked) already++;
    else blocked++;
  }
  op.io.out(`${blocked} keys blocked, ${already} blocked already (${hashes.length + pems.length} in ${file})`);
  return EXIT.OK;
}

interface LotAnswer {
  lotId: string;
  product: string;
  quota: number;
  issued: number;
  revoked: number;
  remaining: number;
  status: string;
  closesAt: string;
  closedAt?: string;
  closedBy?: string;
  log?: { logged: number };
}

function showLotAnswer(op: Operator, lot: LotAnswer): void {
  show(op.io, [
    ['lot', lot.lotId],
    ['product', lot.product],
    ['status', lot.status],
    ['quota', String(lot.quota)],
    ['issued', String(lot.issued)],
    ['revoked', String(lot.revoked)],
    ['remaining', String(lot.remaining)],
    ['closes at', lot.closesAt],
    ['closed at', lot.closedAt],
    ['closed by', lot.closedBy],
    ['in the log', lot.log ? String(lot.log.logged) : undefined],
  ]);
}

export async function openLot(op: Operator, lot: Record<string, unknown>): Promise<number> {
  const answer = await call<LotAnswer>(op, { method: 'POST', path: '/lots', body: JSON.stringify(lot), contentType: 'application/json' });
  op.io.out(answer.answer.status === 201 ? 'opened' : 'already open with these terms');
  showLotAnswer(op, answer.body);
  return EXIT.OK;
}

export async function showLot(op: Operator, lotId: string, options: { json?: boolean }): Promise<number> {
  const { body } = await call<LotAnswer>(op, { method: 'GET', path: `/lots/${encodeURIComponent(lotId)}` });
  if (options.json) op.io.out(JSON.stringify(body, null, 2));
  else showLotAnswer(op, body);
  return EXIT.OK;
}

export async function closeLot(op: Operator, lotId: string): Promise<number> {
  const { body } = await call<LotAnswer>(op, { method: 'POST', path: `/lots/${encodeURIComponent(lotId)}/close` });
  op.io.out('closed');
  showLotAnswer(op, body);
  return EXIT.OK;
}
