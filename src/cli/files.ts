/**
 * Files the command line reads and writes: CSRs in PEM or DER, and outputs
 * written atomically (a temporary name in the same folder, then a rename), so
 * that a killed run leaves either the old file, the new one, or none.
 */
import { createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliError, EXIT } from './errors.js';

const TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

/** Removes the temporary files a killed run left in `dir`. */
export async function removeLeftovers(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => TEMP.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

export interface CsrFile {
  path: string;
  /** What is sent: the PEM (or base64) text, or the DER bytes. */
  body: string | Uint8Array;
  der?: Uint8Array;
}

const PEM_CSR = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/;

export function readCsrFile(path: string): CsrFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot read the CSR ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (bytes.length === 0) throw new CliError(EXIT.FAILED, `the CSR file ${path} is empty`);
  if (bytes[0] === 0x30) return { path, body: new Uint8Array(bytes), der: new Uint8Array(bytes) };
  const text = bytes.toString('utf8');
  const pem = PEM_CSR.exec(text);
  return { path, body: text, ...(pem ? { der: new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64')) } : {}) };
}

/** Whether a file in a CSR folder is a CSR: *.csr, *.req, *.der, or a *.pem holding a certificate request. */
export function looksLikeCsr(name: string, read: () => Buffer): boolean {
  if (/\.(csr|req|der)$/i.test(name)) return true;
  if (!/\.pem$/i.test(name)) return false;
  return PEM_CSR.test(read().toString('utf8'));
}

/** One DER element: where its content starts and where it ends. */
function element(der: Uint8Array, at: number): { tag: number; start: number; end: number } {
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 3) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!;
    start += n;
  }
  if (start + length > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + length };
}

/**
 * The public key of a CSR (CertificationRequest → CertificationRequestInfo →
 * version, subject, subjectPKInfo), or undefined when it cannot be read: the
 * service is the judge of a CSR, this is only for matching outputs to it.
 */
export function csrPublicKey(csr: CsrFile): KeyObject | undefined {
  if (!csr.der) return undefined;
  try {
    const request = element(csr.der, 0);
    const info = element(csr.der, request.start);
    const version = element(csr.der, info.start);
    const subject = element(csr.der, version.end);
    const spkiAt = subject.end;
    const spki = element(csr.der, spkiAt);
    return createPublicKey({ key: Buffer.from(csr.der.subarray(spkiAt, spki.end)), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** The four files of one device, as the API returns them. */
export interface DeviceFiles {
  certificatePem: string;
  certificateChainPem: string;
  caCertificatePem: string;
  rootCertificatePem: string;
}

export const OUTPUT_NAMES = { device: 'device.pem', chain: 'deviceCertAndCACert.crt', issuing: 'issuing.pem', root: 'root.pem' } as const;

/** Writes the CA files and the chain first, device.pem last: a device.pem means the four are there. */
export async function writeDeviceFiles(dir: string, files: DeviceFiles): Promise<string[]> {
  const paths = [OUTPUT_NAMES.issuing, OUTPUT_NAMES.root, OUTPUT_NAMES.chain, OUTPUT_NAMES.device].map((n) => join(dir, n));
  await writeFileAtomic(paths[0]!, files.caCertificatePem);
  await writeFileAtomic(paths[1]!, files.rootCertificatePem);
  await writeFileAtomic(paths[2]!, files.certificateChainPem);
  await writeFileAtomic(paths[3]!, files.certificatePem);
  return [paths[3]!, paths[2]!, paths[0]!, paths[1]!];
}

export interface CertificateFacts {
  serialNumber: string;
  commonName: string;
  notAfter: string;
}

export function factsOf(cert: X509Certificate): CertificateFacts {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  return { serialNumber: cert.serialNumber.toLowerCase(), commonName: cn, notAfter: new Date(cert.validTo).toISOString() };
}

/**
 * The certificate already written for this CSR in `dir`, when all four files
 * are there and agree: device.pem certifies the CSR's key, is signed by
 * issuing.pem, which the root signed, and the chain file is device then issuing.
 */
export function existingDeviceFiles(dir: string, key: KeyObject | undefined): CertificateFacts | undefined {
  if (!key) return undefined;
  try {
    const read = (n: string) => readFileSync(join(dir, n), 'utf8');
    const [devicePem, chainPem, issuingPem, rootPem] = [read(OUTPUT_NAMES.device), read(OUTPUT_NAMES.chain), read(OUTPUT_NAMES.issuing), read(OUTPUT_NAMES.root)];
    const device = new X509Certificate(devicePem);
    const issuing = new X509Certificate(issuingPem);
    const root = new X509Certificate(rootPem);
    const ok =
      device.publicKey.equals(key) &&
      device.checkIssued(issuing) &&
      device.verify(issuing.publicKey) &&
      issuing.verify(root.publicKey) &&
      chainPem.replace(/\s+/g, '') === (devicePem + issuingPem).replace(/\s+/g, '');
    return ok ? factsOf(device) : undefined;
  } catch {
    return undefined;
  }
}
