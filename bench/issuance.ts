/**
 * Issuance benchmark: prints per-certificate CPU of the in-process pipeline
 * (parse → verify → policy → build+sign, software P-256 signer, no database),
 * and of the whole use case against in-process dynalite. Figures only, no asserts.
 *
 *   npm run bench            (N=2000 by default; BENCH_N to change)
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptRequest, type StageTimings } from '../src/pki/request.js';
import { parsePolicy } from '../src/pki/policy.js';
import { buildDeviceCertificate, deviceValidity } from '../src/pki/profile.js';
import { newSerial } from '../src/pki/serial.js';
import { toPem } from '../src/pki/pem.js';
import { loadConfig } from '../src/config/config.js';
import { createApp } from '../src/app.js';
import { issueCertificate } from '../src/service/issue-certificate.js';
import { bootstrapLocalCa, ensureTable, localDynamoClient, startDynalite } from '../src/local/local-stack.js';
import { buildCsr, STRING, subject } from '../test/helpers/csr-builder.js';

const N = Number(process.env.BENCH_N ?? 2000);
const policy = parsePolicy(JSON.parse(readFileSync('config/policy.json', 'utf8')), { organization: 'Example Corp' });

async function main() {
  console.log(`node ${process.version}, ${N} EC P-256 CSRs`);
  const csrs = Array.from({ length: N }, (_, i) =>
    buildCsr({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, subjectDer: subject({ CN: STRING.utf8(`bench-${i}`) }) }),
  );

  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-bench-'));
  const { server, endpoint } = await startDynalite();
  const client = localDynamoClient(endpoint);
  const config = loadConfig({ TABLE_NAME: 'bench-ledger', ALLOW_SOFTWARE_SIGNER: 'true', IOT_MODE: 'dry-run', LOCAL_STATE_DIR: stateDir });
  const quiet = { info() {}, warn() {}, error() {} };
  await ensureTable(client, config.tableName);
  await bootstrapLocalCa(client, config, quiet);
  const app = createApp(config, { dynamo: client, logger: quiet });
  const ca = await app.cas.activeIssuer();

  // 1. In-process pipeline, no database.
  const timings: StageTimings = {};
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const csr of csrs) {
    const accepted = acceptRequest(csr, policy, timings);
    const s = performance.now();
    const built = await buildDeviceCertificate(accepted.csr, ca.issuer, newSerial(), deviceValidity(new Date(), 3650, 300, ca.issuer.notAfter));
    toPem('CERTIFICATE', built.der);
    timings.buildSignPem = (timings.buildSignPem ?? 0) + performance.now() - s;
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log('\nin-process pipeline (no database), per certificate:');
  for (const [k, v] of Object.entries(timings)) console.log(`  ${k.padEnd(14)} ${(v / N).toFixed(3)} ms`);
  console.log(`  ${'total wall'.padEnd(14)} ${(wall / N).toFixed(3)} ms  (${Math.round((N * 1000) / wall)}/s)`);
  console.log(`  ${'total CPU'.padEnd(14)} ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms (user+system, all threads)`);

  // 2. The whole use case with the DynamoDB ledger (dynalite, in process).
  const fresh = csrs.map((_, i) =>
    buildCsr({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, subjectDer: subject({ CN: STRING.utf8(`bench-db-${i}`) }) }),
  ).slice(0, Math.min(N, 500));
  const t1 = performance.now();
  for (const csr of fresh) await issueCertificate(app.issue, { csr, stationId: 'bench' });
  const wall2 = performance.now() - t1;
  console.log(`\nissueCertificate with the dynalite ledger (${fresh.length} sequential): ${(wall2 / fresh.length).toFixed(3)} ms per certificate`);

  client.destroy();
  server.close();
  rmSync(stateDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
