import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalStack, type RunningStack } from '../helpers/local-stack-process.js';

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
