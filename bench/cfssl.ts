/**
 * A peer CA to compare with: CloudFlare's cfssl (`cfssl serve`), signing the
 * same CSRs over its HTTP API. Optional: needs `cfssl` on the PATH (Debian
 * package `golang-cfssl`: `apt-get install -y golang-cfssl`).
 *
 * What cfssl does per request: parse and check the CSR, sign a certificate with
 * the profile's usages (key usage, extended key usage, basic constraints, SKI,
 * AKI), return it as PEM in JSON. It keeps no record of what it issued (no
 * -db-config), where factory-ca writes its ledger before it answers.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../test/helpers/local-stack-process.js';
import { runLoad, type LoadResult } from './http-load.js';

/** True if `cfssl` is on the PATH. */
export function cfsslAvailable(): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, 'cfssl'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** cfssl's signing configuration: a `client` profile (device certificates), ten years. */
const SIGNING_CONFIG = {
  signing: {
    default: { expiry: '87600h' },
    profiles: { client: { usages: ['digital signature', 'client auth'], expiry: '87600h' } },
  },
};

/**
 * Makes a throwaway P-256 CA with cfssl itself (`cfssl genkey -initca`) in a
 * temporary directory, starts `cfssl serve` on 127.0.0.1 and a free port with
 * it and SIGNING_CONFIG (default log level: it logs each request to stderr, as
 * factory-ca logs each request), and waits until POST /api/v1/cfssl/info
 * answers. stop() kills the server and deletes the directory.
 */
export async function startCfssl(): Promise<{ baseUrl: string; pid: number; stop(): Promise<void> }> {
  if (!cfsslAvailable()) throw new Error('cfssl is not on the PATH (Debian: apt-get install -y golang-cfssl)');
  const dir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-cfssl-'));
  try {
    writeFileSync(
      join(dir, 'ca-csr.json'),
      JSON.stringify({ CN: 'cfssl bench CA', key: { algo: 'ecdsa', size: 256 }, names: [{ C: 'US', O: 'Example Corp' }] }),
    );
    const made = JSON.parse(execFileSync('cfssl', ['genkey', '-initca', join(dir, 'ca-csr.json')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as {
      cert: string;
      key: string;
    };
    writeFileSync(join(dir, 'ca.pem'), made.cert);
    writeFileSync(join(dir, 'ca-key.pem'), made.key, { mode: 0o600 });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(SIGNING_CONFIG));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const port = await freePort();
  const child = spawn(
    'cfssl',
    ['serve', '-address', '127.0.0.1', '-port', String(port), '-ca', join(dir, 'ca.pem'), '-ca-key', join(dir, 'ca-key.pem'), '-config', join(dir, 'config.json')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Drain its output (it logs each request), keeping the last few KiB for errors.
  let log = '';
  const keep = (c: Buffer) => (log = (log + c.toString()).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })());

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`cfssl serve exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      const res = await fetch(`${baseUrl}/api/v1/cfssl/info`, { method: 'POST', body: '{}' });
      const body = (await res.json()) as { success?: boolean };
      if (res.ok && body.success) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`cfssl serve did not answer in time:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { baseUrl, pid: child.pid!, stop };
}

let clockTicks: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** User + system CPU time of a process (all its threads), in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 (state) on: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

/**
 * POSTs each CSR to cfssl's /api/v1/cfssl/sign (`{"certificate_request": pem,
 * "profile": "client"}`), `concurrency` at a time, via runLoad; an answer is a
 * success when it is 200 with `success: true` and a certificate in
 * `result.certificate`. Also reports cfssl's CPU per certificate: its user +
 * system time from /proc/<pid>/stat before and after, over the number of CSRs.
 * Send a few requests first if you want the figures warm.
 */
export async function benchCfssl(baseUrl: string, pid: number, csrs: string[], concurrency: number): Promise<LoadResult & { serverCpuMsPerCert: number }> {
  const requests = csrs.map(
    (csr) => () =>
      fetch(`${baseUrl}/api/v1/cfssl/sign`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ certificate_request: csr, profile: 'client' }),
      }),
  );
  const signed = async (res: Response) => {
    const text = await res.text();
    if (res.status !== 200) return false;
    try {
      const body = JSON.parse(text) as { success?: boolean; result?: { certificate?: string } };
      return body.success === true && typeof body.result?.certificate === 'string' && body.result.certificate.includes('-----BEGIN CERTIFICATE-----');
    } catch {
      return false;
    }
  };
  const hz = ticksPerSecond();
  const before = cpuTicks(pid);
  const result = await runLoad(requests, concurrency, signed);
  const ticks = cpuTicks(pid) - before;
  const serverCpuMsPerCert = csrs.length ? Math.round(((ticks * 1000) / hz / csrs.length) * 1000) / 1000 : 0;
  return { ...result, serverCpuMsPerCert };
}
