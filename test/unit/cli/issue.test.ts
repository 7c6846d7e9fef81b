import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';
import { captureIo, deviceCsrDer, deviceCsrPem } from './cli-io.js';
import { startFakeApi, type FakeApi, type FakeApiOptions } from './fake-api.js';

const CREDS = { accessKeyId: 'AKIDSTATION0001', secretAccessKey: 'station-secret' };
const REGION = 'us-east-1';

let dir: string;
let api: FakeApi | undefined;
let sleeps: number[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-issue-'));
  sleeps = [];
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function serve(options: Omit<FakeApiOptions, 'sigv4'> = {}): Promise<FakeApi> {
  api = await startFakeApi({ sigv4: { ...CREDS, region: REGION }, ...options });
  return api;
}

async function cli(argv: string[], options: { secret?: string; signal?: AbortSignal; tty?: boolean } = {}) {
  const io = captureIo({}, options.tty);
  const credentials = () => async () => ({ accessKeyId: CREDS.accessKeyId, secretAccessKey: options.secret ?? CREDS.secretAccessKey });
  const code = await runCli([...argv, '--sigv4', '--region', REGION], {
    io,
    credentials,
    retry: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, out: io.stdoutText(), err: io.stderrText() };
}

/** `n` CSR files named device-0001.csr … in `csrDir`; returns their CNs. */
function csrFolder(csrDir: string, n: number, format: 'pem' | 'der' = 'pem'): string[] {
  mkdirSync(csrDir, { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const cn = `device-${String(i + 1).padStart(4, '0')}`;
    writeFileSync(join(csrDir, `${cn}.${format === 'pem' ? 'csr' : 'der'}`), format === 'pem' ? deviceCsrPem(cn) : deviceCsrDer(cn));
    return cn;
  });
}

const summaryRows = (out: string) => {
  const [head, ...rows] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v]))) as Record<string, string>[];
};

function expectValidFiles(folder: string, fake: FakeApi, cn: string) {
  const device = new X509Certificate(readFileSync(join(folder, 'device.pem')));
  const issuing = new X509Certificate(readFileSync(join(folder, 'issuing.pem')));
  expect(device.subject).toContain(`CN=${cn}`);
  expect(device.verify(issuing.publicKey)).toBe(true);
  expect(readFileSync(join(folder, 'root.pem'), 'utf8')).toBe(fake.rootPem);
  expect(readFileSync(join(folder, 'deviceCertAndCACert.crt'), 'utf8')).toBe(readFileSync(join(folder, 'device.pem'), 'utf8') + fake.issuingPem);
}

describe('factory-ca issue --csr (one CSR, signed)', () => {
  it('sends a PEM CSR as application/pkcs10 text, writes the four files beside it, prints serial, CN, notAfter', async () => {
    const fake = await serve();
    const pem = deviceCsrPem('device-0001');
    writeFileSync(join(dir, 'device.csr'), pem);
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'device.csr')]);
    expect(r.code).toBe(0);
    const req = fake.seen[0]!;
    expect(req.signatureValid).toBe(true);
    expect(req.headers['content-type']).toBe('application/pkcs10');
    expect(req.body.toString()).toBe(pem);
    expect(r.out).toContain('issued (HTTP 201)');
    expect(r.out).toMatch(new RegExp(`serial +${fake.records[0]!.serialNumber}`));
    expect(r.out).toMatch(/CN +device-0001/);
    expect(r.out).toMatch(/notAfter +\d{4}-\d\d-\d\dT/);
    expectValidFiles(dir, fake, 'device-0001');

    const again = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'device.csr')]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('already issued for this CSR, the same certificate (HTTP 200)');
    expect([...fake.issuedPerCsr.values()]).toEqual([1]);
  });

  it('sends a DER CSR as application/pkcs10 binary, to --out', async () => {
    const fake = await serve();
    const der = deviceCsrDer('device-0002');
    writeFileSync(join(dir, 'device.der'), der);
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'device.der'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(0);
    expect(fake.seen[0]!.headers['content-type']).toBe('application/pkcs10');
    expect(Buffer.compare(fake.seen[0]!.body, Buffer.from(der))).toBe(0);
    expectValidFiles(join(dir, 'out'), fake, 'device-0002');
  });

  it('refused (4xx): the error code, message and details, exit 2', async () => {
    const fake = await serve();
    writeFileSync(join(dir, 'a.csr'), deviceCsrPem('device-0003'));
    writeFileSync(join(dir, 'b.csr'), deviceCsrPem('device-0003'));
    expect((await cli(['issue', '--url', fake.url, '--csr', join(dir, 'a.csr')])).code).toBe(0);
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'b.csr'), '--out', join(dir, 'b')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('refused: DUPLICATE_COMMON_NAME (HTTP 409): Common name device-0003 already has an issued certificate');
    expect(r.err).toContain(`- CN: already issued (serialNumber=${fake.records[0]!.serialNumber})`);
    expect(existsSync(join(dir, 'b'))).toBe(false);
  });

  it('a wrong secret gets 403 ACCESS_DENIED: exit 2', async () => {
    const fake = await serve();
    writeFileSync(join(dir, 'd.csr'), deviceCsrPem('device-0004'));
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'd.csr')], { secret: 'wrong' });
    expect(fake.seen[0]!.signatureValid).toBe(false);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ACCESS_DENIED (HTTP 403)');
  });

  it('503 with Retry-After is retried after that long; still 503 after 5 attempts: exit 3', async () => {
    const fake = await serve({ plan: () => ({ status: 503, headers: { 'retry-after': '7' } }) });
    writeFileSync(join(dir, 'd.csr'), deviceCsrPem('device-0005'));
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'd.csr')]);
    expect(r.code).toBe(3);
    expect(fake.seen).toHaveLength(5);
    expect(sleeps).toEqual([7000, 7000, 7000, 7000]);
    expect(r.err).toContain('SIGNER_UNAVAILABLE (HTTP 503)');
    expect(r.err).toContain('run the same command again later');
  });

  it('429 without Retry-After backs off exponentially, then succeeds', async () => {
    const fake = await serve({ plan: (_req, n) => (n <= 3 ? { status: 429 } : undefined) });
    writeFileSync(join(dir, 'd.csr'), deviceCsrPem('device-0006'));
    const r = await cli(['issue', '--url', fake.url, '--csr', join(dir, 'd.csr')]);
    expect(r.code).toBe(0);
    // base 500 ms doubling, jitter between half and all of it (random() = 0.5 here)
    expect(sleeps).toEqual([375, 750, 1500]);
    expect(r.err).toContain('retrying in 0.4 s (attempt 2 of 5): THROTTLED');
  });
});

describe('factory-ca issue --csr-dir (a lot)', () => {
  it('issues every CSR into its own folder, retrying 503 and 429, and writes the summary', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    const cns = csrFolder(csrs, 12);
    writeFileSync(join(csrs, 'notes.txt'), 'not a CSR');
    writeFileSync(join(csrs, 'device.key'), 'not a CSR either');
    let refusedOnce = false;
    const fake = await serve({
      plan: (req) => {
        const body = req.body.toString();
        if (body === readFileSync(join(csrs, 'device-0005.csr'), 'utf8') && !refusedOnce) {
          refusedOnce = true;
          return { status: 503, headers: { 'retry-after': '2' } };
        }
        if (body === readFileSync(join(csrs, 'device-0009.csr'), 'utf8') && fake.seen.filter((s) => s.body.toString() === body).length < 3) return { status: 429 };
        return undefined;
      },
    });
    const r = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out, '--concurrency', '3']);
    expect(r.code).toBe(0);
    expect(sleeps).toContain(2000);
    expect(sleeps.filter((s) => s !== 2000)).toEqual([375, 750]);
    expect(fake.seen.every((s) => s.signatureValid)).toBe(true);
    for (const cn of cns) expectValidFiles(join(out, cn), fake, cn);
    expect(r.out.trim().split('\n').filter((l) => l.startsWith('issued '))).toHaveLength(12);
    expect(r.out).toContain(`12 CSRs: 12 issued. Summary: ${join(out, 'summary.csv')}`);

    // Another key for a common name that now has a certificate; the rest is done already.
    writeFileSync(join(csrs, 'dup.csr'), deviceCsrPem('device-0001'));
    const second = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out]);
    expect(second.code).toBe(2);
    const rows = summaryRows(out);
    expect(rows.map((row) => row.csr)).toEqual([...cns.map((cn) => `${cn}.csr`), 'dup.csr'].sort());
    const dup = rows.find((row) => row.csr === 'dup.csr')!;
    expect(dup).toMatchObject({ status: 'refused', httpStatus: '409', errorCode: 'DUPLICATE_COMMON_NAME', folder: 'dup' });
    for (const row of rows.filter((x) => x.csr !== 'dup.csr')) {
      expect(row.status).toBe('present');
      expect(row.serialNumber).toBe(fake.records.find((x) => x.subject.CN === row.commonName)!.serialNumber);
    }
    const json = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { totals: Record<string, number>; certificates: unknown[] };
    expect(json.totals).toMatchObject({ present: 12, refused: 1, pending: 0 });
    expect(json.certificates).toHaveLength(13);
    expect(second.out).toMatch(/^refused +dup\.csr +DUPLICATE_COMMON_NAME \(HTTP 409\): /m);
  });

  it('interrupted and rerun: each CSR issued once, a certificate answered but not written is fetched again', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    const cns = csrFolder(csrs, 30, 'der');
    const stop = new AbortController();
    const fake = await serve({ onIssued: (n) => n === 10 && stop.abort('SIGTERM') });
    const first = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out, '--concurrency', '4'], { signal: stop.signal });
    expect(first.code).toBe(130);
    expect(first.err).toContain('interrupted: run the same command again to finish');
    const partial = summaryRows(out);
    expect(partial).toHaveLength(30);
    const pending = partial.filter((row) => row.status === 'pending').length;
    expect(pending).toBeGreaterThanOrEqual(30 - 10 - 3);
    expect((JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { interrupted: boolean }).interrupted).toBe(true);

    // A crash between the answer and the write: the files of one certificate are lost.
    const written = partial.find((row) => row.status === 'issued')!;
    rmSync(join(out, written.folder!, 'device.pem'));

    const second = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out, '--concurrency', '4']);
    expect(second.code).toBe(0);
    const rows = summaryRows(out);
    expect(rows).toHaveLength(30);
    expect(rows.filter((row) => row.status === 'pending')).toHaveLength(0);
    expect(rows.find((row) => row.csr === written.csr)).toMatchObject({ status: 'replayed', httpStatus: '200', serialNumber: written.serialNumber });
    expect(fake.issuedPerCsr.size).toBe(30);
    expect([...fake.issuedPerCsr.values()].every((n) => n === 1)).toBe(true);
    for (const cn of cns) expectValidFiles(join(out, cn), fake, cn);
    expect(readdirSync(join(out, cns[0]!)).sort()).toEqual(['device.pem', 'deviceCertAndCACert.crt', 'issuing.pem', 'root.pem']);
  });

  it('the factory-ca process stopped by SIGTERM writes its summary and ends with 130; run again, it finishes', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    csrFolder(csrs, 40);
    let child: ChildProcess | undefined;
    const fake = await startFakeApi({ onIssued: (n) => n === 5 && child?.kill('SIGTERM') });
    api = fake;
    const env = { ...process.env, NODE_OPTIONS: '' };
    const args = ['bin/factory-ca.mjs', 'issue', '--url', fake.url, '--csr-dir', csrs, '--out', out, '--concurrency', '2'];
    child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
    expect(stderr).toContain('SIGTERM: stopping; the summary is written');
    expect(code).toBe(130);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { interrupted: boolean; totals: Record<string, number> };
    expect(summary.interrupted).toBe(true);
    expect(summary.totals.pending).toBeGreaterThan(0);

    const again = spawn(process.execPath, args, { env, stdio: 'ignore' });
    expect(await new Promise((r) => again.once('exit', r))).toBe(0);
    expect(summaryRows(out).filter((row) => row.status === 'pending')).toEqual([]);
    expect([...fake.issuedPerCsr.values()].every((n) => n === 1)).toBe(true);
    expect(fake.issuedPerCsr.size).toBe(40);
  }, 60_000);

  it('files that do not match the CSR are replaced; leftover temporary files are removed', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    csrFolder(csrs, 2);
    const fake = await serve();
    expect((await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out])).code).toBe(0);
    // device-0001's folder now holds device-0002's certificate, and a temporary file a killed run left.
    for (const f of ['device.pem', 'deviceCertAndCACert.crt']) writeFileSync(join(out, 'device-0001', f), readFileSync(join(out, 'device-0002', f)));
    writeFileSync(join(out, 'device-0001', '.device.pem.0123456789ab.tmp'), 'half');
    const r = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out]);
    expect(r.code).toBe(0);
    expect(summaryRows(out).map((row) => row.status)).toEqual(['replayed', 'present']);
    expectValidFiles(join(out, 'device-0001'), fake, 'device-0001');
    expect(readdirSync(join(out, 'device-0001')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('CSRs sharing a base name keep their whole file names as folders', async () => {
    const csrs = join(dir, 'csrs');
    mkdirSync(csrs);
    writeFileSync(join(csrs, 'unit.csr'), deviceCsrPem('unit-a'));
    writeFileSync(join(csrs, 'unit.der'), deviceCsrDer('unit-b'));
    writeFileSync(join(csrs, 'other.pem'), deviceCsrPem('unit-c'));
    const fake = await serve();
    const r = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', join(dir, 'out')]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['other', 'summary.csv', 'summary.json', 'unit.csr', 'unit.der']);
  });

  it('one CSR still unavailable after retries: the others are issued, exit 3', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    csrFolder(csrs, 4);
    const stuck = readFileSync(join(csrs, 'device-0003.csr'), 'utf8');
    const fake = await serve({ plan: (req) => (req.body.toString() === stuck ? { status: 503, headers: { 'retry-after': '1' } } : undefined) });
    const r = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', out]);
    expect(r.code).toBe(3);
    expect(summaryRows(out).map((row) => `${row.csr}:${row.status}:${row.errorCode}`)).toEqual([
      'device-0001.csr:issued:',
      'device-0002.csr:issued:',
      'device-0003.csr:unavailable:SIGNER_UNAVAILABLE',
      'device-0004.csr:issued:',
    ]);
    expect(r.err).toContain('run the same command again later');
  });

  it('nothing listening: stops at once, says where it tried, exit 1, summary written', async () => {
    const csrs = join(dir, 'csrs');
    const out = join(dir, 'out');
    csrFolder(csrs, 3);
    const r = await cli(['issue', '--url', 'http://127.0.0.1:1', '--csr-dir', csrs, '--out', out, '--concurrency', '1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach http://127.0.0.1:1/certificates (connection refused)');
    expect(summaryRows(out).map((row) => row.status)).toEqual(['failed', 'pending', 'pending']);
  });

  it('an empty folder is an error', async () => {
    mkdirSync(join(dir, 'empty'));
    const r = await cli(['issue', '--url', 'http://127.0.0.1:1', '--csr-dir', join(dir, 'empty'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no CSR in');
  });

  it('on a terminal: a progress bar, not a line per certificate', async () => {
    const csrs = join(dir, 'csrs');
    csrFolder(csrs, 3);
    const fake = await serve();
    const r = await cli(['issue', '--url', fake.url, '--csr-dir', csrs, '--out', join(dir, 'out')], { tty: true });
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/^issued /m);
    expect(r.out).toContain('3 CSRs: 3 issued.');
  });
});
