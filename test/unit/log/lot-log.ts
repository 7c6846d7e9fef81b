/**
 * An issuance log in memory for the lot report's tests: entries in the exact
 * form the sequencer logs them (keys in the specification's order), real
 * device certificates from the project's own builders, a MemoryTree, and
 * checkpoints signed with a fresh P-256 log key.
 */
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { formatVerifierKey, noteKey, signCheckpoint } from '../../../src/log/checkpoint.js';
import { assembleLotReport, formatLotReport, type LotReport, type ProvenEntry } from '../../../src/log/lot-report.js';
import { MemoryTree, inclusionProof } from '../../../src/log/merkle.js';
import { certificateParts } from '../../../src/pki/certificate.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { toPem } from '../../../src/pki/pem.js';
import { deviceValidity } from '../../../src/pki/profile.js';
import { newSerial } from '../../../src/pki/serial.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';
import { createIssuingCa, createRootCa } from '../../../src/service/ca-setup.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { NAMING } from '../../helpers/shipped-config.js';

export const ORIGIN = 'factory-ca/test';
const T = '2026-11-30T12:00:00.000Z';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The four entry types, keys in the logged order (absent optional keys omitted). */
export const entries = {
  lotOpened: (lotId: string, quota: number, product = 'sensor-x') => ({ v: 1, type: 'lot-opened', lotId, product, quota, closesAt: '2026-12-31T00:00:00.000Z', openedAt: T }),
  issued: (c: DeviceCertificate, lotId?: string, lotSeq?: number) => ({
    v: 1, type: 'issued', serialNumber: c.serialNumber, certificateSha256: c.sha256, issuingCaId: 'issuing-1', commonName: c.commonName, stationId: 'station-a', issuedAt: T,
    ...(lotId === undefined ? {} : { lotId, lotSeq }),
  }),
  revoked: (c: DeviceCertificate, lotId?: string, lotRevocationSeq?: number) => ({
    v: 1, type: 'revoked', serialNumber: c.serialNumber, certificateSha256: c.sha256, issuingCaId: 'issuing-1', reason: 'keyCompromise', revokedAt: T,
    ...(lotId === undefined ? {} : { lotId, lotRevocationSeq }),
  }),
  lotClosed: (lotId: string, issued: number) => ({ v: 1, type: 'lot-closed', lotId, closedAt: T, issued }),
};

export interface DeviceCertificate {
  pem: string;
  serialNumber: string;
  sha256: string;
  commonName: string;
}

/** `n` device certificates of one issuing CA. */
export async function deviceCertificates(n: number): Promise<DeviceCertificate[]> {
  const clock = () => new Date();
  const rootSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
  const issuingSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
  const root = await createRootCa({ ref: { kind: 'software', file: 'root' }, signer: rootSigner }, NAMING, clock);
  const issuing = await createIssuingCa({ ref: { kind: 'software', file: 'issuing-1' }, signer: issuingSigner }, { record: root, signer: rootSigner }, NAMING, clock, undefined, { generation: 1 });
  const issuer = {
    subjectDer: certificateParts(new Uint8Array(new X509Certificate(issuing.certificatePem).raw)).subjectDer,
    keyIdentifier: issuing.keyIdentifier,
    notAfter: new Date(issuing.notAfter),
    signer: issuingSigner,
  };
  const out: DeviceCertificate[] = [];
  for (let i = 0; i < n; i++) {
    const commonName = `device-${String(i).padStart(4, '0')}`;
    const csr = parseCsr(buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(commonName) }) }));
    const { der } = await fastDeviceCertificate(csr, issuer, newSerial(), deviceValidity(clock(), 365, 300, issuer.notAfter));
    const cert = new X509Certificate(Buffer.from(der));
    out.push({ pem: toPem('CERTIFICATE', der), serialNumber: cert.serialNumber.toLowerCase(), sha256: createHash('sha256').update(der).digest('hex'), commonName });
  }
  return out;
}

/** The log: entries appended to a MemoryTree, checkpoints signed by its key. */
export class TestLog {
  readonly tree = new MemoryTree();
  readonly entries: Uint8Array[] = [];
  readonly signer: Signer;
  readonly publicKeyPem: string;
  readonly verifierKey: string;

  constructor(privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey) {
    this.signer = createSoftwareSigner(privateKey, {});
    this.publicKeyPem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
    this.verifierKey = formatVerifierKey(noteKey(ORIGIN, this.signer.publicKey));
  }

  get size(): number {
    return this.tree.size;
  }

  /** Appends an entry (JSON.stringify of the object); returns its leaf index. */
  append(entry: object): number {
    const bytes = new TextEncoder().encode(JSON.stringify(entry));
    this.entries.push(bytes);
    return this.tree.appendEntry(bytes);
  }

  entryAt(index: number): Record<string, unknown> {
    return JSON.parse(new TextDecoder().decode(this.entries[index])) as Record<string, unknown>;
  }

  readonly #checkpoints = new Map<number, Promise<string>>();

  /** The checkpoint of a size, signed once: an ECDSA signature differs each time. */
  checkpoint(size = this.size): Promise<string> {
    if (!this.#checkpoints.has(size)) this.#checkpoints.set(size, signCheckpoint({ origin: ORIGIN, size, rootHash: this.tree.root(size) }, { name: ORIGIN, signer: this.signer }));
    return this.#checkpoints.get(size)!;
  }

  async prove(index: number, size = this.size): Promise<ProvenEntry> {
    return { leafIndex: index, entry: Buffer.from(this.entries[index]!).toString('base64'), auditPath: (await inclusionProof(index, size, this.tree)).map(hex) };
  }
}

export interface LotCertificate extends DeviceCertificate {
  index: number;
  revocationIndex?: number;
}

export interface LotLog {
  log: TestLog;
  lotId: string;
  quota: number;
  openedIndex: number;
  closedIndex?: number;
  /** The lot's certificates, in lotSeq order. */
  certificates: LotCertificate[];
  /** A certificate of another lot, and one of no lot. */
  strangers: LotCertificate[];
  /** The report at a tree size (default: the whole log), built as the command line builds it. */
  report(size?: number, change?: (parts: ReportParts) => void): Promise<LotReport>;
  text(size?: number): Promise<string>;
}

export interface ReportParts {
  lot: ProvenEntry;
  closed?: ProvenEntry;
  certificates: { certificatePem: string; issued: ProvenEntry; revocation?: ProvenEntry }[];
}

/**
 * A log holding a lot of `issue` certificates among other entries (another
 * lot's, certificates of no lot), the lot's certificates of indexes in
 * `revoke` (0-based) revoked, the lot closed when `close`.
 */
export async function lotLog(options: { lotId?: string; quota?: number; issue?: number; revoke?: number[]; close?: boolean; devices?: DeviceCertificate[] } = {}): Promise<LotLog> {
  const { lotId = 'LOT-2026-11-A', quota = 10, issue = 4, revoke = [1], close = true } = options;
  const devices = options.devices ?? (await deviceCertificates(issue + 2));
  const log = new TestLog();
  const other = devices[issue]!;
  const loose = devices[issue + 1]!;
  log.append(entries.lotOpened('LOT-OTHER', 5));
  const openedIndex = log.append(entries.lotOpened(lotId, quota));
  const certificates: LotCertificate[] = [];
  for (let i = 0; i < issue; i++) {
    if (i === 1) log.append(entries.issued(loose));
    if (i === 2) log.append(entries.issued(other, 'LOT-OTHER', 1));
    certificates.push({ ...devices[i]!, index: log.append(entries.issued(devices[i]!, lotId, i + 1)) });
  }
  const strangers = [
    { ...other, index: log.entries.findIndex((_, i) => log.entryAt(i).serialNumber === other.serialNumber) },
    { ...loose, index: log.entries.findIndex((_, i) => log.entryAt(i).serialNumber === loose.serialNumber) },
  ];
  revoke.forEach((r, n) => (certificates[r]!.revocationIndex = log.append(entries.revoked(certificates[r]!, lotId, n + 1))));
  const closedIndex = close ? log.append(entries.lotClosed(lotId, issue)) : undefined;
  log.append(entries.lotClosed('LOT-OTHER', 1));

  const report = async (size = log.size, change?: (parts: ReportParts) => void) => {
    const parts: ReportParts = {
      lot: await log.prove(openedIndex, size),
      ...(closedIndex !== undefined && closedIndex < size ? { closed: await log.prove(closedIndex, size) } : {}),
      certificates: await Promise.all(
        certificates
          .filter((c) => c.index < size)
          .map(async (c) => ({
            certificatePem: c.pem,
            issued: await log.prove(c.index, size),
            ...(c.revocationIndex !== undefined && c.revocationIndex < size ? { revocation: await log.prove(c.revocationIndex, size) } : {}),
          })),
      ),
    };
    change?.(parts);
    return assembleLotReport({ checkpoint: await log.checkpoint(size), ...parts });
  };
  return { log, lotId, quota, openedIndex, ...(closedIndex === undefined ? {} : { closedIndex }), certificates, strangers, report, text: async (size) => formatLotReport(await report(size)) };
}
