/**
 * The deployed Lambda bundles: their size, and how long their module
 * initialisation (the cold-start part that is ours) takes.
 *
 * Runs `serverless package` in the project directory, as `npm run package`
 * does (its work folder is `.esbuild/`; a local stack builds under its state
 * directory instead, so the two can run at once).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';

export interface BundleInfo {
  /** The function's name in serverless.yml. */
  fn: string;
  /** Size of its handler bundle, src/handlers/<name>.mjs (without the .map beside it). */
  bytes: number;
  /** `await import(<bundle>)` in a fresh node process, over SAMPLES processes. */
  initMs: { median: number; min: number; max: number };
  /** Which parts of the service the bundle holds (see BUNDLE_MARKERS). */
  holds: string[];
  /** For the function given `firstRequest`: its first request in a fresh process, and the one after it (ms). */
  requests?: { first: Ms; second: Ms };
}

type Ms = { median: number; min: number; max: number };

/**
 * The first request after a cold start: for `fn`, SAMPLES more fresh processes
 * each import the bundle and then call its handler twice, with two events of
 * `events` (each pair distinct), timing each call. `env` is added to the
 * deployed environment (endpoints of local stand-ins for AWS).
 */
export interface FirstRequestSetup {
  fn: string;
  env: Record<string, string>;
  /** 2 × SAMPLES API Gateway events; each must answer `expectStatus`. */
  events: unknown[];
  expectStatus: number;
}

/**
 * A string literal each part of the service owns, which minification keeps: a
 * bundle holding the literal holds the part. This is how the bench shows what
 * each function is composed of (the revoke and rotate bundles hold no issuance).
 */
export const BUNDLE_MARKERS: Record<string, string> = {
  issuance: 'This CSR is being issued by another request',
  'KMS signer': 'The signing service is unavailable',
  'KMS key admin': 'KMS created no key',
  'AWS IoT': 'AWS IoT refused to',
  'x509 builder': 'tsyringe requires a reflect polyfill',
  ledger: 'The certificate ledger is temporarily unavailable',
};

export const SAMPLES = 5;
/** The project directory (this file is in bench/). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_STAGE = 'bench';
const STAGE = BENCH_STAGE;
const REGION = 'eu-west-1';

/** Runs a command, resolving with its output; rejects with the output's tail when it fails. */
function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${(stdout + stderr).slice(-4000)}`));
    });
  });
}

const onPath = (name: string) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));

/** Extracts a zip archive (stored or deflated entries, no zip64: what serverless writes) into `dest`. */
function unzipInJs(zip: Buffer, dest: string): void {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const root = resolve(dest);
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;

    const target = resolve(root, name);
    if (!target.startsWith(root + sep)) throw new Error(`zip entry outside the destination: ${name}`);
    if (name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`zip entry ${name}: compression method ${method} not supported`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, method === 0 ? data : inflateRawSync(data));
  }
}

async function unzip(zipFile: string, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  if (onPath('unzip')) await run('unzip', ['-q', '-o', zipFile, '-d', dest], { timeoutMs: 60_000 });
  else unzipInJs(readFileSync(zipFile), dest);
}

/**
 * What the child process runs: it watches every TCP connection, DNS look-up
 * and UDP datagram (the X-Ray daemon's transport), imports the bundle timed
 * with performance.now(), waits 200 ms for anything the import scheduled,
 * prints one line `BENCH_INIT <json>` and exits (whatever handles are open).
 */
const CHILD_SCRIPT = `
import net from 'node:net';
import dns from 'node:dns';
import dgram from 'node:dgram';
const network = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = args[0];
  network.push('tcp ' + (Array.isArray(o) ? JSON.stringify(o[0]) : typeof o === 'object' ? (o.path ?? (o.host ?? '') + ':' + o.port) : String(o)));
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) { network.push('dns ' + host); return lookup.call(this, host, ...rest); };
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (...args) { network.push('udp'); return send.apply(this, args); };
const t0 = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 200));
process.stdout.write('\\nBENCH_INIT ' + JSON.stringify({ ms, handler: typeof mod.handler, network }) + '\\n', () => process.exit(0));
`;

/**
 * What the child runs for the first request: import (untimed here), then the
 * handler on two events of the file BENCH_EVENTS_FILE (from BENCH_EVENT_INDEX),
 * each call timed. Network use is expected (the stand-ins' endpoints).
 */
const CHILD_FIRST_REQUEST_SCRIPT = `
import { readFileSync } from 'node:fs';
const events = JSON.parse(readFileSync(process.env.BENCH_EVENTS_FILE, 'utf8'));
const at = Number(process.env.BENCH_EVENT_INDEX);
const mod = await import(process.env.BENCH_BUNDLE_URL);
const context = () => ({ awsRequestId: 'bench-' + Math.random().toString(16).slice(2), functionName: 'bench', getRemainingTimeInMillis: () => 10000 });
const out = [];
for (const event of [events[at], events[at + 1]]) {
  const t0 = performance.now();
  const res = await mod.handler(event, context());
  out.push({ ms: performance.now() - t0, status: res.statusCode, body: res.statusCode >= 300 ? String(res.body).slice(0, 300) : '' });
}
process.stdout.write('\\nBENCH_FIRST ' + JSON.stringify(out) + '\\n', () => process.exit(0));
`;

interface Packaged {
  fn: string;
  /** e.g. src/handlers/issue-certificate.handler */
  handler: string;
  variables: Record<string, unknown>;
}

/** The functions in the packaged CloudFormation template, in its order. */
function packagedFunctions(packageDir: string): Packaged[] {
  const template = JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
  };
  const found: Packaged[] = [];
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const key = String(r.Properties.Code?.S3Key ?? '');
    const fn = key.slice(key.lastIndexOf('/') + 1).replace(/\.zip$/, '');
    found.push({ fn, handler: String(r.Properties.Handler), variables: r.Properties.Environment?.Variables ?? {} });
  }
  return found;
}

/**
 * The environment of the deployed function: its variables from the template
 * (references to roles and buckets replaced by well-formed dummy names), with X-Ray tracing
 * and metrics off (no daemon, no CloudWatch here), what the Lambda runtime
 * sets, and dummy credentials. Nothing is inherited from this process but PATH.
 */
function deployedEnv(f: Packaged, taskRoot: string, bundle: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(f.variables)) {
    env[k] =
      typeof v === 'string'
        ? v
        : /_ROLE_ARN$/.test(k)
          ? `arn:aws:iam::123456789012:role/bench-${k.toLowerCase().replace(/_/g, '-')}`
          : /_BUCKET$/.test(k)
            ? `factory-ca-bench-${k.toLowerCase().replace(/_/g, '-')}`
            : JSON.stringify(v);
  }
  return {
    ...env,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'bench-session-token',
    AWS_LAMBDA_FUNCTION_NAME: `factory-ca-${STAGE}-${f.fn}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: taskRoot,
    _HANDLER: f.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    HOME: taskRoot,
    BENCH_BUNDLE_URL: pathToFileURL(bundle).href,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r1 = (n: number) => Math.round(n * 10) / 10;
const msStats = (xs: number[]): Ms => ({ median: r1(median(xs)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)) });

/**
 * Packages the service (`serverless package --stage bench`, offline: no AWS
 * credentials, no telemetry), unzips each function's zip, and for each
 * function (all by default, in serverless.yml's order) reports the size of its
 * handler bundle and its module initialisation: `await import(<bundle>)` timed
 * inside a fresh `node` process per sample (SAMPLES), with the environment the
 * deployed function has (NODE_OPTIONS=--enable-source-maps included, as
 * serverless.yml sets it), LAMBDA_TASK_ROOT and the working directory at the
 * unzipped function (so config/policy.json and the JITP template resolve as
 * in Lambda). The import must export a handler and make no network call (TCP,
 * DNS or UDP): otherwise this throws.
 */
export async function measureBundles(functions?: string[], firstRequest?: FirstRequestSetup): Promise<BundleInfo[]> {
  const work = mkdtempSync(join(tmpdir(), 'factory-ca-bench-bundles-'));
  try {
    const packageDir = join(work, 'package');
    await run(process.execPath, [join(PROJECT_ROOT, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', STAGE, '--package', packageDir], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: 'none',
      },
      timeoutMs: 300_000,
    });
    const all = packagedFunctions(packageDir);
    const wanted = functions ?? all.map((f) => f.fn);
    const unknown = wanted.filter((fn) => !all.some((f) => f.fn === fn));
    if (unknown.length) throw new Error(`no such function: ${unknown.join(', ')} (packaged: ${all.map((f) => f.fn).join(', ')})`);

    const results: BundleInfo[] = [];
    for (const fn of wanted) {
      const f = all.find((p) => p.fn === fn)!;
      const taskRoot = join(work, 'functions', fn);
      await unzip(join(packageDir, `${fn}.zip`), taskRoot);
      const bundle = join(taskRoot, `${f.handler.slice(0, f.handler.lastIndexOf('.'))}.mjs`);
      if (!existsSync(bundle)) throw new Error(`${fn}: ${bundle} is not in ${fn}.zip`);
      const env = deployedEnv(f, taskRoot, bundle);

      const samples: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT], { cwd: taskRoot, env, timeoutMs: 60_000 });
        const line = stdout.split('\n').reverse().find((l) => l.startsWith('BENCH_INIT '));
        if (!line) throw new Error(`${fn}: the import printed no timing:\n${(stdout + stderr).slice(-2000)}`);
        const out = JSON.parse(line.slice('BENCH_INIT '.length)) as { ms: number; handler: string; network: string[] };
        if (out.handler !== 'function') throw new Error(`${fn}: ${bundle} exports no handler function`);
        if (out.network.length) throw new Error(`${fn}: importing the bundle used the network: ${out.network.join(', ')}`);
        samples.push(out.ms);
      }
      let requests: BundleInfo['requests'];
      if (firstRequest?.fn === fn) {
        const eventsFile = join(work, 'events.json');
        writeFileSync(eventsFile, JSON.stringify(firstRequest.events));
        const first: number[] = [];
        const second: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const childEnv = { ...env, ...firstRequest.env, BENCH_EVENTS_FILE: eventsFile, BENCH_EVENT_INDEX: String(2 * i) };
          const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', CHILD_FIRST_REQUEST_SCRIPT], { cwd: taskRoot, env: childEnv, timeoutMs: 60_000 });
          const line = stdout.split('\n').reverse().find((l) => l.startsWith('BENCH_FIRST '));
          if (!line) throw new Error(`${fn}: the first request printed no timing:\n${(stdout + stderr).slice(-2000)}`);
          const calls = JSON.parse(line.slice('BENCH_FIRST '.length)) as Array<{ ms: number; status: number; body: string }>;
          for (const c of calls) if (c.status !== firstRequest.expectStatus) throw new Error(`${fn}: a request answered ${c.status}, not ${firstRequest.expectStatus}: ${c.body}`);
          first.push(calls[0]!.ms);
          second.push(calls[1]!.ms);
        }
        requests = { first: msStats(first), second: msStats(second) };
      }
      const text = readFileSync(bundle, 'utf8');
      const holds = Object.entries(BUNDLE_MARKERS).filter(([, marker]) => text.includes(marker)).map(([part]) => part);
      results.push({ fn, bytes: statSync(bundle).size, holds, initMs: msStats(samples), ...(requests ? { requests } : {}) });
    }
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
