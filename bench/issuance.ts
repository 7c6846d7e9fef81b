/**
 * `npm run bench` — figures, never assertions. Loopback only.
 *
 *   npm run bench                  in-process pipeline, AWS calls per certificate, bundles and
 *                                  init times, the local API over HTTP
 *   npm run bench -- --peer cfssl  also cfssl (`apt-get install golang-cfssl`) on the same CSRs
 *   npm run bench -- --quick       the in-process rows only (issuance CPU, CRLs)
 *   npm run bench -- --cold        the bundles, their init and the first request only
 *   npm run bench -- --cost        the AWS calls per certificate and the bill (sections 2 and 6; no
 *                                  bundles, no HTTP, so no Lambda memory table)
 *
 * Environment: BENCH_N (CSRs per in-process round, default 2000), BENCH_HTTP_N (default 300),
 * BENCH_CRL_SIZES (entries per CRL, comma-separated, default 1000,1000000).
 * This machine may be shared: compare the ratios (fast path / cryptographic floor,
 * issuing route / no-op route), which drift less than absolute times.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parsePolicy } from '../src/pki/policy.js';
import { keyIdentifierOf } from '../src/pki/keys.js';
import { caSubjectDer } from '../src/pki/profile.js';
import { createSoftwareSigner } from '../src/pki/signer.js';
import { loadConfig } from '../src/config/config.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { composeIssuing } from '../src/compose/issuing.js';
import { composeLifecycle } from '../src/compose/operations.js';
import { createMetrics } from '../src/observability/metrics.js';
import { bootstrap } from '../src/service/ca-lifecycle.js';
import { issueCertificate } from '../src/service/issue-certificate.js';
import { ensureTable, localDynamoClient, startDynalite } from '../src/local/local-stack.js';
import { FakeKms } from '../test/helpers/kms-fake.js';
import { FakeIot } from '../test/helpers/iot-fake.js';
import { makeCsrs, benchLocalApi, startBenchStack, type LoadResult } from './http-load.js';
import { measurePipeline, type Stats } from './pipeline.js';
import type { FirstRequestSetup } from './bundles.js';
import { measureKeyQuality } from './key-quality.js';
import { measureCrl } from './crl.js';
import { ASSUMED, ByteCountingLogger, ByteCountingMetrics, printCost, printMemoryTable, recordItemSizes, type Measured } from './cost.js';
import { countRequests } from './capacity.js';
import { measureLotsAndLog } from './lots-and-log.js';
import { issueRoute } from '../src/http/issuing-routes.js';
import { MemoryStore } from '../test/helpers/memory-store.js';
import { jsonPost, lambdaContext } from '../test/helpers/api.js';

const { values: args } = parseArgs({ options: { peer: { type: 'string' }, quick: { type: 'boolean', default: false }, cold: { type: 'boolean', default: false }, cost: { type: 'boolean', default: false } } });
const N = Number(process.env.BENCH_N ?? 2000);
const HTTP_N = Number(process.env.BENCH_HTTP_N ?? 300);
const CRL_SIZES = (process.env.BENCH_CRL_SIZES ?? '1000,1000000').split(',').map(Number);
// The bench prints figures only: no log lines, no metrics output.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const quiet = () => ({ logger: new Logger({ logLevel: 'SILENT' }), metrics: createMetrics() });

const us = (s: Stats) => `${s.median.toFixed(1).padStart(8)} µs  (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
const row = (label: string, value: string) => console.log(`  ${label.padEnd(44)} ${value}`);
const load = (r: LoadResult) =>
  `${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms${r.failed ? `  (${r.failed} failed)` : ''}`;

async function inProcess(csrs: string[]): Promise<void> {
  const policy = parsePolicy(JSON.parse(readFileSync('config/policy.json', 'utf8')), { organization: 'Example Corp', country: 'US' });
  const caKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const signer = createSoftwareSigner(caKey);
  const issuer = { subjectDer: caSubjectDer({ C: 'US', O: 'Example Corp', CN: 'Example Corp Issuing CA G1' }), keyIdentifier: keyIdentifierOf(signer.publicKey), notAfter: new Date(Date.now() + 20 * 365 * 86_400_000), signer };
  const r = await measurePipeline(csrs, policy, issuer, caKey);
  console.log(`\n1. Issuance CPU, in process, single thread, EC P-256 (${csrs.length} distinct CSRs × 5 rounds; median (min–max) per certificate)`);
  row('fast path: parse, verify, policy, build, sign, PEM', `${us(r.fast)}  = ${Math.round(1e6 / r.fast.median)}/s`);
  row('  CPU (user + system, all threads)', `${r.fastCpu.toFixed(1).padStart(8)} µs`);
  row('cryptographic floor (same CSRs, same run)', us(r.floor));
  row('  load the public key and verify the CSR', us(r.loadAndVerify));
  row('    of which loading the key (JWK)', us(r.loadKey));
  row('    (verifying again with a used key)', us(r.verifyWarm));
  row('  sign (node:crypto, P-256, the bare yardstick)', us(r.signOnly));
  row('everything that is not cryptography (measured)', `${us(r.nonCrypto)}  (target ≤ 20 µs)`);
  row('  fast path − floor (same run)', `${(r.fast.median - r.floor.median).toFixed(1).padStart(8)} µs`);
  row('fast path / floor (per pair of rounds)', `${r.ratio.median.toFixed(2).padStart(8)} ×  (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)}; target ≤ 1.2 ×)`);
  row('reference path (@peculiar/x509 builder)', `${us(r.reference)}  = ${(r.reference.median / r.fast.median).toFixed(1)} × the fast path`);
  const kq = measureKeyQuality();
  row('RSA 2048 weak-key tests, per key', `${us(kq.checks)}  (target ≤ 1000 µs; the one modexp alone ${kq.exponentiation.median.toFixed(0)} µs)`);
}

/** Per certificate: each kind of item written (or read) `count / n` times, at its median size. */
function perCertificate(sizes: Map<string, number[]>, n: number): number[] {
  const out: number[] = [];
  for (const list of sizes.values()) {
    const sorted = [...list].sort((a, b) => a - b);
    for (let i = 0; i < Math.round(list.length / n); i++) out.push(sorted[Math.floor(sorted.length / 2)]!);
  }
  return out;
}

type LedgerMeasures = Pick<Measured, 'kmsSignsPerCert' | 'writeBytes' | 'readBytes' | 'logBytesPerRequest' | 'inProcessUs' | 'lotsAndLog'>;

const BENCH_ENV = {
  JITP_ROLE_ARN: 'arn:aws:iam::111122223333:role/jitp',
  ISSUE_ROLE_ARN: 'arn:aws:iam::111122223333:role/issue',
  LIFECYCLE_ROLE_ARN: 'arn:aws:iam::111122223333:role/lifecycle',
  LOG_SEQUENCER_ROLE_ARN: 'arn:aws:iam::111122223333:role/log-sequencer',
};

/** POST /certificates through the issuing route, in process: the ledger in memory, the KMS fake; µs per request. */
async function routeInProcess(csrs: string[]): Promise<number> {
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-route-'));
  try {
    const config = loadConfig({ ...process.env, ...BENCH_ENV, TABLE_NAME: 'bench-memory', LOCAL_STATE_DIR: stateDir });
    const store = new MemoryStore();
    const kmsClient = new FakeKms().install().client;
    await bootstrap(composeLifecycle(config, { store, kms: kmsClient, iot: new FakeIot().install().client, ...quiet() }).lifecycle);
    const handler = issueRoute(composeIssuing(config, { store, kms: kmsClient, logger: new ByteCountingLogger(), metrics: new ByteCountingMetrics() }));
    const post = (csr: string) => handler(jsonPost({ csr }), lambdaContext());
    for (const csr of csrs.slice(0, 50)) await post(csr);
    const rest = csrs.slice(50);
    const t0 = performance.now();
    for (const csr of rest) await post(csr);
    return ((performance.now() - t0) * 1000) / rest.length;
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function withLedger(csrs: string[]): Promise<LedgerMeasures> {
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-'));
  const { server, endpoint } = await startDynalite();
  const setup = localDynamoClient(endpoint);
  try {
    // KMS and AWS IoT fakes (real signatures), the ledger in dynalite: as deployed, minus the network.
    const env = { TABLE_NAME: 'bench-ledger', LOCAL_STATE_DIR: stateDir, ...BENCH_ENV };
    const config = loadConfig({ ...process.env, ...env });
    await ensureTable(setup, config.tableName);
    const kms = new FakeKms();
    const kmsClient = kms.install().client;
    await bootstrap(composeLifecycle(config, { dynamo: setup, kms: kmsClient, iot: new FakeIot().install().client, ...quiet() }).lifecycle);

    const dynamo = localDynamoClient(endpoint);
    const counts = countRequests(dynamo);
    const sizes = recordItemSizes(dynamo);
    const { issue } = composeIssuing(config, { dynamo, kms: kmsClient, ...quiet() });
    await issueCertificate(issue, { csr: csrs[0]!, stationId: 'bench' });
    counts.clear();
    sizes.writes.clear();
    sizes.reads.clear();
    const signs = kms.callsOf('Sign').length;
    const gets = kms.callsOf('GetPublicKey').length;
    const sample = csrs.slice(1, Math.min(csrs.length, 501));
    const t0 = performance.now();
    for (const csr of sample) await issueCertificate(issue, { csr, stationId: 'bench' });
    const perCert = (performance.now() - t0) / sample.length;
    const n = sample.length;
    console.log(`\n2. AWS round trips per certificate, warm function (${n} new certificates; KMS fake, DynamoDB = dynalite)`);
    row('kms:Sign', `${((kms.callsOf('Sign').length - signs) / n).toFixed(2).padStart(8)}  (target 1)`);
    row('kms:GetPublicKey', `${((kms.callsOf('GetPublicKey').length - gets) / n).toFixed(2).padStart(8)}  (target 0)`);
    for (const [cmd, c] of counts) row(`DynamoDB ${cmd}`, `${(c / n).toFixed(2).padStart(8)}`);
    row('DynamoDB requests in all', `${([...counts.values()].reduce((a, b) => a + b, 0) / n).toFixed(2).padStart(8)}  (3 writes: claim, key index, record; 1 read: the CA pointer after the record)`);
    row('whole use case, sequential (dynalite, fake KMS)', `${(perCert * 1000).toFixed(0).padStart(8)} µs per certificate`);
    const kmsSignsPerCert = (kms.callsOf('Sign').length - signs) / n;
    const writeBytes = perCertificate(sizes.writes, n);
    const readBytes = perCertificate(sizes.reads, n);

    // The request log line and the metrics line of POST /certificates, as the issuing function writes them.
    const logger = new ByteCountingLogger();
    const metrics = new ByteCountingMetrics();
    const handler = issueRoute(composeIssuing(config, { dynamo, kms: kmsClient, logger, metrics }));
    const logged = csrs.slice(Math.min(csrs.length, 501), csrs.length);
    for (const csr of logged) {
      const res = await handler(jsonPost({ csr }), lambdaContext());
      if (res.statusCode !== 201) throw new Error(`POST /certificates answered ${res.statusCode}: ${res.body}`);
    }
    const logBytesPerRequest = (logger.bytes + metrics.bytes) / logged.length;
    dynamo.destroy();
    const lotsAndLog = await measureLotsAndLog({ config, endpoint, kms, kmsClient, iotClient: new FakeIot().install().client, sequencerMemoryMb: memoryOf('sequenceLog') });
    return { kmsSignsPerCert, writeBytes, readBytes, logBytesPerRequest, lotsAndLog, inProcessUs: await routeInProcess(makeCsrs(550, `bench-route-${Date.now().toString(36)}`)) };
  } finally {
    setup.destroy();
    server.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * Stand-ins for what the issuing function calls on its first request, reached
 * over HTTP as in AWS: DynamoDB (dynalite) and KMS (the fake's JSON protocol on
 * a loopback server), with a CA bootstrapped into them. The SDK in the bundle is
 * pointed at them by AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_KMS.
 */
async function firstRequestStandIns(tableName: string, events: number): Promise<{ setup: FirstRequestSetup; stop(): Promise<void> }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-first-'));
  const { server: dynalite, endpoint } = await startDynalite();
  const dynamo = localDynamoClient(endpoint);
  const kms = new FakeKms();
  const kmsHttp = kms.httpHandler();
  const kmsServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void kmsHttp.handle({ headers: req.headers as Record<string, string>, body: new Uint8Array(Buffer.concat(chunks)) } as never).then(({ response }) => {
        res.writeHead(response.statusCode, response.headers);
        res.end(Buffer.from(response.body as Uint8Array));
      });
    });
  });
  await new Promise<void>((ok) => kmsServer.listen(0, '127.0.0.1', ok));
  const kmsPort = (kmsServer.address() as AddressInfo).port;
  const config = loadConfig({ ...process.env, ...BENCH_ENV, TABLE_NAME: tableName, LOCAL_STATE_DIR: stateDir });
  await ensureTable(dynamo, tableName);
  await bootstrap(composeLifecycle(config, { dynamo, kms: kms.install().client, iot: new FakeIot().install().client, ...quiet() }).lifecycle);
  return {
    setup: {
      fn: 'issueCertificate',
      env: { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${kmsPort}` },
      events: makeCsrs(events, `bench-first-${Date.now().toString(36)}`).map((csr) => jsonPost({ csr })),
      expectStatus: 201,
    },
    stop: async () => {
      dynamo.destroy();
      await new Promise((ok) => kmsServer.close(ok));
      await new Promise((ok) => dynalite.close(ok));
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function bundles(): Promise<number> {
  const { measureBundles, SAMPLES, BENCH_STAGE } = await import('./bundles.js');
  const standIns = await firstRequestStandIns(`factory-ca-${BENCH_STAGE}-ledger`, 2 * SAMPLES);
  let infos: Awaited<ReturnType<typeof measureBundles>>;
  try {
    infos = await measureBundles(undefined, standIns.setup);
  } finally {
    await standIns.stop();
  }
  console.log(`\n3. Cold start: esbuild bundles (ESM, minified, AWS SDK bundled) and module initialisation (fresh node, ${SAMPLES} samples)`);
  for (const b of infos) {
    const mb = memoryOf(b.fn);
    const atSize = b.initMs.median / Math.min(1, mb / ASSUMED.mbPerVcpu);
    row(
      b.fn,
      `${(b.bytes / 1024).toFixed(0).padStart(6)} KiB   init ${b.initMs.median.toFixed(0)} ms (${b.initMs.min.toFixed(0)}–${b.initMs.max.toFixed(0)})   ${String(mb).padStart(4)} MB ≈ ${atSize.toFixed(0)} ms   holds: ${b.holds.join(', ') || '—'}`,
    );
  }
  console.log(`  (MB: serverless.yml's memory size; ≈ ms: the init scaled to that size's CPU share, MB / ${ASSUMED.mbPerVcpu}, an estimate)`);
  console.log('  (targets: issueCertificate ≤ 1024 KiB and init ≤ 150 ms; every other function init ≤ 200 ms)');
  const issuing = infos.find((b) => b.fn === 'issueCertificate')!;
  if (issuing.requests) {
    const { first, second } = issuing.requests;
    row('issueCertificate: first request after init', `${first.median.toFixed(1).padStart(8)} ms  (${first.min.toFixed(1)}–${first.max.toFixed(1)})  DynamoDB and KMS over loopback HTTP`);
    row('  the request after it (warm)', `${second.median.toFixed(1).padStart(8)} ms  (${second.min.toFixed(1)}–${second.max.toFixed(1)})`);
    row('  deferred into the first request', `${(first.median - second.median).toFixed(1).padStart(8)} ms  (clients, credentials, the CA and its key: loaded once)`);
  }
  return issuing.initMs.median;
}

/** The memory size serverless.yml gives a function: its own, or the provider's. */
function memoryOf(fn: string): number {
  const yml = readFileSync('serverless.yml', 'utf8');
  const own = new RegExp(`\\n  ${fn}:\\n(?:    .*\\n)*?    memorySize: (\\d+)`).exec(yml);
  const provider = /\nprovider:\n(?:  .*\n)*?  memorySize: (\d+)/.exec(yml);
  return Number(own?.[1] ?? provider?.[1] ?? 1024);
}

async function localApi(): Promise<void> {
  const stack = await startBenchStack();
  try {
    const r = await benchLocalApi(stack.baseUrl, HTTP_N);
    console.log(`\n4. The local API over HTTP (serverless-offline + dynalite; ${HTTP_N} distinct CSRs per run)`);
    row('POST /certificates, concurrency 1', load(r.issue1));
    row('POST /certificates, concurrency 8', load(r.issue8));
    row('no-op route (GET /health), concurrency 1', load(r.noop1));
    row('no-op route (GET /health), concurrency 8', load(r.noop8));
    row('issuing route / emulator ceiling, c1 | c8', `${(r.issue1.perSecond / r.noop1.perSecond).toFixed(2)} | ${(r.issue8.perSecond / r.noop8.perSecond).toFixed(2)}`);
  } finally {
    await stack.stop();
  }
}

async function cfssl(csrs: string[]): Promise<void> {
  const { cfsslAvailable, startCfssl, benchCfssl } = await import('./cfssl.js');
  if (!cfsslAvailable()) {
    console.log('\n5. cfssl: not installed (apt-get install -y golang-cfssl), skipped as asked for with --peer cfssl');
    return;
  }
  const peer = await startCfssl();
  try {
    const stack = await startBenchStack();
    try {
      const sample = csrs.slice(0, HTTP_N);
      const c1 = await benchCfssl(peer.baseUrl, peer.pid, sample, 1);
      const c8 = await benchCfssl(peer.baseUrl, peer.pid, sample, 8);
      const ours = await benchLocalApi(stack.baseUrl, HTTP_N);
      console.log(`\n5. Peer: cfssl serve on loopback, the same kind of CSRs (${sample.length})`);
      row('cfssl /api/v1/cfssl/sign, concurrency 1', `${load(c1)}  server CPU ${c1.serverCpuMsPerCert.toFixed(2)} ms/cert`);
      row('cfssl /api/v1/cfssl/sign, concurrency 8', `${load(c8)}  server CPU ${c8.serverCpuMsPerCert.toFixed(2)} ms/cert`);
      row('factory-ca local POST /certificates, c1', load(ours.issue1));
      row('factory-ca local POST /certificates, c8', load(ours.issue8));
    } finally {
      await stack.stop();
    }
  } finally {
    await peer.stop();
  }
}

async function crls(): Promise<void> {
  const measures = await measureCrl(CRL_SIZES);
  console.log('\n8. CRLs: buildCrl with a software P-256 signer (random serials, sorted; reasons mixed; one run per size)');
  const ms = (n: number) => `${n.toFixed(1).padStart(8)} ms`;
  const mb = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)} MB`;
  const size = (bytes: number) => (bytes < 10 * 1024 * 1024 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  for (const m of measures) {
    const label = `${m.entries.toLocaleString('en-US')} entries${m.layout === 'scattered' ? ', objects scattered' : ''}`;
    row(label, `build ${ms(m.buildMs)}   sign ${ms(m.signMs)}   ${size(m.bytes)} DER`);
    row('  read back (readCrlInfo)', ms(m.readMs));
    row('  memory growth across buildCrl', `RSS peak ${mb(m.peakRssMb)}, after ${mb(m.rssMb)}   heap ${mb(m.heapMb)}   ArrayBuffers ${mb(m.arrayBuffersMb)}`);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`factory-ca benchmark — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
  if (args.cold) {
    await bundles();
    console.log(`\n(done in ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }
  if (args.cost) {
    const ledger = await withLedger(makeCsrs(601, `bench-db-${Date.now().toString(36)}`));
    printCost({ ...ledger, initMs: Number.NaN, memoryMb: memoryOf('issueCertificate') }, row);
    console.log(`\n(done in ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }
  const csrs = makeCsrs(N, `bench-${Date.now().toString(36)}`);
  await inProcess(csrs);
  if (!args.quick) {
    const ledger = await withLedger(makeCsrs(601, `bench-db-${Date.now().toString(36)}`));
    const initMs = await bundles();
    await localApi();
    if (args.peer === 'cfssl') await cfssl(csrs);
    const measured: Measured = { ...ledger, initMs, memoryMb: memoryOf('issueCertificate') };
    printCost(measured, row);
    printMemoryTable(measured, row);
  } else if (args.peer === 'cfssl') await cfssl(csrs);
  // Last: a million entries take hundreds of MB, which the other sections should not share.
  await crls();
  console.log(`\n(done in ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
