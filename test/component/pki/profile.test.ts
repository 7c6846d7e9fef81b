import { beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate as NodeX509, createPublicKey, generateKeyPairSync, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TAG, childrenOf, decodeOid, encodedOf, readSingle, valueOf, type DerElement } from '../../../src/pki/der/reader.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { readName, nameToString } from '../../../src/pki/names.js';
import { toPem } from '../../../src/pki/pem.js';
import { certificateParts } from '../../../src/pki/certificate.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { keyIdentifierOf } from '../../../src/pki/keys.js';
import { buildCaCertificate, caSubjectDer, deviceValidity, type Issuer } from '../../../src/pki/profile.js';
import { isSerial, newSerial, type RandomSource } from '../../../src/pki/serial.js';
import { SoftwareSignerRefused, createSoftwareSigner, isDeployedLambda, signingAlgorithmFor, type Signer } from '../../../src/pki/signer.js';
import { x509 } from '../../../src/pki/x509.js';
import { CA_BACKDATE_SECONDS, ISSUING_VALIDITY_YEARS, ROOT_VALIDITY_YEARS, createIssuingCa, createRootCa, type CaKey } from '../../../src/service/ca-setup.js';
import type { CaRecord } from '../../../src/service/ports.js';
import { csrFixture } from '../../helpers/fixtures.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { referenceDeviceCertificate } from '../../helpers/reference-device-certificate.js';

const DAY_MS = 86_400_000;
const YEAR_MS = 365.25 * DAY_MS;
const NAMING = { organization: 'Example Corp', country: 'US' };
const OIDS = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
} as const;

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('hex');
const ecKey = (namedCurve: 'P-256' | 'P-384') => generateKeyPairSync('ec', { namedCurve }).privateKey;
const caKey = (key: KeyObject, file: string): CaKey => ({ ref: { kind: 'software', file }, signer: createSoftwareSigner(key, {}) });
const derOfPem = (pem: string) => new Uint8Array(x509.PemConverter.decodeFirst(pem));

interface Extension {
  oid: string;
  critical: boolean;
  /** Hex of the extnValue OCTET STRING contents. */
  value: string;
  /** Number of elements in the Extension SEQUENCE (2 when `critical` is left at its default). */
  parts: number;
}

/** Reads a certificate with the project's own strict DER reader, field by field. */
function dissect(der: Uint8Array) {
  const [tbs, sigAlg] = childrenOf(readSingle(der)) as [DerElement, DerElement];
  const parts = childrenOf(tbs);
  const [versionTag, serial, tbsSigAlg, issuer, validity, subject, spki, extsTag] = parts as DerElement[];
  const algorithm = (el: DerElement) => {
    const [oid, ...params] = childrenOf(el);
    return { oid: decodeOid(oid!), params: params.map((p) => hex(encodedOf(p))) };
  };
  const [notBefore, notAfter] = childrenOf(validity!) as [DerElement, DerElement];
  const extensions: Extension[] = childrenOf(childrenOf(extsTag!)[0]!).map((ext) => {
    const fields = childrenOf(ext);
    const critical = fields.length === 3 ? hex(valueOf(fields[1]!)) === 'ff' : false;
    return { oid: decodeOid(fields[0]!), critical, value: hex(valueOf(fields[fields.length - 1]!)), parts: fields.length };
  });
  return {
    partCount: parts.length,
    versionTag: versionTag!.tag,
    version: hex(valueOf(childrenOf(versionTag!)[0]!)),
    serial: hex(valueOf(serial!)),
    tbsSignatureAlgorithm: algorithm(tbsSigAlg!),
    signatureAlgorithm: algorithm(sigAlg),
    issuerDer: hex(encodedOf(issuer!)),
    notBefore: { tag: notBefore.tag, text: Buffer.from(valueOf(notBefore)).toString('latin1') },
    notAfter: { tag: notAfter.tag, text: Buffer.from(valueOf(notAfter)).toString('latin1') },
    subjectDer: hex(encodedOf(subject!)),
    spkiDer: hex(encodedOf(spki!)),
    extsTag: extsTag!.tag,
    extensions,
    extension: (oid: string) => extensions.find((e) => e.oid === oid),
  };
}

interface Ca {
  record: CaRecord;
  signer: Signer;
  der: Uint8Array;
  issuer: Issuer;
}

function caOf(record: CaRecord, signer: Signer): Ca {
  const der = derOfPem(record.certificatePem);
  const cert = new x509.X509Certificate(der.slice());
  return {
    record,
    signer,
    der,
    issuer: { subjectDer: new Uint8Array(cert.subjectName.toArrayBuffer()), keyIdentifier: record.keyIdentifier, notAfter: cert.notAfter, signer },
  };
}

type CaName = 'P-256' | 'P-384' | 'RSA-2048';
let rootKey: CaKey;
let root: Ca;
const issuing = {} as Record<CaName, Ca>;

beforeAll(async () => {
  rootKey = caKey(ecKey('P-384'), 'root.pem');
  const clock = () => new Date();
  root = caOf(await createRootCa(rootKey, NAMING, clock), rootKey.signer);
  const keys: Record<CaName, KeyObject> = {
    'P-256': ecKey('P-256'),
    'P-384': ecKey('P-384'),
    // The only RSA key generated by this file.
    'RSA-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  };
  for (const [name, key] of Object.entries(keys) as Array<[CaName, KeyObject]>) {
    const k = caKey(key, `${name}.pem`);
    issuing[name] = caOf(await createIssuingCa(k, { record: root.record, signer: rootKey.signer }, NAMING, clock), k.signer);
  }
});

async function issue(ca: Ca, file: string, serial = newSerial(), validityDays = 3650) {
  const csr = parseCsr(csrFixture(file));
  const validity = deviceValidity(new Date(), validityDays, 300, ca.issuer.notAfter);
  const built = await fastDeviceCertificate(csr, ca.issuer, serial, validity);
  return { csr, built, validity, pem: toPem('CERTIFICATE', built.der), parts: dissect(built.der), cert: new x509.X509Certificate(built.der.slice()) };
}

const SIGNATURE_OF: Record<CaName, string> = {
  'P-256': OIDS.ecdsaSha256,
  'P-384': OIDS.ecdsaSha384,
  'RSA-2048': OIDS.sha256WithRSA,
};
const CSRS: Array<[string, 'EC' | 'RSA']> = [
  ['ec-p256.csr', 'EC'],
  ['ec-p384.csr', 'EC'],
  ['rsa-2048.csr', 'RSA'],
  ['rsa-3072.csr', 'RSA'],
];
const MATRIX = (Object.keys(SIGNATURE_OF) as CaName[]).flatMap((ca) => CSRS.map(([file, family]) => [ca, file, family] as const));

describe('Function: fastDeviceCertificate (the device profile)', () => {
  it.each(MATRIX)('issues a certificate from the %s issuing CA for %s that openssl verifies', async (caName, file, family) => {
    const ca = issuing[caName];
    const serial = newSerial();
    const { csr, pem, parts, validity, built } = await issue(ca, file, serial);

    expect(opensslVerify(root.record.certificatePem, ca.record.certificatePem, pem)).toMatch(/: OK\n$/);
    // The same TBSCertificate as the reference builds (@peculiar/x509) for the same serial and times.
    const reference = await referenceDeviceCertificate(csr, ca.issuer, serial, validity);
    expect(hex(certificateParts(built.der).tbsDer)).toBe(hex(certificateParts(reference.der).tbsDer));

    expect(parts.partCount).toBe(8);
    expect(parts.versionTag).toBe(0xa0);
    expect(parts.version).toBe('02'); // v3
    expect(parts.serial).toBe(serial);
    expect(parts.tbsSignatureAlgorithm.oid).toBe(SIGNATURE_OF[caName]);
    expect(parts.signatureAlgorithm).toEqual(parts.tbsSignatureAlgorithm);
    // RFC 5758: no parameters for ECDSA; RFC 4055: NULL parameters for PKCS #1 v1.5.
    expect(parts.signatureAlgorithm.params).toEqual(caName === 'RSA-2048' ? ['0500'] : []);
    expect(parts.issuerDer).toBe(hex(ca.issuer.subjectDer));
    expect(parts.issuerDer).toBe(dissect(ca.der).subjectDer);
    expect(parts.subjectDer).toBe(hex(csr.subject.der));
    expect(parts.spkiDer).toBe(hex(csr.spkiDer));

    expect(parts.extsTag).toBe(0xa3);
    expect(parts.extensions.map((e) => e.oid)).toEqual([OIDS.basicConstraints, OIDS.keyUsage, OIDS.extKeyUsage, OIDS.subjectKeyId, OIDS.authorityKeyId]);
    expect(parts.extensions.map((e) => [e.critical, e.parts])).toEqual([[true, 3], [true, 3], [false, 2], [false, 2], [false, 2]]);
    // CA:FALSE is the DEFAULT, so DER leaves it out: an empty SEQUENCE.
    expect(parts.extension(OIDS.basicConstraints)!.value).toBe('3000');
    // digitalSignature (bit 0), plus keyEncipherment (bit 2) for RSA keys; trailing zero bits dropped.
    expect(parts.extension(OIDS.keyUsage)!.value).toBe(family === 'RSA' ? '030205a0' : '03020780');
    expect(parts.extension(OIDS.extKeyUsage)!.value).toBe('300a06082b06010505070302');
    expect(parts.extension(OIDS.subjectKeyId)!.value).toBe(`0414${keyIdentifierOf(csr.spkiDer)}`);
    expect(parts.extension(OIDS.authorityKeyId)!.value).toBe(`30168014${ca.record.keyIdentifier}`);

    const node = new NodeX509(pem);
    expect(node.ca).toBe(false);
    expect(node.checkIssued(new NodeX509(ca.record.certificatePem))).toBe(true);
    expect(new Date(node.validFrom).getTime()).toBe(validity.notBefore.getTime());
    expect(new Date(node.validTo).getTime()).toBe(validity.notAfter.getTime());
  });

  it('reads back the same values through @peculiar/x509', async () => {
    const ca = issuing['P-256'];
    const { cert, csr, validity, built } = await issue(ca, 'rsa-3072.csr', '4a0102030405060708090a0b0c0d0e0f');
    expect(cert.serialNumber).toBe('4a0102030405060708090a0b0c0d0e0f');
    expect(built.serialNumber).toBe('4a0102030405060708090a0b0c0d0e0f');
    expect(cert.subject).toBe('C=US, O=Example Corp, CN=device-rsa3072');
    expect(cert.issuer).toBe(ca.record.subject);
    expect(cert.notBefore.getTime()).toBe(validity.notBefore.getTime());
    expect(cert.notAfter.getTime()).toBe(validity.notAfter.getTime());
    expect(built.notBefore).toBe(validity.notBefore);
    expect(built.notAfter).toBe(validity.notAfter);
    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength, bc.critical]).toEqual([false, undefined, true]);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect([ku.usages, ku.critical]).toEqual([x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true]);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(keyIdentifierOf(csr.spkiDer));
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ca.record.keyIdentifier);
    expect(cert.extensions).toHaveLength(5);
    expect(await cert.verify({ publicKey: new x509.X509Certificate(ca.der.slice()).publicKey, signatureOnly: true })).toBe(true);
  });

  it('copies the subject of ec-p256-full.csr byte for byte', async () => {
    const { csr, parts, built } = await issue(issuing['P-256'], 'ec-p256-full.csr');
    expect(parts.subjectDer).toBe(hex(csr.subject.der));
    // The PrintableString C and UTF8String O survive as they were encoded.
    const subject = readName(childrenOf(childrenOf(readSingle(built.der))[0]!)[5]!);
    expect(subject.rdns.map((r) => `${r[0]!.name}:${r[0]!.stringType}`)).toEqual([
      'C:PrintableString',
      'ST:UTF8String',
      'L:UTF8String',
      'O:UTF8String',
      'OU:UTF8String',
      'CN:UTF8String',
      'serialNumber:PrintableString',
      'dnQualifier:PrintableString',
    ]);
    expect(nameToString(subject)).toBe('C=DE, ST=Bavaria, L=Munich, O=Example Corp, OU=Line 7, CN=sensor:line7_0042, serialNumber=SN-0042, dnQualifier=rev-b');
  });

  it('ignores the CA:TRUE, keyCertSign and SANs that ec-p256-wants-ca.csr requests', async () => {
    const ca = issuing['P-256'];
    const { pem, parts } = await issue(ca, 'ec-p256-wants-ca.csr');
    expect(opensslVerify(root.record.certificatePem, ca.record.certificatePem, pem)).toMatch(/: OK\n$/);
    expect(parts.extension(OIDS.basicConstraints)!.value).toBe('3000');
    expect(parts.extension(OIDS.keyUsage)!.value).toBe('03020780');
    expect(parts.extension(OIDS.subjectAltName)).toBeUndefined();
    expect(parts.extensions).toHaveLength(5);
    expect(new NodeX509(pem).subjectAltName).toBeUndefined();
    expect(new NodeX509(pem).ca).toBe(false);
  });

  it('never lets the device certificate outlive its issuer', async () => {
    const ca = issuing['P-256'];
    const issuerNotAfter = new Date(Date.now() + 2 * DAY_MS + 123);
    const csr = parseCsr(csrFixture('ec-p256.csr'));
    const validity = deviceValidity(new Date(), 3650, 300, issuerNotAfter);
    const built = await fastDeviceCertificate(csr, { ...ca.issuer, notAfter: issuerNotAfter }, newSerial(), validity);
    expect(new x509.X509Certificate(built.der.slice()).notAfter.getTime()).toBe(Math.floor(issuerNotAfter.getTime() / 1000) * 1000);
  });

  it('is signed by the issuer it is given, not by the root', async () => {
    const { pem } = await issue(issuing['P-384'], 'ec-p256.csr');
    expect(() => opensslVerify(root.record.certificatePem, issuing['P-256'].record.certificatePem, pem)).toThrow(/openssl verify failed/);
  });
});

describe('Function: deviceValidity', () => {
  const farFuture = new Date('2099-01-01T00:00:00Z');

  it('backdates notBefore by the backdate and adds the validity to it, in whole seconds', () => {
    const v = deviceValidity(new Date('2030-01-01T00:00:00.789Z'), 3650, 300, farFuture);
    expect(v.notBefore.toISOString()).toBe('2029-12-31T23:55:00.000Z');
    expect(v.notAfter.toISOString()).toBe(new Date(Date.parse('2029-12-31T23:55:00.000Z') + 3650 * DAY_MS).toISOString());
    expect(v.notAfter.toISOString()).toBe('2039-12-29T23:55:00.000Z');
  });

  it.each([
    ['2030-06-15T12:34:56.999Z', 1, 0, '2030-06-15T12:34:56.000Z', '2030-06-16T12:34:56.000Z'],
    ['2030-06-15T12:34:56.001Z', 30, 60, '2030-06-15T12:33:56.000Z', '2030-07-15T12:33:56.000Z'],
    ['2030-06-15T00:00:00.000Z', 365, 86400, '2030-06-14T00:00:00.000Z', '2031-06-14T00:00:00.000Z'],
  ])('at %s for %i days backdated %i s: %s .. %s', (now, days, backdate, notBefore, notAfter) => {
    const v = deviceValidity(new Date(now), days, backdate, farFuture);
    expect([v.notBefore.toISOString(), v.notAfter.toISOString()]).toEqual([notBefore, notAfter]);
  });

  it("clamps notAfter to the issuer's notAfter, dropping its milliseconds", () => {
    const v = deviceValidity(new Date('2030-01-01T00:00:00Z'), 3650, 300, new Date('2031-02-03T04:05:06.999Z'));
    expect(v.notBefore.toISOString()).toBe('2029-12-31T23:55:00.000Z');
    expect(v.notAfter.toISOString()).toBe('2031-02-03T04:05:06.000Z');
  });

  it("keeps notAfter when it falls exactly on the issuer's notAfter", () => {
    const v = deviceValidity(new Date('2030-01-01T00:05:00Z'), 10, 300, new Date('2030-01-11T00:00:00Z'));
    expect(v.notAfter.toISOString()).toBe('2030-01-11T00:00:00.000Z');
  });
});

describe('Function: buildCaCertificate (via createRootCa / createIssuingCa)', () => {
  it('makes a self-signed root: CA:TRUE without pathLen, keyCertSign+cRLSign critical, AKI = SKI', () => {
    const parts = dissect(root.der);
    expect(parts.version).toBe('02');
    expect(parts.issuerDer).toBe(parts.subjectDer);
    expect(parts.signatureAlgorithm).toEqual({ oid: OIDS.ecdsaSha384, params: [] });
    expect(parts.extensions.map((e) => [e.oid, e.critical])).toEqual([
      [OIDS.basicConstraints, true],
      [OIDS.keyUsage, true],
      [OIDS.subjectKeyId, false],
      [OIDS.authorityKeyId, false],
    ]);
    expect(parts.extension(OIDS.basicConstraints)!.value).toBe('30030101ff');
    expect(parts.extension(OIDS.keyUsage)!.value).toBe('03020106');
    const ski = keyIdentifierOf(rootKey.signer.publicKey);
    expect(root.record.keyIdentifier).toBe(ski);
    expect(parts.extension(OIDS.subjectKeyId)!.value).toBe(`0414${ski}`);
    expect(parts.extension(OIDS.authorityKeyId)!.value).toBe(`30168014${ski}`);
    expect(nameToString(readName(readSingle(Buffer.from(parts.subjectDer, 'hex'))))).toBe('C=US, O=Example Corp, CN=Example Corp Root CA');

    const node = new NodeX509(root.record.certificatePem);
    expect(node.ca).toBe(true);
    expect(node.checkIssued(node)).toBe(true);
    expect(node.verify(createPublicKey({ key: Buffer.from(rootKey.signer.publicKey), format: 'der', type: 'spki' }))).toBe(true);
  });

  it('gives the root 25 years from the whole second it was made, with GeneralizedTime after 2049', () => {
    const parts = dissect(root.der);
    const notBefore = Date.parse(root.record.notBefore);
    expect(notBefore % 1000).toBe(0);
    expect(Date.parse(root.record.notAfter)).toBe(notBefore + ROOT_VALIDITY_YEARS * YEAR_MS);
    expect(parts.notBefore.tag).toBe(TAG.UTC_TIME);
    // RFC 5280 4.1.2.5: dates in 2050 or later are GeneralizedTime.
    expect(parts.notAfter.tag).toBe(new Date(root.record.notAfter).getUTCFullYear() >= 2050 ? TAG.GENERALIZED_TIME : TAG.UTC_TIME);
  });

  it.each<[CaName, string]>([
    ['P-256', OIDS.ecdsaSha384],
    ['P-384', OIDS.ecdsaSha384],
    ['RSA-2048', OIDS.ecdsaSha384],
  ])('makes the %s issuing CA with pathLen 0, signed by the root', (name, sigOid) => {
    const ca = issuing[name];
    const parts = dissect(ca.der);
    expect(parts.signatureAlgorithm.oid).toBe(sigOid);
    expect(parts.issuerDer).toBe(dissect(root.der).subjectDer);
    expect(parts.extension(OIDS.basicConstraints)).toEqual({ oid: OIDS.basicConstraints, critical: true, value: '30060101ff020100', parts: 3 });
    expect(parts.extension(OIDS.keyUsage)).toEqual({ oid: OIDS.keyUsage, critical: true, value: '03020106', parts: 3 });
    expect(parts.extension(OIDS.subjectKeyId)!.value).toBe(`0414${keyIdentifierOf(ca.signer.publicKey)}`);
    expect(parts.extension(OIDS.authorityKeyId)!.value).toBe(`30168014${root.record.keyIdentifier}`);
    expect(parts.extensions).toHaveLength(4);
    expect(ca.record.parentId).toBe(root.record.id);
    expect(ca.record.keyIdentifier).toBe(keyIdentifierOf(ca.signer.publicKey));
    expect(Date.parse(ca.record.notAfter)).toBe(Date.parse(ca.record.notBefore) + ISSUING_VALIDITY_YEARS * YEAR_MS);
    expect(Date.parse(ca.record.notAfter)).toBeLessThanOrEqual(Date.parse(root.record.notAfter));
    const node = new NodeX509(ca.record.certificatePem);
    expect(node.ca).toBe(true);
    expect(node.checkIssued(new NodeX509(root.record.certificatePem))).toBe(true);
    expect(node.verify(new NodeX509(root.record.certificatePem).publicKey)).toBe(true);
  });

  it("never lets an issuing CA made late in the root's life outlive the root", async () => {
    const later = new Date(Date.parse(root.record.notBefore) + 10 * YEAR_MS + 1234);
    const k = caKey(ecKey('P-256'), 'late.pem');
    const record = await createIssuingCa(k, { record: root.record, signer: rootKey.signer }, NAMING, () => later);
    expect(record.notBefore).toBe(new Date(Math.floor(later.getTime() / 1000) * 1000 - CA_BACKDATE_SECONDS * 1000).toISOString());
    expect(record.notAfter).toBe(root.record.notAfter);
    expect(new x509.X509Certificate(derOfPem(record.certificatePem)).notAfter.toISOString()).toBe(root.record.notAfter);
  });

  it('builds a CA certificate for an RSA issuer with sha256WithRSAEncryption and NULL parameters', async () => {
    const rsa = issuing['RSA-2048'];
    const subjectDer = caSubjectDer({ CN: 'Sub CA' });
    const child = ecKey('P-256');
    const publicKey = new Uint8Array(createPublicKey(child).export({ format: 'der', type: 'spki' }));
    const built = await buildCaCertificate({
      role: 'issuing',
      serialNumber: '41',
      subjectDer,
      publicKey,
      validity: { notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2031-01-01T00:00:00Z') },
      issuer: { subjectDer: rsa.issuer.subjectDer, keyIdentifier: rsa.record.keyIdentifier, signer: rsa.signer },
    });
    const parts = dissect(built.der);
    expect(parts.serial).toBe('41');
    expect(parts.signatureAlgorithm).toEqual({ oid: OIDS.sha256WithRSA, params: ['0500'] });
    expect(parts.notBefore).toEqual({ tag: TAG.UTC_TIME, text: '300101000000Z' });
    expect(parts.notAfter).toEqual({ tag: TAG.UTC_TIME, text: '310101000000Z' });
    expect(parts.subjectDer).toBe(hex(subjectDer));
    expect(new NodeX509(Buffer.from(built.der)).verify(new NodeX509(rsa.record.certificatePem).publicKey)).toBe(true);
  });
});

describe('Function: caSubjectDer', () => {
  it.each<[{ C?: string; O?: string; CN: string }, string]>([
    [{ C: 'US', O: 'Example Corp', CN: 'Example Corp Root CA' }, 'C=US, O=Example Corp, CN=Example Corp Root CA'],
    [{ O: 'Example Corp', CN: 'Issuing' }, 'O=Example Corp, CN=Issuing'],
    [{ CN: 'Only' }, 'CN=Only'],
    [{ C: 'DE', O: 'Müller GmbH', CN: 'Müller Root' }, 'C=DE, O=Müller GmbH, CN=Müller Root'],
  ])('encodes %j', (fields, text) => {
    expect(nameToString(readName(readSingle(caSubjectDer(fields))))).toBe(text);
  });

  // BUG (src/pki/profile.ts caSubjectDer: the Name is built by joining unescaped values into an
  // RFC 4514 string): ORGANIZATION "Acme, Inc." gives the CA subject "C=US, O=Acme, CN=Acme".
  it('keeps an organization that contains a comma', () => {
    expect(nameToString(readName(readSingle(caSubjectDer({ C: 'US', O: 'Acme, Inc.', CN: 'Acme, Inc. Root CA' }))))).toBe(
      'C=US, O=Acme\\, Inc., CN=Acme\\, Inc. Root CA',
    );
  });
});

describe('Function: newSerial', () => {
  it('returns 32 lower-case hex digits whose first byte is 0x40..0x7f, different each call', () => {
    const serials = Array.from({ length: 500 }, () => newSerial());
    for (const s of serials) {
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      const first = parseInt(s.slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(0x40);
      expect(first).toBeLessThanOrEqual(0x7f);
      expect(isSerial(s)).toBe(true);
    }
    expect(new Set(serials).size).toBe(500);
  });

  it.each([
    ['all ones', 0xff, `7f${'ff'.repeat(15)}`],
    ['all zeros', 0x00, `40${'00'.repeat(15)}`],
    ['0x80 bytes', 0x80, `40${'80'.repeat(15)}`],
    ['0x3f bytes', 0x3f, `7f${'3f'.repeat(15)}`],
  ])('uses the injected random source (%s)', (_, byte, serial) => {
    expect(newSerial(() => new Uint8Array(16).fill(byte))).toBe(serial);
  });

  it('asks for 16 bytes and does not change the buffer it gets', () => {
    const buffer = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
    const sizes: number[] = [];
    const random: RandomSource = (size) => {
      sizes.push(size);
      return buffer;
    };
    expect(newSerial(random)).toBe('70f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    expect(sizes).toEqual([16]);
    expect(buffer[0]).toBe(0xf0);
  });

  it('refuses a random source that returns the wrong size', () => {
    expect(() => newSerial(() => new Uint8Array(15))).toThrow('random source returned the wrong size');
  });
});

describe('Function: createSoftwareSigner', () => {
  it.each<[string, boolean, Record<string, string>]>([
    ['no Lambda variables', false, {}],
    ['a Lambda function name', true, { AWS_LAMBDA_FUNCTION_NAME: 'issue' }],
    ['a Lambda function name under serverless-offline', false, { AWS_LAMBDA_FUNCTION_NAME: 'issue', IS_OFFLINE: 'true' }],
    ['an empty Lambda function name', false, { AWS_LAMBDA_FUNCTION_NAME: '' }],
  ])('with %s: isDeployedLambda is %s, and only then is the software signer refused', (_, deployed, env) => {
    expect(isDeployedLambda(env)).toBe(deployed);
    const make = () => createSoftwareSigner(ecKey('P-256'), env);
    if (deployed) expect(make).toThrow(SoftwareSignerRefused);
    else expect(make().algorithm).toBe('ECDSA_SHA_256');
  });

  it('signs with the hash of its curve and returns a DER signature its public key verifies', async () => {
    const key = ecKey('P-384');
    const signer = createSoftwareSigner(key, {});
    expect(signer.algorithm).toBe('ECDSA_SHA_384');
    expect(hex(signer.publicKey)).toBe(hex(createPublicKey(key).export({ format: 'der', type: 'spki' })));
    const signature = await signer.sign(Buffer.from('tbs'));
    expect(signature[0]).toBe(0x30);
    expect(cryptoVerify('sha384', Buffer.from('tbs'), createPublicKey(key), signature)).toBe(true);
  });

  it('loads a PKCS#8 key from PEM and from DER', () => {
    const key = ecKey('P-256');
    const pem = key.export({ format: 'pem', type: 'pkcs8' }) as string;
    const der = new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }));
    const spki = hex(createPublicKey(key).export({ format: 'der', type: 'spki' }));
    expect(hex(createSoftwareSigner(pem, {}).publicKey)).toBe(spki);
    expect(hex(createSoftwareSigner(der, {}).publicKey)).toBe(spki);
  });

  it('picks RSASSA-PKCS1-v1_5 with SHA-256 for an RSA key', () => {
    expect(issuing['RSA-2048'].signer.algorithm).toBe('RSASSA_PKCS1_V1_5_SHA_256');
  });

  it.each([
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, 'unsupported CA key type ec secp521r1'],
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey, 'unsupported CA key type ed25519'],
  ])('refuses a %s key', (_, make, message) => {
    expect(() => signingAlgorithmFor(make())).toThrow(message);
  });
});
