/**
 * The station path end to end, signed: factory-ca, the README's curl line and
 * the botocore script against `LOCAL_AUTH=sigv4 npm start`.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../../src/cli/http.js';
import { readLocalCredentials } from '../../src/local/local-credentials.js';
import { ensureDebianTools } from '../helpers/debian-tools.js';
import { useLocalStack } from '../helpers/local-stack-fixture.js';
import { deviceCsrPem } from '../unit/cli/cli-io.js';

const REGION = 'us-east-1';
const PROFILE = 'factory-ca-local';
const LOT = 200;
const root = resolve('.');
const local = useLocalStack('cli-it', {
  env: { LOCAL_AUTH: 'sigv4' },
  before: ({ work }) => {
    ensureDebianTools('The CLI integration test', [
      { name: 'openssl', check: 'command -v openssl', apt: 'openssl' },
      { name: 'curl', check: 'command -v curl', apt: 'curl' },
      { name: 'python3 with botocore', check: 'python3 -c "import botocore" 2>/dev/null || /usr/bin/python3 -c "import botocore"', apt: 'python3-botocore' },
    ]);
    writeFileSync(join(work, 'aws-config'), '');
  },
});
const { stateDir, work } = local;
let keys: { accessKeyId: string; secretAccessKey: string };

/** The environment of a station: no AWS_* of the machine running the tests, the local credentials file. */
function stationEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, HOME: work, AWS_SHARED_CREDENTIALS_FILE: join(stateDir, 'credentials'), AWS_CONFIG_FILE: join(work, 'aws-config'), AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}

const run = (file: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) =>
  promisify(execFile)(file, args, { cwd: options.cwd ?? root, env: options.env ?? stationEnv(), maxBuffer: 16 << 20 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );

const SIGNED = ['--sigv4', '--region', REGION, '--aws-profile', PROFILE];
const factoryCa = (args: string[], env?: Record<string, string>) => run(process.execPath, ['bin/factory-ca.mjs', ...args, '--url', local.stack.baseUrl], env ? { env } : {});

/** openssl verify -x509_strict of device certificates against a root and an issuing CA. */
async function opensslVerify(rootPem: string, issuingPem: string, devices: string[]) {
  const r = await run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootPem, '-untrusted', issuingPem, ...devices]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toEqual(devices.map((d) => `${d}: OK`));
}

/** A python3 that has botocore: the one on the PATH, or Debian's (python3-botocore installs there). */
const python = () => (spawnSync('python3', ['-c', 'import botocore']).status === 0 ? 'python3' : '/usr/bin/python3');

beforeAll(() => {
  keys = readLocalCredentials(stateDir)!;
});

describe('factory-ca against local SigV4 mode', () => {
  it(`issues a lot of ${LOT}, killed halfway and run again: each CSR issued once, summary complete, every certificate verifies`, async () => {
    const csrs = join(work, 'lot');
    const out = join(work, 'lot-out');
    mkdirSync(csrs);
    const cns = Array.from({ length: LOT }, (_, i) => `station-lot-${String(i + 1).padStart(4, '0')}`);
    for (const cn of cns) writeFileSync(join(csrs, `${cn}.csr`), deviceCsrPem(cn));
    const args = ['bin/factory-ca.mjs', 'issue', '--url', local.stack.baseUrl, '--csr-dir', csrs, '--out', out, '--concurrency', '8', ...SIGNED];

    // First run: killed (SIGKILL: no summary, no clean-up) once about half the certificates are written.
    const first = spawn(process.execPath, args, { cwd: root, env: stationEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    let killedAt = 0;
    first.stdout.on('data', (c: Buffer) => {
      printed += c.toString();
      const done = printed.split('\n').filter((l) => l.startsWith('issued ')).length;
      if (done >= LOT / 2 && !killedAt) {
        killedAt = done;
        first.kill('SIGKILL');
      }
    });
    first.stderr.on('data', (c: Buffer) => (printed += c.toString()));
    const firstExit = await new Promise<NodeJS.Signals | number | null>((r) => first.once('exit', (code, signal) => r(signal ?? code)));
    expect(firstExit).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThanOrEqual(LOT / 2);
    const written = cns.filter((cn) => existsSync(join(out, cn, 'device.pem')));
    expect(written.length).toBeGreaterThanOrEqual(LOT / 2);
    expect(written.length).toBeLessThan(LOT);

    // Second run: finishes what is missing.
    const second = await run(process.execPath, args);
    expect(second.stdout.split('\n').filter((l) => /^(refused|unavailable|failed|pending) /.test(l))).toEqual([]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`${LOT} CSRs: `);

    const [head, ...lines] = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    const cols = head!.split(',');
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])) as Record<string, string>);
    expect(rows.map((r) => r.commonName).sort()).toEqual(cns);
    for (const r of rows) {
      expect(['issued', 'replayed', 'present']).toContain(r.status);
      expect(r.errorCode).toBe('');
      expect(new X509Certificate(readFileSync(join(out, r.folder!, 'device.pem'))).serialNumber.toLowerCase()).toBe(r.serialNumber);
    }
    expect(rows.filter((r) => r.status === 'present')).toHaveLength(written.length);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { interrupted: boolean; totals: Record<string, number> };
    expect(summary.interrupted).toBe(false);
    expect(summary.totals.pending).toBe(0);

    // The ledger: one certificate per common name, the one in the folder.
    const client = new ApiClient({ baseUrl: new URL(local.stack.baseUrl), signing: { region: REGION, credentials: async () => keys }, maxSockets: 8 });
    try {
      const ledger = await Promise.all(
        rows.map(async (r) => {
          const answer = await client.send({ method: 'GET', path: '/certificates', query: { commonName: r.commonName! } });
          expect(answer.status).toBe(200);
          return { row: r, items: (answer.json as { items: { serialNumber: string }[] }).items };
        }),
      );
      for (const { row, items } of ledger) expect(items.map((i) => i.serialNumber)).toEqual([row.serialNumber]);
    } finally {
      client.close();
    }

    // Every certificate verifies against the root and issuing CA written beside it (the same pair for the lot).
    const rootPem = readFileSync(join(out, cns[0]!, 'root.pem'), 'utf8');
    const issuingPem = readFileSync(join(out, cns[0]!, 'issuing.pem'), 'utf8');
    for (const cn of cns) {
      expect(readFileSync(join(out, cn, 'root.pem'), 'utf8')).toBe(rootPem);
      expect(readFileSync(join(out, cn, 'issuing.pem'), 'utf8')).toBe(issuingPem);
      expect(readFileSync(join(out, cn, 'deviceCertAndCACert.crt'), 'utf8')).toBe(readFileSync(join(out, cn, 'device.pem'), 'utf8') + issuingPem);
    }
    for (let i = 0; i < cns.length; i += 50) await opensslVerify(join(out, cns[0]!, 'root.pem'), join(out, cns[0]!, 'issuing.pem'), cns.slice(i, i + 50).map((cn) => join(out, cn, 'device.pem')));
  }, 600_000);

  it('one CSR: issued signed; unsigned or with a wrong secret, 403 ACCESS_DENIED and exit 2', async () => {
    const dir = join(work, 'one');
    mkdirSync(dir);
    writeFileSync(join(dir, 'device.csr'), deviceCsrPem('station-one'));
    const ok = await factoryCa(['issue', '--csr', join(dir, 'device.csr'), ...SIGNED]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/CN +station-one/);
    await opensslVerify(join(dir, 'root.pem'), join(dir, 'issuing.pem'), [join(dir, 'device.pem')]);

    const unsigned = await factoryCa(['issue', '--csr', join(dir, 'device.csr'), '--out', join(dir, 'unsigned')]);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain('ACCESS_DENIED (HTTP 403)');

    writeFileSync(join(work, 'wrong-credentials'), `[${PROFILE}]\naws_access_key_id = ${keys.accessKeyId}\naws_secret_access_key = not-the-secret\n`);
    const wrong = await factoryCa(['issue', '--csr', join(dir, 'device.csr'), '--out', join(dir, 'wrong'), ...SIGNED], stationEnv({ AWS_SHARED_CREDENTIALS_FILE: join(work, 'wrong-credentials') }));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('ACCESS_DENIED (HTTP 403): The request signature does not match');

    const health = await fetch(`${local.stack.baseUrl}/health`);
    expect(health.status).toBe(200);
  }, 120_000);

  it('the operator commands: get, list, export, ca, revoke, rotate', async () => {
    const dir = join(work, 'ops');
    mkdirSync(dir);
    writeFileSync(join(dir, 'device.csr'), deviceCsrPem('station-ops'));
    expect((await factoryCa(['issue', '--csr', join(dir, 'device.csr'), ...SIGNED])).code).toBe(0);
    const serial = new X509Certificate(readFileSync(join(dir, 'device.pem'))).serialNumber.toLowerCase();

    const got = await factoryCa(['get', serial, ...SIGNED]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^commonName +station-ops$/m);
    expect(got.stdout).toMatch(/^status +ISSUED$/m);

    const listed = await factoryCa(['list', '--common-name', 'station-ops', ...SIGNED]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${serial} +station-ops +ISSUED `, 'm'));

    const exported = await factoryCa(['export', '--common-name', 'station-ops', '--format', 'ndjson', ...SIGNED]);
    expect(exported.code).toBe(0);
    expect((JSON.parse(exported.stdout.trim()) as { serialNumber: string }).serialNumber).toBe(serial);

    const ca = await factoryCa(['ca', '--out', join(dir, 'trust'), ...SIGNED]);
    expect(ca.code).toBe(0);
    expect(readFileSync(join(dir, 'trust', 'issuing.pem'), 'utf8')).toBe(readFileSync(join(dir, 'issuing.pem'), 'utf8'));

    const revoked = await factoryCa(['revoke', serial, '--reason', 'superseded', ...SIGNED]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked (superseded)');
    expect(revoked.stdout).toMatch(/^AWS IoT +DRY_RUN$/m);

    const rotation = await factoryCa(['rotate', ...SIGNED]);
    expect(rotation.code).toBe(0);
    expect(rotation.stdout).toContain('not rotated: not due');
    expect(rotation.stdout).toMatch(/^next rotation due +\d{4}-/m);
  }, 120_000);

  it('lots: open, issue under one with --lot until its quota, show, close; the station sees the documented refusals', async () => {
    const dir = join(work, 'production-lot');
    mkdirSync(dir);
    const closesAt = new Date(Date.now() + 86_400_000).toISOString();
    const opened = await factoryCa(['lot', 'open', 'CLI-LOT-1', '--product', 'sensor-v2', '--quota', '2', '--closes-at', closesAt, '--common-name-pattern', 'lot-[0-9]+', ...SIGNED]);
    expect([opened.code, opened.stderr]).toEqual([0, '']);
    expect(opened.stdout).toMatch(/^opened$/m);
    expect(opened.stdout).toMatch(/^remaining +2$/m);
    for (const cn of ['lot-1', 'lot-2', 'lot-3', 'other-1']) writeFileSync(join(dir, `${cn}.csr`), deviceCsrPem(cn));
    const issue = (cn: string) => factoryCa(['issue', '--csr', join(dir, `${cn}.csr`), '--out', join(dir, cn), '--lot', 'CLI-LOT-1', ...SIGNED]);
    expect((await issue('lot-1')).code).toBe(0);
    const outside = await issue('other-1');
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain('POLICY_VIOLATION (HTTP 422)');
    expect((await issue('lot-2')).code).toBe(0);
    const over = await issue('lot-3');
    expect(over.stderr).toContain('LOT_QUOTA_EXCEEDED (HTTP 409)');
    await opensslVerify(join(dir, 'lot-1', 'root.pem'), join(dir, 'lot-1', 'issuing.pem'), [join(dir, 'lot-1', 'device.pem'), join(dir, 'lot-2', 'device.pem')]);

    const shown = await factoryCa(['lot', 'show', 'CLI-LOT-1', '--json', ...SIGNED]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ lotId: 'CLI-LOT-1', quota: 2, issued: 2, remaining: 0, status: 'OPEN' });
    const listed = await factoryCa(['export', '--lot-id', 'CLI-LOT-1', '--format', 'ndjson', ...SIGNED]);
    expect(listed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { subject: { CN: string } }).subject.CN).sort()).toEqual(['lot-1', 'lot-2']);
    const closed = await factoryCa(['lot', 'close', 'CLI-LOT-1', ...SIGNED]);
    expect(closed.stdout).toMatch(/^status +CLOSED$/m);
    expect((await issue('lot-3')).stderr).toContain('LOT_CLOSED (HTTP 409)');
  }, 120_000);

  it('block-keys: a vendor list of 450 hashes and a PEM key, blocked once; a rerun blocks nothing more; the PEM key\'s CSR is refused', async () => {
    const dir = join(work, 'blocklist');
    mkdirSync(dir);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = createPublicKey(key).export({ format: 'pem', type: 'spki' }) as string;
    const hashes = Array.from({ length: 450 }, (_, i) => createHash('sha256').update(`vendor key ${i}`).digest('hex'));
    writeFileSync(join(dir, 'list.txt'), `# vendor incident SE-7\n${hashes.join('\n')}\n\n${pem}`);
    const first = await factoryCa(['block-keys', '--file', join(dir, 'list.txt'), '--entry', 'vendor incident SE-7', ...SIGNED]);
    expect([first.code, first.stdout.trim()]).toEqual([0, `451 keys blocked, 0 blocked already (451 in ${join(dir, 'list.txt')})`]);
    const again = await factoryCa(['block-keys', '--file', join(dir, 'list.txt'), ...SIGNED]);
    expect([again.code, again.stdout.trim()]).toEqual([0, `0 keys blocked, 451 blocked already (451 in ${join(dir, 'list.txt')})`]);
    writeFileSync(join(dir, 'device.csr'), deviceCsrPem('station-blocked', key));
    const refused = await factoryCa(['issue', '--csr', join(dir, 'device.csr'), ...SIGNED]);
    expect(refused.code).toBe(2);
    expect(refused.stdout + refused.stderr).toContain('KEY_BLOCKED');
  }, 120_000);
});

describe("README's curl line and botocore script against local SigV4 mode", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it('curl --aws-sigv4 gets a certificate; with a wrong secret, 403 ACCESS_DENIED', async () => {
    const line = readme.split('\n').find((l) => l.startsWith('curl -') && l.includes('--aws-sigv4'));
    expect(line).toContain('--aws-sigv4 "aws:amz:$AWS_REGION:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"');
    const dir = join(work, 'curl');
    mkdirSync(dir);
    writeFileSync(join(dir, 'device.csr'), deviceCsrPem('station-curl'));
    const env = (secret: string) => stationEnv({ AWS_REGION: REGION, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: secret, FACTORY_CA_URL: local.stack.baseUrl });

    const ok = await run('bash', ['-c', line!], { cwd: dir, env: env(keys.secretAccessKey) });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const issued = JSON.parse(readFileSync(join(dir, 'issued.json'), 'utf8')) as Record<string, string>;
    expect(issued.subject).toMatchObject({ CN: 'station-curl' });
    writeFileSync(join(dir, 'device.pem'), issued.certificatePem!);
    writeFileSync(join(dir, 'issuing.pem'), issued.caCertificatePem!);
    writeFileSync(join(dir, 'root.pem'), issued.rootCertificatePem!);
    await opensslVerify(join(dir, 'root.pem'), join(dir, 'issuing.pem'), [join(dir, 'device.pem')]);

    const wrong = await run('bash', ['-c', line!], { cwd: dir, env: env('not-the-secret') });
    expect(wrong.code).toBe(22); // --fail-with-body: HTTP 4xx
    expect((JSON.parse(readFileSync(join(dir, 'issued.json'), 'utf8')) as { error: { code: string } }).error.code).toBe('ACCESS_DENIED');
  }, 60_000);

  it('docs/station-sigv4.py, shown whole in README, gets a certificate and splits the chain; with a wrong secret, 403', async () => {
    const script = readFileSync(join(root, 'docs/station-sigv4.py'), 'utf8');
    expect(readme).toContain('```python\n' + script + '```\n');
    const dir = join(work, 'python');
    mkdirSync(dir);
    writeFileSync(join(dir, 'device.csr'), deviceCsrPem('station-python'));

    const ok = await run(python(), ['docs/station-sigv4.py', local.stack.baseUrl, join(dir, 'device.csr'), join(dir, 'out')], { env: stationEnv({ AWS_PROFILE: PROFILE, AWS_REGION: REGION }) });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^[0-9a-f]{32} station-python \d{4}-/);
    const out = join(dir, 'out');
    expect(readdirSync(out).sort()).toEqual(['device.pem', 'deviceCertAndCACert.crt', 'issuing.pem', 'root.pem']);
    await opensslVerify(join(out, 'root.pem'), join(out, 'issuing.pem'), [join(out, 'device.pem')]);
    expect(readFileSync(join(out, 'deviceCertAndCACert.crt'), 'utf8')).toBe(readFileSync(join(out, 'device.pem'), 'utf8') + readFileSync(join(out, 'issuing.pem'), 'utf8'));

    const wrong = await run(python(), ['docs/station-sigv4.py', local.stack.baseUrl, join(dir, 'device.csr'), join(dir, 'wrong')], {
      env: stationEnv({ AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret', AWS_REGION: REGION }),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('refused: HTTP 403 ACCESS_DENIED');
  }, 60_000);
});
