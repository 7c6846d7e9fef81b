import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, type LoadResult } from '../../bench/http-load.js';
import { buildCsr, newP256Key, STRING, subject } from '../helpers/csr-builder.js';
import { localLogPublicKeyPem, startLocalStack, type RunningStack } from '../helpers/local-stack-process.js';
import { ensureDebianTools, type DebianTool } from '../helpers/debian-tools.js';
import { expectConforms } from '../helpers/openapi.js';
import { rfcLeafHash, rfcVerifyInclusion } from '../helpers/rfc9162.js';

/**
 * The local stack (npm start: serverless-offline + dynalite) under concurrent
 * load: distinct issuance, one common name raced by many keys, one CSR retried
 * many times at once, and an issuing CA rotation in the middle of a load.
 * Every answer is checked against openapi.yaml, and every certificate is
 * verified by two independent X.509 implementations (OpenSSL and GnuTLS).
 * The 500 distinct issuances must then be in the issuance log, each proof
 * checked with an RFC 9162 implementation of the tests' own
 * (test/helpers/rfc9162.ts) and the checkpoint with tools/verify-log-proof.mjs.
 *
 * One stack for the whole file, started with CA_CACHE_TTL_SECONDS=1 — which
 * does not reach the functions in local mode (see the rotation test), so warm
 * workers cache the issuing CA for the default 300 s. A warm worker's first
 * certificate after a rotation is signed by the old CA, found retired when the
 * pointer is read again, set aside (SUPERSEDED) and answered with one of the
 * new CA. The rotation test runs first, while few workers run, and the later
 * tests accept either CA.
 * serverless-offline runs one worker per concurrent request, so each step
 * first warms up the workers at its concurrency: cold starts under load are
 * what the emulator costs, not what this test is about.
 *
 * Do not edit the project while this runs: serverless-esbuild watches it and
 * rebuilds, and requests caught by a rebuild fail.
 */

const TOOLS: DebianTool[] = [
  { name: 'openssl', check: 'command -v openssl', apt: 'openssl' },
  { name: 'certtool', check: 'command -v certtool', apt: 'gnutls-bin' },
];
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-stress-'));
const work = mkdtempSync(join(tmpdir(), 'factory-ca-stress-certs-'));
let stack: RunningStack;
/** Wall times of the steps, printed at the end. */
const timings: string[] = [];

beforeAll(async () => {
  ensureDebianTools('The stress test', TOOLS);
  const t0 = performance.now();
  stack = await startLocalStack(stateDir, { CA_CACHE_TTL_SECONDS: '1' });
  timings.push(`stack start ${ms(t0)}`);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  console.log(`stress timings:\n  ${timings.join('\n  ')}`);
}, 30_000);

const ms = (t0: number) => `${Math.round(performance.now() - t0)} ms`;
const describeLoad = (r: LoadResult) => `${r.requests} at c${r.concurrency}: ${r.wallMs} ms, ${r.perSecond}/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${JSON.stringify(r.statuses)}`;

// ---------------------------------------------------------------------------
// HTTP: every answer is parsed and checked against openapi.yaml. Under load a
// problem is recorded on the answer (not thrown), so a test reports them all.

interface Answer {
  status: number;
  json: Record<string, any>;
  headers: Record<string, string>;
  /** Why the answer is not what openapi.yaml documents (not JSON, undocumented status, schema mismatch…). */
  problem?: string;
}

async function call(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<{ res: Response; answer: Answer }> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method, ...init });
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => (headers[key] = value));
  const answer: Answer = { status: res.status, json: {}, headers };
  try {
    answer.json = JSON.parse(text) as Record<string, any>;
    expectConforms(method, path, res.status, answer.json, headers);
  } catch (e) {
    answer.problem = `${method} ${path} ${res.status}: ${(e as Error).message.slice(0, 600)} (body: ${text.slice(0, 200)})`;
  }
  return { res, answer };
}

/** One request that must conform; throws otherwise. */
async function request(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const { answer } = await call(method, path, init);
  if (answer.problem) throw new Error(answer.problem);
  return answer;
}

const json = (body: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/**
 * Sends requests `concurrency` at a time through bench/http-load.ts's runLoad,
 * keeping each answer (by index). Requests that got no answer stay undefined.
 */
async function load(
  send: Array<() => Promise<{ res: Response; answer: Answer }>>,
  concurrency: number,
  onAnswer: (answer: Answer, index: number) => void = () => undefined,
): Promise<{ answers: Array<Answer | undefined>; result: LoadResult }> {
  const answers: Array<Answer | undefined> = new Array(send.length);
  const result = await runLoad(
    send.map((s, i) => async () => {
      const { res, answer } = await s();
      answers[i] = answer;
      onAnswer(answer, i);
      return res;
    }),
    concurrency,
    () => true,
  );
  return { answers, result };
}

/** Every request answered, every answer documented: or a message listing what was not. */
function expectAllConform(answers: Array<Answer | undefined>, result: LoadResult): Answer[] {
  const unanswered = answers.map((a, i) => (a ? -1 : i)).filter((i) => i >= 0);
  const problems = answers.flatMap((a) => (a?.problem ? [a.problem] : []));
  expect({ unanswered, problems, statuses: result.statuses }).toEqual({ unanswered: [], problems: [], statuses: result.statuses });
  return answers as Answer[];
}

const countBy = <T>(items: T[], key: (t: T) => string) => items.reduce<Record<string, number>>((acc, t) => ((acc[key(t)] = (acc[key(t)] ?? 0) + 1), acc), {});

// ---------------------------------------------------------------------------
// CSRs with their keys kept, to check that every certificate certifies the key
// of the request it answers (no answers mixed up between concurrent requests).
// Encoded as bench/http-load.ts's makeCsrs() does (as `openssl req` would).

interface Device {
  cn: string;
  csr: string;
  publicKey: KeyObject;
}

function device(cn: string, key = newP256Key()): Device {
  return { cn, csr: buildCsr({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) }), publicKey: createPublicKey(key) };
}
const devices = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => device(`${prefix}-${i}`));

/** Certificates issued by this file (201 answers): each is one `issued` entry of the issuance log. */
let created = 0;
const issue = (csr: string) => async () => {
  const sent = await call('POST', '/certificates', { headers: { 'Content-Type': 'application/pkcs10' }, body: csr });
  if (sent.answer.status === 201) created++;
  return sent;
};

/** The PEM blocks of a bundle, normalized. */
const pemBlocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => b.replace(/\s+/g, '')) ?? [];
const hexSerial = (s: string) => s.toLowerCase().replace(/^0+/, '');

/**
 * Checks a 201/200 issuance answer against the device that asked: the
 * certificate certifies its key and CN, carries the serial the answer names,
 * Location names that serial, and the chain is the certificate then the
 * issuing CA. Returns what is wrong (empty when nothing).
 */
function issuanceProblems(answer: Answer, d: Device): string[] {
  const j = answer.json;
  const out: string[] = [];
  try {
    const cert = new X509Certificate(j.certificatePem);
    if (!cert.publicKey.equals(d.publicKey)) out.push(`${d.cn}: the certificate certifies another key`);
    const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
    if (cn !== d.cn) out.push(`${d.cn}: certificate subject ${JSON.stringify(cert.subject)}`);
    if (hexSerial(cert.serialNumber) !== hexSerial(j.serialNumber)) out.push(`${d.cn}: certificate serial ${cert.serialNumber} ≠ answer ${j.serialNumber}`);
  } catch (e) {
    out.push(`${d.cn}: certificatePem does not parse: ${(e as Error).message}`);
  }
  if (j.subject?.CN !== d.cn) out.push(`${d.cn}: answer subject.CN ${j.subject?.CN}`);
  if (answer.headers.location !== `/certificates/${j.serialNumber}`) out.push(`${d.cn}: Location ${answer.headers.location}`);
  const chain = pemBlocks(j.certificateChainPem ?? '');
  const expected = [...pemBlocks(j.certificatePem ?? ''), ...pemBlocks(j.caCertificatePem ?? '')];
  if (chain.length !== 2 || chain.join() !== expected.join()) out.push(`${d.cn}: certificateChainPem is not the certificate then the issuing CA`);
  return out;
}

// ---------------------------------------------------------------------------
// Verification with OpenSSL (batched) and GnuTLS certtool (one chain a run).

/**
 * `openssl verify -x509_strict -purpose sslclient` on many device certificates
 * at once (chunks of 100 files), each against the root with the given issuing
 * CA as the untrusted intermediate. Returns the lines that are not "<file>: OK"
 * and the files that got no OK line.
 */
function opensslVerifyAll(dir: string, rootPem: string, issuingPem: string, certs: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  const [root, issuing] = [join(dir, 'root.pem'), join(dir, 'issuing.pem')];
  writeFileSync(root, rootPem);
  writeFileSync(issuing, issuingPem);
  const files = certs.map((pem, i) => {
    const f = join(dir, `device-${String(i).padStart(4, '0')}.pem`);
    writeFileSync(f, pem);
    return f;
  });
  const problems: string[] = [];
  for (let i = 0; i < files.length; i += 100) {
    const chunk = files.slice(i, i + 100);
    const run = spawnSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', root, '-untrusted', issuing, ...chunk], {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    if (run.status !== 0) problems.push(`openssl verify exited ${run.status}: ${run.stderr.slice(0, 2000)}`);
    const lines = run.stdout.split('\n').filter((l) => l.trim() !== '');
    const ok = new Set(lines.filter((l) => / OK$/.test(l)).map((l) => l.replace(/: OK$/, '')));
    problems.push(...lines.filter((l) => !/: OK$/.test(l)));
    problems.push(...chunk.filter((f) => !ok.has(f)).map((f) => `${f}: no OK line`));
    if (lines.length !== chunk.length) problems.push(`openssl verify printed ${lines.length} lines for ${chunk.length} files`);
  }
  return problems;
}

const execFileAsync = (file: string, args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

/** What certtool prints last when the whole chain verified against the trusted root. */
const CERTTOOL_VERIFIED = /^Chain verification output: Verified\. The certificate is trusted\.\s*$/m;

/**
 * GnuTLS: `certtool --verify --load-ca-certificate root.pem --infile chain.pem`
 * (chain = device certificate then issuing CA, the bundle the device presents),
 * for the TLS client purpose and at the "medium" security profile, 4 at a time.
 * A chain verified when certtool exits 0, its last verdict says "Verified. The
 * certificate is trusted." and no certificate along the way says "Not verified".
 * Returns what failed.
 */
async function certtoolVerifyAll(dir: string, rootPem: string, chains: string[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const root = join(dir, 'root.pem');
  writeFileSync(root, rootPem);
  const files = chains.map((pem, i) => {
    const f = join(dir, `chain-${String(i).padStart(4, '0')}.pem`);
    writeFileSync(f, pem);
    return f;
  });
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const args = ['--verify', '--verify-purpose', CLIENT_AUTH_OID, '--verify-profile', 'medium', '--load-ca-certificate', root, '--infile', files[i]!];
      const { code, stdout, stderr } = await execFileAsync('certtool', args);
      // One "Output: Verified" per certificate checked: the device certificate and the issuing CA.
      const verdicts = stdout.match(/^\s*Output: .*$/gm) ?? [];
      if (code !== 0 || !CERTTOOL_VERIFIED.test(stdout) || /Not verified/.test(stdout) || verdicts.length !== 2 || !verdicts.every((v) => /Output: Verified\./.test(v))) {
        problems.push(`certtool ${args.join(' ')} exited ${code}:\n${stdout.slice(-1500)}${stderr.slice(-500)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return problems;
}

/** Issues `count` distinct certificates at `concurrency` to start the workers serverless-offline runs side by side. */
async function warmUp(prefix: string, count: number, concurrency: number): Promise<Answer[]> {
  const t0 = performance.now();
  const { answers, result } = await load(devices(count, prefix).map((d) => issue(d.csr)), concurrency);
  const all = expectAllConform(answers, result);
  expect(countBy(all, (a) => String(a.status))).toEqual({ 201: count });
  timings.push(`warm-up ${prefix}: ${describeLoad(result)} (${ms(t0)})`);
  return all;
}

/** The CA records (POST /ca/rotate when not due rotates nothing and lists every CA with its fingerprint). */
async function caReport(): Promise<Record<string, any>> {
  const report = await request('POST', '/ca/rotate', json({}));
  expect(report.json.rotated).toBe(false);
  return report.json;
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

/** Answers whose issuing CA or root is not the CA record they name (by SHA-256 fingerprint). */
function caMismatches(answers: Answer[], report: Record<string, any>): string[] {
  const cas = new Map<string, { role: string; fingerprintSha256: string }>(report.cas.map((c: { id: string }) => [c.id, c]));
  const root = cas.get(report.rootCaId);
  return answers.flatMap((a) => {
    const ca = cas.get(a.json.issuingCaId);
    const out: string[] = [];
    if (ca?.role !== 'issuing' || fingerprint(a.json.caCertificatePem) !== ca.fingerprintSha256) out.push(`${a.json.serialNumber}: caCertificatePem is not ${a.json.issuingCaId}`);
    if (fingerprint(a.json.rootCertificatePem) !== root?.fingerprintSha256) out.push(`${a.json.serialNumber}: rootCertificatePem is not ${report.rootCaId}`);
    return out;
  });
}

const groupByCa = (answers: Answer[]) => {
  const groups = new Map<string, Answer[]>();
  for (const a of answers) groups.set(a.json.issuingCaId, [...(groups.get(a.json.issuingCaId) ?? []), a]);
  return groups;
};

// ---------------------------------------------------------------------------
// The issuance log.

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

/** How many certificates GET /certificates?<filter> lists, every page followed. */
async function countCertificates(filter: string): Promise<number> {
  let count = 0;
  for (let next: string | undefined, first = true; first || next; first = false) {
    const page = await request('GET', `/certificates?${filter}&limit=1000${next ? `&next=${next}` : ''}`);
    expect(page.status).toBe(200);
    count += page.json.items.length;
    next = page.json.next;
  }
  return count;
}

/** A signed checkpoint: the note, and its tree size and root hash as its 2nd and 3rd lines say. */
interface SignedCheckpoint {
  note: string;
  treeSize: number;
  root: Buffer;
}

/**
 * Checks a GET /log/proof answer for the certificate of an issuance answer,
 * with the tests' own RFC 9162 code: the proof is against `checkpoint`, the
 * leaf hash is SHA-256(0x00 || entry), the audit path leads from it to the
 * checkpoint's root, and the entry is exactly (keys in their order, as
 * src/log/entries.ts documents) the `issued` entry of that certificate: its
 * serial, the SHA-256 of its DER computed here, its CA, CN and station (locally
 * "local"), issued while it was being issued. Returns what is wrong (empty when nothing).
 */
function logProofProblems(proof: Record<string, any>, answer: Record<string, any>, cn: string, checkpoint: SignedCheckpoint, issuedBetween: [number, number]): string[] {
  const serial = answer.serialNumber as string;
  const out: string[] = [];
  if (proof.treeSize !== checkpoint.treeSize || proof.checkpoint !== checkpoint.note) out.push(`${serial}: a proof against the tree of ${proof.treeSize}, not the checkpoint of ${checkpoint.treeSize}`);
  if ('revocation' in proof) out.push(`${serial}: a revocation entry`);
  const entry = Buffer.from(proof.entry, 'base64');
  if (entry.toString('base64') !== proof.entry) out.push(`${serial}: the entry is not canonical base64`);
  const leaf = rfcLeafHash(entry);
  if (leaf.toString('hex') !== proof.leafHash) out.push(`${serial}: leafHash ${proof.leafHash}, but SHA-256(0x00 || entry) is ${leaf.toString('hex')}`);
  const path = (proof.auditPath as string[]).map((h) => Buffer.from(h, 'hex'));
  if (!rfcVerifyInclusion(proof.leafIndex, checkpoint.treeSize, leaf, path, checkpoint.root)) out.push(`${serial}: the audit path does not prove leaf ${proof.leafIndex} in the tree of ${checkpoint.treeSize}`);
  const text = entry.toString('utf8');
  let logged: Record<string, unknown> = {};
  try {
    logged = JSON.parse(text) as Record<string, unknown>;
  } catch {
    out.push(`${serial}: the entry is not JSON: ${text.slice(0, 200)}`);
  }
  const certificateSha256 = sha256Hex(new X509Certificate(answer.certificatePem).raw);
  if (certificateSha256 !== answer.certificateId) out.push(`${serial}: certificateId ${answer.certificateId}, but the certificate's SHA-256 is ${certificateSha256}`);
  const expected = JSON.stringify({ v: 1, type: 'issued', serialNumber: serial, certificateSha256, issuingCaId: answer.issuingCaId, commonName: cn, stationId: 'local', issuedAt: logged.issuedAt });
  if (text !== expected) out.push(`${serial}: the entry is ${text}, expected ${expected}`);
  const at = typeof logged.issuedAt === 'string' ? Date.parse(logged.issuedAt) : NaN;
  if (!(at >= issuedBetween[0] && at <= issuedBetween[1] && new Date(at).toISOString() === logged.issuedAt)) {
    out.push(`${serial}: issuedAt ${String(logged.issuedAt)} is not an ISO time between ${new Date(issuedBetween[0]).toISOString()} and ${new Date(issuedBetween[1]).toISOString()}`);
  }
  return out;
}

/** tools/verify-log-proof.mjs, the standalone verifier an auditor runs. */
const verifyLogProof = (args: string[]) => spawnSync(process.execPath, ['tools/verify-log-proof.mjs', ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });

// ---------------------------------------------------------------------------

describe('factory-ca under concurrent load (one local stack)', () => {
  // First, while few workers run: the burst after the rotation then surely starts new ones.
  describe('an issuing CA rotation during load', () => {
    it('300 issuances at concurrency 16 with POST /ca/rotate {"force":true} after 100, then a burst at concurrency 48: none fails, both CAs issue, all verify', async () => {
      const before = await request('GET', '/ca');
      await warmUp('stress-warm16', 32, 16);
      // Start the rotation function's worker (not due: rotates nothing), so the forced rotation is not a cold start.
      const notDue = await request('POST', '/ca/rotate', json({}));
      expect(notDue.json).toMatchObject({ rotated: false, activeIssuingCaId: before.json.id });

      // Phase 1: 300 at concurrency 16, the rotation once a third of them have completed.
      const batch = devices(300, 'stress-rotation');
      let rotation: Promise<{ answer: Answer; ms: number }> | undefined;
      let completed = 0;
      let completedWhenRotated: number | undefined;
      const t0 = performance.now();
      const phase1 = await load(batch.map((d) => issue(d.csr)), 16, () => {
        completed++;
        if (completed === 100) {
          const r0 = performance.now();
          rotation = request('POST', '/ca/rotate', json({ force: true })).then((answer) => {
            completedWhenRotated = completed;
            return { answer, ms: Math.round(performance.now() - r0) };
          });
        }
      });
      expect(rotation).toBeDefined();
      const rotated = await rotation!;
      const first = expectAllConform(phase1.answers, phase1.result);
      timings.push(
        `rotation phase 1: ${describeLoad(phase1.result)}; POST /ca/rotate took ${rotated.ms} ms, answered when ${completedWhenRotated} of 300 had completed; ` +
          `by issuing CA ${JSON.stringify(countBy(first, (a) => a.json.issuingCaId))}`,
      );

      // The rotation: issuing-n+1 active, issuing-n retired, the same root.
      expect(rotated.answer.status).toBe(200);
      expect(rotated.answer.json).toMatchObject({ rotated: true, previousIssuingCaId: before.json.id });
      const newId = rotated.answer.json.activeIssuingCaId as string;
      expect(newId).not.toBe(before.json.id);
      const cas = new Map<string, { role: string; status: string; fingerprintSha256: string }>(rotated.answer.json.cas.map((c: { id: string }) => [c.id, c]));
      expect(cas.get(before.json.id)).toMatchObject({ role: 'issuing', status: 'RETIRED' });
      expect(cas.get(newId)).toMatchObject({ role: 'issuing', status: 'ACTIVE' });
      expect(cas.get(rotated.answer.json.rootCaId)).toMatchObject({ role: 'root', status: 'ACTIVE' });

      // Phase 2: warm workers cache the issuing CA for CA_CACHE_TTL_SECONDS. The stack was started with
      // CA_CACHE_TTL_SECONDS=1, but serverless-offline hands a function only the AWS_* variables of its
      // own environment plus serverless.yml's `environment`, which does not forward it: the functions
      // use the default 300 s. A warm worker signs its first certificate after the rotation with the
      // old CA, finds the pointer moved when it reads it again after recording, sets that certificate
      // aside and answers with one of the new CA; a worker started after the rotation reads the new CA
      // at once. A burst at three times the concurrency so far (16 workers): none may fail.
      const burst = devices(96, 'stress-rotation-burst');
      const phase2 = await load(burst.map((d) => issue(d.csr)), 48);
      const second = expectAllConform(phase2.answers, phase2.result);
      timings.push(`rotation phase 2 (burst): ${describeLoad(phase2.result)}; by issuing CA ${JSON.stringify(countBy(second, (a) => a.json.issuingCaId))}`);

      const all = [...first, ...second];
      const asked = [...batch, ...burst];
      expect(countBy(all, (a) => String(a.status))).toEqual({ 201: all.length });
      expect(all.flatMap((a, i) => issuanceProblems(a, asked[i]!))).toEqual([]);
      expect(new Set(all.map((a) => a.json.serialNumber)).size).toBe(all.length);
      const byCa = countBy(all, (a) => a.json.issuingCaId);
      expect(Object.keys(byCa).sort()).toEqual([before.json.id, newId].sort());
      expect(countBy(first, (a) => a.json.issuingCaId)[before.json.id]).toBeGreaterThanOrEqual(1);
      expect(countBy(second, (a) => a.json.issuingCaId)[newId]).toBeGreaterThanOrEqual(1);

      // Each answer's issuing CA is the CA record it names (fingerprint in the rotation report), the root is unchanged.
      expect(caMismatches(all, rotated.answer.json)).toEqual([]);
      expect(all.filter((a) => pemBlocks(a.json.rootCertificatePem).join() !== pemBlocks(before.json.rootCertificatePem).join()).map((a) => a.json.serialNumber)).toEqual([]);
      expect(pemBlocks(all.find((a) => a.json.issuingCaId === before.json.id)!.json.caCertificatePem)).toEqual(pemBlocks(before.json.certificatePem));

      // Each verifies against the unchanged root with its own issuing CA (the answer's caCertificatePem).
      const t1 = performance.now();
      for (const id of [before.json.id, newId]) {
        const mine = all.filter((a) => a.json.issuingCaId === id);
        expect(opensslVerifyAll(join(work, `rotation-openssl-${id}`), before.json.rootCertificatePem, mine[0]!.json.caCertificatePem, mine.map((a) => a.json.certificatePem))).toEqual([]);
      }
      expect(await certtoolVerifyAll(join(work, 'rotation-certtool'), before.json.rootCertificatePem, all.map((a) => a.json.certificateChainPem))).toEqual([]);
      // …and not with the other CA as its issuer.
      const oldOne = all.find((a) => a.json.issuingCaId === before.json.id)!;
      const newOne = all.find((a) => a.json.issuingCaId === newId)!;
      expect(opensslVerifyAll(join(work, 'rotation-crossed'), before.json.rootCertificatePem, newOne.json.caCertificatePem, [oldOne.json.certificatePem])).not.toEqual([]);
      timings.push(`rotation: verify ${all.length} with openssl and certtool ${ms(t1)}; whole test ${ms(t0)}`);
    }, 180_000);
  });

  describe('500 distinct issuances at concurrency 32', () => {
    const batch = devices(500, 'stress-c32');
    let issued: Answer[] = [];
    let warm: Answer[] = [];
    let ca: Answer;
    /** When the 500 were issued: wall clock (ms since the epoch) before the first was sent and after the last answered. */
    let issuedBetween: [number, number] = [0, 0];
    let issuedDone = 0;

    it('answers 500 × 201 with 500 distinct serials, each certificate for the key and CN that asked', async () => {
      ca = await request('GET', '/ca');
      expect(ca.status).toBe(200);
      warm = await warmUp('stress-warm32', 64, 32);

      const t0 = performance.now();
      const from = Date.now();
      const { answers, result } = await load(batch.map((d) => issue(d.csr)), 32);
      issuedBetween = [from, Date.now()];
      issuedDone = performance.now();
      timings.push(`issue ${describeLoad(result)}`);
      issued = expectAllConform(answers, result);
      expect(countBy(issued, (a) => String(a.status))).toEqual({ 201: 500 });
      expect(new Set(issued.map((a) => a.json.serialNumber)).size).toBe(500);
      expect(new Set(issued.map((a) => a.json.certificateId)).size).toBe(500);
      expect(issued.flatMap((a, i) => issuanceProblems(a, batch[i]!))).toEqual([]);
      // Workers started before the rotation test's rotation still issue with the old CA (cached for
      // 300 s), the others with the new one: each answer's CA is the CA record it names, and the root is the one GET /ca serves.
      expect(caMismatches(issued, await caReport())).toEqual([]);
      expect(new Set(issued.map((a) => a.json.rootCertificatePem)).size).toBe(1);
      expect(pemBlocks(issued[0]!.json.rootCertificatePem)).toEqual(pemBlocks(ca.json.rootCertificatePem));
      timings.push(`issue 500: by issuing CA ${JSON.stringify(countBy(issued, (a) => a.json.issuingCaId))}`);
      timings.push(`issue 500 with checks ${ms(t0)}`);
    }, 180_000);

    it('finds every one of the 500 by GET /certificates/{serial} (concurrency 16)', async () => {
      expect(issued).toHaveLength(500);
      // Warm up the reading function's workers at this concurrency first.
      const warmGet = await load(warm.map((a) => () => call('GET', `/certificates/${a.json.serialNumber}`)), 16);
      expect(countBy(expectAllConform(warmGet.answers, warmGet.result), (a) => String(a.status))).toEqual({ 200: warm.length });
      timings.push(`warm-up get: ${describeLoad(warmGet.result)}`);
      const t0 = performance.now();
      const { answers, result } = await load(
        issued.map((a) => () => call('GET', `/certificates/${a.json.serialNumber}`)),
        16,
      );
      timings.push(`get ${describeLoad(result)}`);
      const records = expectAllConform(answers, result);
      expect(countBy(records, (a) => String(a.status))).toEqual({ 200: 500 });
      const mismatches = records.flatMap((r, i) => {
        const want = issued[i]!.json;
        const got = r.json;
        return got.serialNumber === want.serialNumber &&
          got.certificatePem === want.certificatePem &&
          got.certificateId === want.certificateId &&
          got.status === 'ISSUED' &&
          got.issuingCaId === want.issuingCaId &&
          got.subject?.CN === batch[i]!.cn
          ? []
          : [`${want.serialNumber}: ${JSON.stringify({ ...got, certificatePem: undefined, certificateChainPem: undefined, caCertificatePem: undefined, rootCertificatePem: undefined, provisioning: undefined })}`];
      });
      expect(mismatches).toEqual([]);
      expect(new Set(records.map((r) => r.json.serialNumber)).size).toBe(500);
      timings.push(`get 500 with checks ${ms(t0)}`);
    }, 120_000);

    it('every certificate verifies with openssl verify -x509_strict -purpose sslclient against the root and its issuing CA', () => {
      expect(issued).toHaveLength(500);
      const t0 = performance.now();
      for (const [id, mine] of groupByCa(issued)) {
        const problems = opensslVerifyAll(join(work, `c32-openssl-${id}`), mine[0]!.json.rootCertificatePem, mine[0]!.json.caCertificatePem, mine.map((a) => a.json.certificatePem));
        expect(problems).toEqual([]);
      }
      timings.push(`openssl verify 500 (runs of up to 100) ${ms(t0)}`);
    }, 120_000);

    it('every chain (certificate + issuing CA) verifies with GnuTLS certtool --verify against the root', async () => {
      expect(issued).toHaveLength(500);
      const root = issued[0]!.json.rootCertificatePem;
      const chains = issued.map((a) => a.json.certificateChainPem as string);
      // A sample first (a quick, readable failure), then all of them.
      let t0 = performance.now();
      expect(await certtoolVerifyAll(join(work, 'c32-certtool-sample'), root, chains.filter((_, i) => i % 25 === 0))).toEqual([]);
      timings.push(`certtool verify sample of 20 ${ms(t0)}`);
      t0 = performance.now();
      expect(await certtoolVerifyAll(join(work, 'c32-certtool'), root, chains)).toEqual([]);
      timings.push(`certtool verify all 500 ${ms(t0)}`);

      // And certtool does refuse what it should: a chain checked against the wrong trust anchor.
      const wrongRoot = join(work, 'wrong-root.pem');
      writeFileSync(wrongRoot, issued[1]!.json.certificatePem);
      const refused = await execFileAsync('certtool', ['--verify', '--load-ca-certificate', wrongRoot, '--infile', join(work, 'c32-certtool', 'chain-0000.pem')]);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).not.toMatch(CERTTOOL_VERIFIED);
      expect(refused.stdout).toMatch(/Chain verification output: Not verified/);
    }, 120_000);

    it('logs every one of the 500: each proof (GET /log/proof, concurrency 8) verifies by RFC 9162 against one checkpoint the local log key signed, for an issued entry of exactly that certificate', async () => {
      expect(issued).toHaveLength(500);
      const t0 = performance.now();
      // One `issued` entry per certificate record: the 201s of this file, and any certificate the
      // rotation set aside (SUPERSEDED: signed in the race, recorded, never delivered). Nothing else is logged here.
      const superseded = await countCertificates('status=SUPERSEDED');
      const treeSize = created + superseded;
      // The local sequencer runs every 5 s and appends up to 5,000 entries a run: one run after the last issuance covers them all.
      const latest = () => request('GET', '/log/checkpoint', { headers: { Accept: 'application/json' } });
      let cp = await latest();
      const polledAt = ms(issuedDone);
      for (const deadline = Date.now() + 60_000; (cp.status !== 200 || cp.json.treeSize < treeSize) && Date.now() < deadline; cp = await latest()) await sleep(250);
      timings.push(`log: checkpoint of ${cp.json.treeSize} entries (${created} issued, ${superseded} superseded), first polled ${polledAt} after the 500 were issued; waited ${ms(t0)} here`);
      expect(cp.status).toBe(200);
      expect(cp.json.treeSize).toBe(treeSize);

      // The note's lines: origin, tree size, base64 root hash, as the JSON says; the same note as text/plain (the default).
      const note = cp.json.checkpoint as string;
      const [origin, size, rootBase64] = note.split('\n');
      const checkpoint: SignedCheckpoint = { note, treeSize, root: Buffer.from(rootBase64 ?? '', 'base64') };
      expect({ origin, size, root: checkpoint.root.toString('hex'), rootBase64 }).toEqual({ origin: 'factory-ca/local', size: String(treeSize), root: cp.json.rootHash, rootBase64: checkpoint.root.toString('base64') });
      const asText = await fetch(`${stack.baseUrl}/log/checkpoint`);
      expect([asText.status, asText.headers.get('content-type'), await asText.text()]).toEqual([200, 'text/plain; charset=utf-8', note]);

      // Concurrency 8, not 16: each new serverless-offline worker costs seconds of CPU here, and dynalite bounds the throughput anyway.
      const t1 = performance.now();
      const { answers, result } = await load(issued.map((a) => () => call('GET', `/log/proof/${a.json.serialNumber}`)), 8);
      timings.push(`log proofs ${describeLoad(result)}`);
      const proofs = expectAllConform(answers, result);
      expect(countBy(proofs, (p) => String(p.status))).toEqual({ 200: 500 });
      expect(proofs.flatMap((p, i) => logProofProblems(p.json, issued[i]!.json, batch[i]!.cn, checkpoint, issuedBetween))).toEqual([]);
      expect(new Set(proofs.map((p) => p.json.leafIndex)).size).toBe(500);

      // The checkpoint's signature, with the local log key, and all 500 proofs again, by the standalone verifier.
      const keyFile = join(work, 'log-key.pem');
      const reportFile = join(work, 'log-report.json');
      writeFileSync(keyFile, localLogPublicKeyPem(stateDir));
      writeFileSync(reportFile, JSON.stringify({ version: 1, origin: 'factory-ca/local', checkpoint: note, entries: proofs.map(({ json: p }) => ({ leafIndex: p.leafIndex, entry: p.entry, auditPath: p.auditPath })) }));
      const verified = verifyLogProof(['--key', keyFile, '--report', reportFile]);
      expect({ status: verified.status, stderr: verified.stderr }).toEqual({ status: 0, stderr: '' });
      expect(verified.stdout).toContain(`OK checkpoint: origin factory-ca/local, tree size ${treeSize}, root ${cp.json.rootHash}\n`);
      expect(verified.stdout).toMatch(/^ {3}signed by factory-ca\/local, key ID [0-9a-f]{8} \(ECDSA P-256, type 0x02\)$/m);
      expect(verified.stdout.match(/^OK entry \d+: leaf \d+ of \d+, leaf hash [0-9a-f]{64}$/gm)).toHaveLength(500);
      expect(verified.stdout).toContain(`OK all 500 entries are in the log at tree size ${treeSize}\n`);
      // …and it does refuse that signature on another tree size.
      const forged = join(work, 'log-forged.txt');
      writeFileSync(forged, note.replace(`\n${treeSize}\n`, `\n${treeSize - 1}\n`));
      const refused = verifyLogProof(['--key', keyFile, '--checkpoint', forged]);
      expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 1, stderr: expect.stringMatching(/^FAILED the signature by factory-ca\/local \(key ID [0-9a-f]{8}\) does not verify\n$/) });
      timings.push(`log: proofs of 500 with checks ${ms(t1)}; whole log test ${ms(t0)}`);
    }, 120_000);
  });

  describe('at concurrency 50', () => {
    it('50 keys racing for one common name: exactly one 201, 49 × 409 DUPLICATE_COMMON_NAME naming its serial, one record', async () => {
      await warmUp('stress-warm50', 100, 50);
      const cn = 'stress-one-cn';
      const racers = Array.from({ length: 50 }, () => device(cn));
      const t0 = performance.now();
      const { answers, result } = await load(racers.map((d) => issue(d.csr)), 50);
      timings.push(`same CN, 50 keys: ${describeLoad(result)}`);
      const all = expectAllConform(answers, result);
      expect(countBy(all, (a) => `${a.status} ${a.json.error?.code ?? ''}`.trim())).toEqual({ 201: 1, '409 DUPLICATE_COMMON_NAME': 49 });
      const winnerIndex = all.findIndex((a) => a.status === 201);
      const winner = all[winnerIndex]!.json;
      expect(issuanceProblems(all[winnerIndex]!, racers[winnerIndex]!)).toEqual([]);
      expect(opensslVerifyAll(join(work, 'one-cn'), winner.rootCertificatePem, winner.caCertificatePem, [winner.certificatePem])).toEqual([]);
      expect(new Set(all.filter((a) => a.status === 409).map((a) => a.json.error.details?.[0]?.serialNumber))).toEqual(new Set([winner.serialNumber]));

      const list = await request('GET', `/certificates?commonName=${cn}`);
      expect(list.status).toBe(200);
      expect(list.json.items.map((i: { serialNumber: string; certificatePem: string }) => [i.serialNumber, i.certificatePem])).toEqual([[winner.serialNumber, winner.certificatePem]]);
      timings.push(`same CN with checks ${ms(t0)}`);
    }, 180_000);

    it('one key racing under 50 common names (a cloned device): exactly one 201, 49 × 409 KEY_IN_USE naming its serial, one record', async () => {
      const key = newP256Key();
      const clones = Array.from({ length: 50 }, (_, i) => device(`stress-clone-${i}`, key));
      const t0 = performance.now();
      const { answers, result } = await load(clones.map((d) => issue(d.csr)), 50);
      timings.push(`one key, 50 CNs: ${describeLoad(result)}`);
      const all = expectAllConform(answers, result);
      expect(countBy(all, (a) => `${a.status} ${a.json.error?.code ?? ''}`.trim())).toEqual({ 201: 1, '409 KEY_IN_USE': 49 });
      const winner = all.find((a) => a.status === 201)!.json;
      expect(new Set(all.filter((a) => a.status === 409).map((a) => a.json.error.details?.[0]?.serialNumber))).toEqual(new Set([winner.serialNumber]));
      const lists = await Promise.all(clones.map((d) => request('GET', `/certificates?commonName=${d.cn}`)));
      expect(lists.flatMap((l) => l.json.items).map((i: { serialNumber: string }) => i.serialNumber)).toEqual([winner.serialNumber]);
      timings.push(`one key, 50 CNs, with checks ${ms(t0)}`);
    }, 180_000);

    it('one CSR sent 50 times at once: one 201 and 49 × 200, all the same certificate, one record', async () => {
      const d = device('stress-one-csr');
      const t0 = performance.now();
      const { answers, result } = await load(Array.from({ length: 50 }, () => issue(d.csr)), 50);
      timings.push(`same CSR × 50: ${describeLoad(result)}`);
      const all = expectAllConform(answers, result);
      // The API waits up to IN_FLIGHT_WAIT_MS (5 s) for an identical CSR in flight: no 409 ISSUANCE_IN_PROGRESS expected.
      expect(countBy(all, (a) => `${a.status} ${a.json.error?.code ?? ''}`.trim())).toEqual({ 201: 1, 200: 49 });
      expect(new Set(all.map((a) => a.json.serialNumber)).size).toBe(1);
      expect(new Set(all.map((a) => a.json.certificatePem)).size).toBe(1);
      expect(new Set(all.map((a) => a.json.certificateId)).size).toBe(1);
      expect(all.flatMap((a) => issuanceProblems(a, d))).toEqual([]);
      expect(opensslVerifyAll(join(work, 'one-csr'), all[0]!.json.rootCertificatePem, all[0]!.json.caCertificatePem, [all[0]!.json.certificatePem])).toEqual([]);

      const list = await request('GET', `/certificates?commonName=${d.cn}`);
      expect(list.json.items.map((i: { serialNumber: string }) => i.serialNumber)).toEqual([all[0]!.json.serialNumber]);
      timings.push(`same CSR with checks ${ms(t0)}`);
    }, 120_000);
  });
});
