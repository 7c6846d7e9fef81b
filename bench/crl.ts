/**
 * CRLs of N entries: built (src/pki/crl.ts), signed once by a software P-256
 * signer, read back (readCrlInfo). Serials are random, as the CA makes them,
 * sorted; reasons mixed; revocation times spread over a year.
 *
 * The entries are made in list order, as a store read page by page hands them
 * over, so each entry's object, serial and date sit side by side in memory.
 * The same list with its objects scattered across the heap (made in random
 * order, then sorted) is measured too for the largest size: walking a million
 * scattered objects costs more than writing the bytes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { buildCrl, readCrlInfo, type CrlEntry, type CrlReason } from '../src/pki/crl.js';
import { keyIdentifierOf } from '../src/pki/keys.js';
import { caSubjectDer } from '../src/pki/profile.js';
import { newSerial } from '../src/pki/serial.js';
import { createSoftwareSigner, type Signer } from '../src/pki/signer.js';

export interface CrlMeasure {
  entries: number;
  /** 'list order': objects made in the order of the list; 'scattered': made in random order, then sorted. */
  layout: 'list order' | 'scattered';
  /** buildCrl minus the signature: checks, TBSCertList, CertificateList. */
  buildMs: number;
  /** The signer's sign(): SHA-256 over the TBSCertList and one P-256 signature. */
  signMs: number;
  /** readCrlInfo over the result. */
  readMs: number;
  bytes: number;
  /** Growth across buildCrl, MB: resident set (after − before, and its peak during the build − before), the V8 heap, ArrayBuffers. */
  rssMb: number;
  peakRssMb: number;
  heapMb: number;
  arrayBuffersMb: number;
}

const REASONS: CrlReason[] = ['keyCompromise', 'superseded', 'cessationOfOperation', 'unspecified', 'affiliationChanged', 'privilegeWithdrawn'];
const YEAR_MS = 365 * 86_400_000;
const MB = 1024 * 1024;

/** Collects garbage between measurements, so growth is growth (gc exposed for this process if it is not already). */
function collectGarbage(): void {
  const g = globalThis as { gc?: () => void };
  if (!g.gc) {
    setFlagsFromString('--expose-gc');
    g.gc = runInNewContext('gc') as () => void;
  }
  g.gc();
}

/**
 * The process's resident set, sampled every millisecond by a worker thread
 * (which runs while buildCrl holds the main thread): its highest value.
 */
const SAMPLER = `
const { parentPort } = require('node:worker_threads');
let peak = process.memoryUsage.rss();
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 1);
parentPort.once('message', () => {
  clearInterval(timer);
  parentPort.postMessage(Math.max(peak, process.memoryUsage.rss()));
});
`;

async function startRssSampler(): Promise<() => Promise<number>> {
  const worker = new Worker(SAMPLER, { eval: true });
  await once(worker, 'online');
  return async () => {
    worker.postMessage('stop');
    const [peak] = (await once(worker, 'message')) as [number];
    await worker.terminate();
    return peak;
  };
}

/** `count` entries sorted by serial (random serials are all 32 digits: string order is numeric order). */
function makeEntries(count: number, layout: CrlMeasure['layout'], now: number): CrlEntry[] {
  const serials = Array.from({ length: count }, () => newSerial()).sort();
  const entry = (serialNumber: string, i: number): CrlEntry => ({
    serialNumber,
    revokedAt: new Date(now - YEAR_MS + Math.floor((i * YEAR_MS) / count)),
    reason: REASONS[i % REASONS.length]!,
  });
  if (layout === 'list order') {
    // A fresh copy of each serial, made with its entry.
    return serials.map((s, i) => entry(Buffer.from(s, 'hex').toString('hex'), i));
  }
  const order = serials.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const entries = new Array<CrlEntry>(count);
  for (const i of order) entries[i] = entry(Buffer.from(serials[i]!, 'hex').toString('hex'), i);
  return entries;
}

async function measureOne(signer: Signer, issuer: { subjectDer: Uint8Array; keyIdentifier: string }, count: number, layout: CrlMeasure['layout']): Promise<CrlMeasure> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  let entries: CrlEntry[] | undefined = makeEntries(count, layout, now);
  let signMs = 0;
  const timed: Signer = {
    ...signer,
    sign: async (tbs) => {
      const t = performance.now();
      const signature = await signer.sign(tbs);
      signMs += performance.now() - t;
      return signature;
    },
  };
  collectGarbage();
  const stopSampler = await startRssSampler();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const der = await buildCrl({
    issuer: { ...issuer, signer: timed },
    crlNumber: BigInt(count),
    thisUpdate: new Date(now),
    nextUpdate: new Date(now + 7 * 86_400_000),
    entries,
  });
  const totalMs = performance.now() - t0;
  const after = process.memoryUsage();
  const peak = await stopSampler();
  entries = undefined;
  const t1 = performance.now();
  const info = readCrlInfo(der);
  const readMs = performance.now() - t1;
  if (info.entryCount !== count) throw new Error(`the CRL reads back with ${info.entryCount} entries, not ${count}`);
  return {
    entries: count,
    layout,
    buildMs: totalMs - signMs,
    signMs,
    readMs,
    bytes: der.length,
    rssMb: (after.rss - before.rss) / MB,
    peakRssMb: (peak - before.rss) / MB,
    heapMb: (after.heapUsed - before.heapUsed) / MB,
    arrayBuffersMb: (after.arrayBuffers - before.arrayBuffers) / MB,
  };
}

/**
 * Builds, signs and reads back one CRL per size (after a warm-up round of
 * 1,000 entries); for the largest size, also with the entries scattered.
 */
export async function measureCrl(sizes: number[] = [1_000, 1_000_000]): Promise<CrlMeasure[]> {
  const signer = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const issuer = { subjectDer: caSubjectDer({ C: 'US', O: 'Example Corp', CN: 'Example Corp Issuing CA G1' }), keyIdentifier: keyIdentifierOf(signer.publicKey) };
  for (let i = 0; i < 5; i++) await measureOne(signer, issuer, 1_000, 'list order');
  const out: CrlMeasure[] = [];
  for (const size of sizes) out.push(await measureOne(signer, issuer, size, 'list order'));
  const largest = Math.max(...sizes);
  if (largest >= 100_000) out.push(await measureOne(signer, issuer, largest, 'scattered'));
  collectGarbage();
  return out;
}
