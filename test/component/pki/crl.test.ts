import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateParts } from '../../../src/pki/certificate.js';
import { buildCrl, readCrlInfo, type CrlEntry, type CrlReason } from '../../../src/pki/crl.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { certificatesFromPem, toPem } from '../../../src/pki/pem.js';
import type { BuiltCertificate, Issuer } from '../../../src/pki/profile.js';
import { newSerial } from '../../../src/pki/serial.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { x509 } from '../../../src/pki/x509.js';
import { createIssuingCa, createRootCa } from '../../../src/service/ca-setup.js';
import type { CaRecord } from '../../../src/service/ports.js';
import { ensureDebianTools } from '../../helpers/debian-tools.js';
import { csrFixture } from '../../helpers/fixtures.js';
import { opensslText, opensslVerify } from '../../helpers/openssl.js';

/**
 * The CRLs the CA builds, checked by the relying parties devices and servers
 * use: OpenSSL (`openssl crl`, `openssl verify -crl_check`) and GnuTLS
 * (`certtool --crl-info`, `--verify-crl`).
 */

const naming = { organization: 'Example Corp', country: 'US' };
const MINUTE = 60_000;
const DAY = 86_400_000;

interface Hierarchy {
  root: CaRecord;
  issuing: CaRecord;
  /** The root and the issuing CA as issuers (of CA certificates and the root's CRL; of device certificates and their CRL). */
  rootIssuer: Issuer;
  issuer: Issuer;
}

const derOf = (pem: string) => certificatesFromPem(pem)[0]!;
const serialOf = (pem: string) => new x509.X509Certificate(derOf(pem).slice()).serialNumber;

/** A root (P-256) and an issuing CA with `issuingKey`, made by the CA's own builders. */
async function hierarchy(issuingKey: KeyObject): Promise<Hierarchy> {
  const rootSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
  const issuingSigner = createSoftwareSigner(issuingKey, {});
  const root = await createRootCa({ ref: { kind: 'software', file: 'root' }, signer: rootSigner }, naming, () => new Date());
  const issuing = await createIssuingCa({ ref: { kind: 'software', file: 'issuing' }, signer: issuingSigner }, { record: root, signer: rootSigner }, naming, () => new Date(), undefined, {
    generation: 1,
  });
  const issuerOf = (record: CaRecord, signer: typeof rootSigner): Issuer => ({
    subjectDer: certificateParts(derOf(record.certificatePem)).subjectDer,
    keyIdentifier: record.keyIdentifier,
    notAfter: new Date(record.notAfter),
    signer,
  });
  return { root, issuing, rootIssuer: issuerOf(root, rootSigner), issuer: issuerOf(issuing, issuingSigner) };
}

/** A device certificate valid now, for the CSR fixture's key. */
function device(issuer: Issuer, csr = 'ec-p256.csr'): Promise<BuiltCertificate> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return fastDeviceCertificate(parseCsr(csrFixture(csr)), issuer, newSerial(), { notBefore: new Date(now - 5 * MINUTE), notAfter: new Date(now + DAY) });
}

/** A CRL valid now (thisUpdate a minute ago, nextUpdate in a week). */
function crlNow(issuer: Issuer, entries: CrlEntry[], crlNumber = 1n): Promise<Uint8Array> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return buildCrl({ issuer, crlNumber, thisUpdate: new Date(now - MINUTE), nextUpdate: new Date(now + 7 * DAY), entries });
}

const revoke = (serialNumber: string, reason: CrlReason = 'keyCompromise'): CrlEntry => ({ serialNumber, revokedAt: new Date(Date.now() - 2 * MINUTE), reason });

/** Runs a tool; its exit status and everything it printed (stdout then stderr). */
function run(tool: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

let dir: string;
let fileCount = 0;
/** Writes a file in the test's directory; returns its path. */
const file = (name: string, content: string | Uint8Array) => {
  const path = join(dir, `${++fileCount}-${name}`);
  writeFileSync(path, content);
  return path;
};

/** `openssl verify -x509_strict -crl_check` (or -crl_check_all) of a device certificate against root + issuing in one CA file. */
function opensslVerifyWithCrls(h: Hierarchy, devicePem: string, crlPems: string[], check: '-crl_check' | '-crl_check_all' = '-crl_check') {
  return run('openssl', [
    'verify', '-x509_strict', '-purpose', 'sslclient', check,
    '-CAfile', file('chain.pem', h.root.certificatePem + h.issuing.certificatePem),
    ...(crlPems.length ? ['-CRLfile', file('crls.pem', crlPems.join(''))] : []),
    file('device.pem', devicePem),
  ]);
}

beforeAll(() => {
  ensureDebianTools('the CRL component tests', [
    { name: 'openssl', check: 'command -v openssl', apt: 'openssl' },
    { name: 'certtool', check: 'command -v certtool', apt: 'gnutls-bin' },
  ]);
  dir = mkdtempSync(join(tmpdir(), 'factory-ca-crl-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
])('The CRL of an issuing CA with a %s key, checked by OpenSSL and GnuTLS', (_, issuingKey) => {
  let h: Hierarchy;
  let revoked: BuiltCertificate;
  let good: BuiltCertificate;
  let crl: Uint8Array;
  let crlPem: string;

  beforeAll(async () => {
    h = await hierarchy(issuingKey());
    [revoked, good] = [await device(h.issuer), await device(h.issuer, 'rsa-2048.csr')];
    crl = await crlNow(h.issuer, [revoke(revoked.serialNumber)], 7n);
    crlPem = toPem('X509 CRL', crl);
  });

  it('openssl crl -verify: "verify OK" with the issuing CA certificate', () => {
    const r = run('openssl', ['crl', '-inform', 'DER', '-in', file('crl.der', crl), '-noout', '-verify', '-CAfile', file('issuing.pem', h.issuing.certificatePem)]);
    expect(r).toEqual({ status: 0, output: 'verify OK\n' });
  });

  it('openssl crl -text: issuer, CRL number, authority key identifier, the entry and its reason', () => {
    const r = run('openssl', ['crl', '-inform', 'DER', '-in', file('crl.der', crl), '-noout', '-text']);
    expect(r.status).toBe(0);
    expect(r.output).toContain('Version 2 (0x1)');
    expect(r.output).toContain('Issuer: C = US, O = Example Corp, CN = Example Corp Issuing CA G1');
    expect(r.output).toMatch(/X509v3 CRL Number: \n\s+7\n/);
    expect(r.output).toContain(h.issuing.keyIdentifier.toUpperCase().match(/../g)!.join(':'));
    expect(r.output).toContain(`Serial Number: ${revoked.serialNumber.toUpperCase()}`);
    expect(r.output).toMatch(/X509v3 CRL Reason Code: \n\s+Key Compromise\n/);
  });

  it('openssl verify -x509_strict -crl_check: the revoked device certificate is refused as revoked, the other one verifies', () => {
    const refused = opensslVerifyWithCrls(h, toPem('CERTIFICATE', revoked.der), [crlPem]);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain('error 23 at 0 depth lookup: certificate revoked');
    expect(opensslVerifyWithCrls(h, toPem('CERTIFICATE', good.der), [crlPem])).toEqual({ status: 0, output: expect.stringMatching(/: OK\n$/) });
    // Without the CRL, -crl_check cannot tell: it refuses rather than pass.
    expect(opensslVerifyWithCrls(h, toPem('CERTIFICATE', good.der), []).output).toContain('unable to get certificate CRL');
  });

  it('certtool --crl-info parses it; --verify-crl verifies it with the issuing CA, not with the root', () => {
    const info = run('certtool', ['--crl-info', '--inder', '--infile', file('crl.der', crl)]);
    expect(info.status).toBe(0);
    expect(info.output).toContain('Version: 2');
    expect(info.output).toContain('CRL Number (not critical): 07');
    expect(info.output).toContain(`Authority Key Identifier (not critical):\n\t\t\t${h.issuing.keyIdentifier}`);
    expect(info.output).toContain(`Revoked certificates (1):\n\t\tSerial Number (hex): ${revoked.serialNumber}`);
    // With --inder, certtool reads the CA certificate as DER too.
    const verify = (ca: CaRecord) => run('certtool', ['--verify-crl', '--load-ca-certificate', file('ca.der', derOf(ca.certificatePem)), '--inder', '--infile', file('crl.der', crl)]);
    const verified = verify(h.issuing);
    expect(verified.status).toBe(0);
    expect(verified.output).toMatch(/^Verification output: Verified\. The certificate is trusted\.\s*$/m);
    const byRoot = verify(h.root);
    expect(byRoot.status).not.toBe(0);
    expect(byRoot.output).toMatch(/Verification output: Not verified\./);
  });

  it('reads back with readCrlInfo as written', () => {
    expect(readCrlInfo(crl)).toMatchObject({ crlNumber: 7n, entryCount: 1 });
    expect(Buffer.from(readCrlInfo(crl).issuerDer).equals(h.issuer.subjectDer)).toBe(true);
  });
});

describe('The root\'s authority revocation list: buildCrl with the root as issuer and CA serials with reason cACompromise', () => {
  it('openssl verify -crl_check_all: devices of a revoked issuing CA are refused at depth 1; with an empty list they verify', async () => {
    const h = await hierarchy(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const cert = toPem('CERTIFICATE', (await device(h.issuer)).der);
    const crl = toPem('X509 CRL', await crlNow(h.issuer, []));
    const emptyArl = toPem('X509 CRL', await crlNow(h.rootIssuer, []));
    const arl = toPem('X509 CRL', await crlNow(h.rootIssuer, [revoke(serialOf(h.issuing.certificatePem), 'cACompromise')], 2n));

    expect(opensslVerifyWithCrls(h, cert, [crl, emptyArl], '-crl_check_all')).toEqual({ status: 0, output: expect.stringMatching(/: OK\n$/) });
    const refused = opensslVerifyWithCrls(h, cert, [crl, arl], '-crl_check_all');
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain('error 23 at 1 depth lookup: certificate revoked');
    expect(run('openssl', ['crl', '-noout', '-text', '-in', file('arl.pem', arl)]).output).toMatch(/X509v3 CRL Reason Code: \n\s+CA Compromise\n/);
  });
});

describe('A CRL of 10,000 entries', () => {
  it('is verified by OpenSSL and GnuTLS, and OpenSSL finds the revoked certificate among them', async () => {
    const h = await hierarchy(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const [revoked, good] = [await device(h.issuer), await device(h.issuer)];
    const reasons: CrlReason[] = ['unspecified', 'keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged', 'privilegeWithdrawn'];
    const entries = [...Array.from({ length: 9_999 }, () => newSerial()), revoked.serialNumber]
      .sort()
      .map((serial, i) => revoke(serial, reasons[i % reasons.length]));
    const crl = await crlNow(h.issuer, entries, 1000n);
    expect(readCrlInfo(crl)).toMatchObject({ entryCount: 10_000, crlNumber: 1000n });

    const verified = run('openssl', ['crl', '-inform', 'DER', '-in', file('big.der', crl), '-noout', '-verify', '-CAfile', file('issuing.pem', h.issuing.certificatePem)]);
    expect(verified).toEqual({ status: 0, output: 'verify OK\n' });
    const crlPem = toPem('X509 CRL', crl);
    expect(opensslVerifyWithCrls(h, toPem('CERTIFICATE', revoked.der), [crlPem]).output).toContain('certificate revoked');
    expect(opensslVerifyWithCrls(h, toPem('CERTIFICATE', good.der), [crlPem])).toEqual({ status: 0, output: expect.stringMatching(/: OK\n$/) });
    const gnutls = run('certtool', ['--verify-crl', '--load-ca-certificate', file('issuing.der', derOf(h.issuing.certificatePem)), '--inder', '--infile', file('big.der', crl)]);
    expect(gnutls.status).toBe(0);
    expect(gnutls.output).toContain('Revoked certificates (10000):');
    expect(gnutls.output).toMatch(/^Verification output: Verified\. The certificate is trusted\.\s*$/m);
  }, 60_000);
});

describe('The CRL distribution point of device certificates', () => {
  it('a device certificate whose issuer has a CRL URL carries it, and passes openssl verify -x509_strict', async () => {
    const h = await hierarchy(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const url = 'http://crl.example.com/factory-ca/issuing-g1.crl';
    for (const csr of ['ec-p256.csr', 'ec-p384.csr', 'rsa-2048.csr']) {
      const pem = toPem('CERTIFICATE', (await device({ ...h.issuer, crlUrl: url }, csr)).der);
      expect(opensslVerify(h.root.certificatePem, h.issuing.certificatePem, pem)).toMatch(/: OK\n$/);
      expect(opensslText(pem)).toMatch(new RegExp(`X509v3 CRL Distribution Points: \\n\\s+Full Name:\\n\\s+URI:${url.replace(/\./g, '\\.')}\\n`));
    }
    // Without one, no such extension.
    expect(opensslText(toPem('CERTIFICATE', (await device(h.issuer)).der))).not.toContain('CRL Distribution Points');
  });

  it('a device certificate with a CRL URL is refused once its CRL revokes it (the CRL given to openssl, as a client that fetched it would)', async () => {
    const h = await hierarchy(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    const issuer = { ...h.issuer, crlUrl: 'https://pki.example.com/crl/g1.crl' };
    const cert = await device(issuer);
    const crl = toPem('X509 CRL', await crlNow(issuer, [revoke(cert.serialNumber, 'superseded')]));
    expect(opensslVerifyWithCrls(h, toPem('CERTIFICATE', cert.der), [crl]).output).toContain('certificate revoked');
  });
});
