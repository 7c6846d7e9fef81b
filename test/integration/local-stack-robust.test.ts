import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { freePort, startLocalStack, type RunningStack } from '../helpers/local-stack-process.js';
import { endpointFile } from '../../src/local/local-stack.js';
import { readLocalCredentials } from '../../src/local/local-credentials.js';
import { lockFile } from '../../src/local/start-lock.js';
import { watchOutput } from '../../src/local/output-watch.js';

const PROJECT = process.cwd();
const work = mkdtempSync(join(tmpdir(), 'factory-ca-robust-'));
const stateDirs: string[] = [];
const newStateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'factory-ca-robust-state-'));
  stateDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of [...stateDirs, work]) rmSync(dir, { recursive: true, force: true });
});

let made = 0;
/** A P-256 key and CSR made by openssl, the CSR in PEM or DER. */
function opensslCsr(cn: string, format: 'PEM' | 'DER' = 'PEM'): { csr: Buffer; keyFile: string; csrFile: string } {
  const name = `csr-${++made}`;
  const keyFile = join(work, `${name}.key`);
  const csrFile = join(work, `${name}.${format.toLowerCase()}`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-subj', `/C=US/O=Example Corp/CN=${cn}`, '-outform', format, '-out', csrFile], { stdio: 'ignore' });
  return { csr: readFileSync(csrFile), keyFile, csrFile };
}

async function issue(stack: RunningStack, body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/pkcs10' }) {
  const res = await fetch(`${stack.baseUrl}/certificates`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await res.text();
  return { status: res.status, text, json: (() => { try { return JSON.parse(text) as Record<string, any>; } catch { return undefined; } })() };
}

/** The status, or on another status the answer itself, so that a failure shows it. */
const statusOf = (res: { status: number; text: string }, expected: number) => (res.status === expected ? res.status : `${res.status} ${res.text.slice(0, 400)}`);

/** Whether the certificate is for the public key of the private key in `keyFile`. */
const certifies = (certificatePem: string, keyFile: string) =>
  new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(readFileSync(keyFile)).export({ type: 'spki', format: 'der' }));

/** A start that must fail: what it printed (startLocalStack's error carries the exit code and the output). */
async function failedStart(stateDir: string, env: Record<string, string> = {}): Promise<string> {
  let stack: RunningStack;
  try {
    stack = await startLocalStack(stateDir, env);
  } catch (e) {
    return (e as Error).message;
  }
  await stack.stop();
  throw new Error('the stack started, though it should have been refused');
}

/** A port held by a plain TCP server of this (test) process. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const announcementOf = (stateDir: string) => JSON.parse(readFileSync(endpointFile(stateDir), 'utf8')) as { pid: number; endpoint: string; url?: string };

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (condition()) return true;
  return condition();
}

describe('npm run package beside a running npm start', () => {
  it('leaves the running stack serving: an issuance after the package answers 201', async () => {
    const stack = await startLocalStack(newStateDir());
    try {
      expect((await issue(stack, opensslCsr('robust-package-before').csr)).status).toBe(201);
      // As a developer runs it, in the same project directory (it writes .serverless/ there), without AWS credentials.
      await promisify(execFile)('npm', ['run', '--silent', 'package'], {
        cwd: PROJECT,
        env: { ...process.env, NODE_OPTIONS: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none' },
        timeout: 240_000,
      });
      expect(existsSync(join(PROJECT, '.serverless', 'issueCertificate.zip'))).toBe(true);
      const after = await issue(stack, opensslCsr('robust-package-after').csr);
      expect(statusOf(after, 201)).toBe(201);
      // A function not loaded before the package, too.
      expect((await fetch(`${stack.baseUrl}/certificates?commonName=robust-package-after`)).status).toBe(200);
    } finally {
      await stack.stop();
    }
  }, 400_000);
});

describe('Raw DER CSRs (application/pkcs10 is a binary media type)', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startLocalStack(newStateDir());
  }, 120_000);
  afterAll(() => stack?.stop(), 30_000);

  it('issues for a DER CSR sent raw with the README\'s curl command: 201, a certificate for that key', () => {
    const { keyFile, csrFile } = opensslCsr('robust-der-curl', 'DER');
    const out = execFileSync('curl', ['-s', '-w', '\n%{http_code}', '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csrFile}`, `${stack.baseUrl}/certificates`], { encoding: 'utf8' });
    const text = out.slice(0, out.lastIndexOf('\n'));
    expect(statusOf({ status: Number(out.slice(out.lastIndexOf('\n') + 1)), text }, 201)).toBe(201);
    const issued = JSON.parse(text) as { certificatePem: string };
    expect(certifies(issued.certificatePem, keyFile)).toBe(true);
    expect(new X509Certificate(issued.certificatePem).subject).toMatch(/CN=robust-der-curl/);
  });

  it('still takes a PEM CSR as application/pkcs10, and as JSON', async () => {
    const pem = opensslCsr('robust-pem');
    const res = await issue(stack, pem.csr);
    expect(res.status).toBe(201);
    expect(certifies(res.json!.certificatePem, pem.keyFile)).toBe(true);
    const json = await issue(stack, JSON.stringify({ csr: opensslCsr('robust-json').csr.toString('utf8') }), { 'content-type': 'application/json' });
    expect(json.status).toBe(201);
  });

  it('answers the same DER CSR again with the same certificate (200)', async () => {
    const { csr } = opensslCsr('robust-der-again', 'DER');
    const first = await issue(stack, csr);
    const again = await issue(stack, csr);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.json!.certificatePem).toBe(first.json!.certificatePem);
  });
});

describe('Raw DER CSRs in local SigV4 mode', () => {
  it('verifies a request whose signature covers Content-Type and the DER body, and issues', async () => {
    const stateDir = newStateDir();
    const stack = await startLocalStack(stateDir, { LOCAL_AUTH: 'sigv4' });
    try {
      const credentials = readLocalCredentials(stateDir)!;
      const { csr, keyFile } = opensslCsr('robust-der-sigv4', 'DER');
      const host = `127.0.0.1:${stack.port}`;
      const request = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: host, path: '/certificates', headers: { host, 'content-type': 'application/pkcs10' }, body: csr });
      const signer = new SignatureV4({ credentials, region: credentials.region, service: 'execute-api', sha256: Sha256 });
      const signed = await signer.sign(request);
      expect(String(signed.headers.authorization)).toMatch(/SignedHeaders=[^,]*content-type/);
      const { host: _host, ...headers } = signed.headers;
      const res = await issue(stack, csr, headers);
      expect(statusOf(res, 201)).toBe(201);
      expect(certifies(res.json!.certificatePem, keyFile)).toBe(true);
    } finally {
      await stack.stop();
    }
  }, 180_000);
});

describe('Ports in use', () => {
  it.each(['PORT', 'DYNAMODB_PORT', 'LAMBDA_PORT', 'EST_TLS_PORT'])('%s held by another program: the start fails naming the variable and the holder', async (variable) => {
    const held = await holdPort();
    try {
      const out = await failedStart(newStateDir(), { [variable]: String(held.port) });
      expect(out).toMatch(/local stack exited \([1-9]\d*\)/);
      expect(out).toContain(`127.0.0.1:${held.port}`);
      expect(out).toContain(`${variable}=<port> npm start`);
      // The holder: this test process.
      expect(out).toContain(`pid ${process.pid}`);
    } finally {
      await held.close();
    }
  }, 120_000);
});

describe('Another npm start', () => {
  let stateDir: string;
  let stack: RunningStack;
  let lambdaPort: number;
  beforeAll(async () => {
    stateDir = newStateDir();
    lambdaPort = await freePort();
    stack = await startLocalStack(stateDir, { LAMBDA_PORT: String(lambdaPort) });
  }, 120_000);
  afterAll(() => stack?.stop(), 30_000);

  it('on the same state directory is refused up front, naming the running one, which keeps serving', async () => {
    const running = announcementOf(stateDir);
    const lock = readFileSync(lockFile(stateDir), 'utf8');
    const out = await failedStart(stateDir);
    expect(out).toMatch(/local stack exited \([1-9]\d*\)/);
    expect(out).toContain(`pid ${running.pid}`);
    expect(out).toContain(`http://localhost:${stack.port}`);
    expect(out).not.toMatch(/Database is closed/);
    // Nothing of the running one's was touched, and it still serves.
    expect(announcementOf(stateDir)).toEqual(running);
    expect(readFileSync(lockFile(stateDir), 'utf8')).toBe(lock);
    expect((await issue(stack, opensslCsr('robust-second-start').csr)).status).toBe(201);
  }, 120_000);

  it.each([
    ['PORT', () => stack.port],
    ['LAMBDA_PORT', () => lambdaPort],
    ['EST_TLS_PORT', () => stack.estTlsPort],
  ])('on another state directory, with its %s: the start fails naming the running one', async (variable, port) => {
    const running = announcementOf(stateDir);
    const out = await failedStart(newStateDir(), { [variable]: String(port()) });
    expect(out).toContain(`${variable}=<port> npm start`);
    expect(out).toContain(`another factory-ca npm start (pid ${running.pid}, state directory ${stateDir}, serving http://localhost:${stack.port})`);
    expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
  }, 120_000);

  it('removes its lock and announcement when stopped with SIGINT', async () => {
    process.kill(announcementOf(stateDir).pid, 'SIGINT');
    expect(await until(() => !existsSync(lockFile(stateDir)) && !existsSync(endpointFile(stateDir)), 20_000)).toBe(true);
    await stack.stop();
  }, 60_000);
});

describe('Two npm starts at once on one state directory', () => {
  it('one serves, the other exits non-zero naming it', async () => {
    const stateDir = newStateDir();
    const [a, b] = await Promise.allSettled([startLocalStack(stateDir), startLocalStack(stateDir)]);
    const started = [a, b].filter((r): r is PromiseFulfilledResult<RunningStack> => r.status === 'fulfilled').map((r) => r.value);
    try {
      const refused = [a, b].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error).message));
      expect([started.length, refused.length]).toEqual([1, 1]);
      const { pid } = announcementOf(stateDir);
      expect(refused[0]).toMatch(/local stack exited \([1-9]\d*\)/);
      expect(refused[0]).toContain(`another npm start (pid ${pid})`);
      expect((await issue(started[0]!, opensslCsr('robust-race').csr)).status).toBe(201);
    } finally {
      for (const stack of started) await stack.stop();
    }
  }, 180_000);
});

describe('The lock and announcement of an npm start that died', () => {
  it('are taken over by the next start, and removed when it stops', async () => {
    const stateDir = newStateDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lockFile(stateDir), JSON.stringify({ pid: dead, url: 'http://localhost:1' }) + '\n');
    writeFileSync(endpointFile(stateDir), JSON.stringify({ endpoint: 'http://127.0.0.1:1', pid: dead }) + '\n');
    const stack = await startLocalStack(stateDir);
    try {
      const { pid } = announcementOf(stateDir);
      expect(pid).not.toBe(dead);
      expect(JSON.parse(readFileSync(lockFile(stateDir), 'utf8')).pid).toBe(pid);
      expect((await fetch(`${stack.baseUrl}/health`)).status).toBe(200);
    } finally {
      await stack.stop();
    }
    expect([existsSync(lockFile(stateDir)), existsSync(endpointFile(stateDir))]).toEqual([false, false]);
  }, 120_000);
});

describe('Readiness', () => {
  it('sees serverless-offline\'s "Server ready" however its output is cut into chunks', () => {
    let ready = 0;
    const watch = watchOutput(/Server ready/, () => ready++);
    const line = Buffer.from('Scheduling [rotate] cron: [0 0 */1 * *]\nServer ready: http://127.0.0.1:40073 🚀\n');
    for (const cut of [line.indexOf('Server') + 3, line.indexOf('🚀') + 2]) {
      watch.write(line.subarray(0, cut));
      watch.write(line.subarray(cut));
    }
    expect(ready).toBe(1);
    expect(watch.tail()).toContain('🚀');
  });
});
