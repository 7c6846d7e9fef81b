import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { renderError } from '../../../src/http/errors.js';
import { thrownMessage } from '../../helpers/errors.js';
import { parseCsr, type ParsedCsr } from '../../../src/pki/csr.js';
import { certificateParts } from '../../../src/pki/certificate.js';
import { certificateDer, deviceTbsCertificate, fastDeviceCertificate, ProfileNotCoveredError } from '../../../src/pki/fast-certificate.js';
import { keyIdentifierOf } from '../../../src/pki/keys.js';
import { toPem } from '../../../src/pki/pem.js';
import { caSubjectDer, type Issuer } from '../../../src/pki/profile.js';
import { newSerial } from '../../../src/pki/serial.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { buildCsr, STRING, subject } from '../../helpers/csr-builder.js';
import { csrFixture } from '../../helpers/fixtures.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { referenceDeviceCertificate } from '../../helpers/reference-device-certificate.js';
import { createIssuingCa, createRootCa } from '../../../src/service/ca-setup.js';
import { x509 } from '../../../src/pki/x509.js';

/** A deterministic PRNG, so a failing case can be reproduced. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function issuerOf(key: KeyObject, cn: string): Issuer {
  const signer = createSoftwareSigner(key);
  return { subjectDer: caSubjectDer({ C: 'US', O: 'Example Corp', CN: cn }), keyIdentifier: keyIdentifierOf(signer.publicKey), notAfter: new Date('2046-01-01'), signer };
}

const ISSUERS = [
  issuerOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'Example Corp Issuing CA G1'),
  issuerOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'Example Corp Issuing CA G2'),
  issuerOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'Example Corp Issuing CA G3'),
];

/** The same issuers with a CRL URL: short, long (a length over 127 octets), with a port and a query. */
const CRL_URLS = [
  'http://crl.example.com/issuing-g1.crl',
  `https://pki.example.com/crl/${'g2-'.repeat(45)}.crl`,
  'http://10.0.0.1:8080/crl?ca=g3&format=der',
];
const ISSUERS_WITH_CRL: Issuer[] = ISSUERS.map((issuer, i) => ({ ...issuer, crlUrl: CRL_URLS[i]! }));

const tbsOf = (certDer: Uint8Array) => Buffer.from(certificateParts(certDer).tbsDer);

/** Subjects as stations make them: optional fields present or absent, UTF8String (openssl) or PrintableString. */
function randomSubject(random: () => number, i: number): Uint8Array {
  const str = random() < 0.5 ? STRING.utf8 : STRING.printable;
  const pick = (v: string) => (random() < 0.5 ? str(v) : undefined);
  return subject({
    C: STRING.printable('US'),
    ST: pick('California'),
    L: pick('San Jose'),
    O: str('Example Corp'),
    OU: pick(`Line ${i % 7}`),
    CN: str(`device-${i}-${Math.floor(random() * 1e9).toString(36)}`),
    serialNumber: pick(`SN${i}`),
    dnQualifier: pick(`q${i % 13}`),
  });
}

describe('Fast path: the device profile without an ASN.1 object model', () => {
  it('builds a TBSCertificate byte-identical to the reference (@peculiar/x509) for 2,000 CSRs of every allowed key type, with and without a CRL URL', async () => {
    const random = prng(20261126);
    const rsaKeys = Array.from({ length: 4 }, (_, i) => generateKeyPairSync('rsa', { modulusLength: [2048, 3072, 2048, 4096][i]! }).privateKey);
    const csrs: ParsedCsr[] = [];
    for (let i = 0; i < 2000; i++) {
      const r = random();
      const key =
        r < 0.6
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
          : r < 0.85
            ? generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
            : rsaKeys[i % rsaKeys.length]!;
      csrs.push(parseCsr(buildCsr({ key, subjectDer: randomSubject(random, i) })));
    }
    // openssl-made CSRs too (UTF8String subjects, openssl's own encoding of keys and attributes).
    for (const f of ['ec-p256.csr', 'ec-p256-full.csr', 'ec-p384.csr', 'rsa-2048.csr', 'rsa-3072.csr', 'rsa-4096.csr', 'ec-p256-wants-ca.csr', 'multi-valued-rdn.csr']) {
      csrs.push(parseCsr(csrFixture(f)));
    }

    const mismatches: string[] = [];
    const issuers = [...ISSUERS, ...ISSUERS_WITH_CRL];
    for (const [i, csr] of csrs.entries()) {
      const issuer = issuers[i % issuers.length]!;
      // Times with milliseconds, around the UTCTime/GeneralizedTime switch of 2050.
      const start = Date.parse('2026-01-01T00:00:00Z') + Math.floor(random() * 30 * 365 * 86_400_000);
      const validity = { notBefore: new Date(start + Math.floor(random() * 1000)), notAfter: new Date(start + Math.floor(random() * 40 * 365 * 86_400_000)) };
      // Edge serials too (the reference replaces a zero serial by a random one; serials are never zero here).
      const serial = i % 50 === 0 ? ['01', '7f', '80', '00ff', '0080', 'ff'][(i / 50) % 6]! : newSerial();
      const reference = tbsOf((await referenceDeviceCertificate(csr, issuer, serial, validity)).der);
      const fast = Buffer.from(deviceTbsCertificate(csr, issuer, serial, validity));
      if (!reference.equals(fast)) mismatches.push(`#${i} serial ${serial}: ${reference.toString('hex')} != ${fast.toString('hex')}`);
    }
    expect(mismatches).toEqual([]);
  }, 120_000);

  it('signs certificates that openssl verifies (a sample over each issuer key type and CSR key type)', async () => {
    for (const issuer of ISSUERS) {
      // The issuing CA certificate, so openssl has a chain (root → issuing → device).
      const rootSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      const rootRecord = await createRootCa({ ref: { kind: 'software', file: 'r' }, signer: rootSigner }, { organization: 'Example Corp', country: 'US' }, () => new Date());
      const issuingRecord = await createIssuingCa({ ref: { kind: 'software', file: 'i' }, signer: issuer.signer }, { record: rootRecord, signer: rootSigner }, { organization: 'Example Corp', country: 'US' }, () => new Date());
      const issuingDer = Uint8Array.from(Buffer.from(issuingRecord.certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
      const { subjectDer } = certificateParts(issuingDer);
      const live: Issuer = { ...issuer, subjectDer, keyIdentifier: issuingRecord.keyIdentifier };
      for (const f of ['ec-p256.csr', 'ec-p384.csr', 'rsa-2048.csr']) {
        const now = Math.floor(Date.now() / 1000) * 1000;
        const built = await fastDeviceCertificate(parseCsr(csrFixture(f)), live, newSerial(), { notBefore: new Date(now - 300_000), notAfter: new Date(now + 86_400_000) });
        expect(opensslVerify(rootRecord.certificatePem, issuingRecord.certificatePem, toPem('CERTIFICATE', built.der))).toMatch(/OK/);
      }
    }
  }, 60_000);

  it('adds the CRL distribution point only when the issuer has a CRL URL, after the authority key identifier', () => {
    const csr = parseCsr(csrFixture('ec-p256.csr'));
    const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };
    const extensionsOf = (issuer: Issuer) => {
      const tbs = deviceTbsCertificate(csr, issuer, newSerial(), validity);
      const cert = new x509.X509Certificate(certificateDer(tbs, issuer.signer.algorithm, new Uint8Array(8)).slice());
      return cert.extensions.map((e) => e.type);
    };
    const common = ['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.14', '2.5.29.35'];
    expect(extensionsOf(ISSUERS[0]!)).toEqual(common);
    expect(extensionsOf(ISSUERS_WITH_CRL[0]!)).toEqual([...common, '2.5.29.31']);
    const tbs = deviceTbsCertificate(csr, ISSUERS_WITH_CRL[1]!, newSerial(), validity);
    const cdp = new x509.X509Certificate(certificateDer(tbs, 'ECDSA_SHA_384', new Uint8Array(8)).slice()).getExtension(x509.CRLDistributionPointsExtension)!;
    expect(cdp.critical).toBe(false);
    expect(cdp.distributionPoints.map((dp) => dp.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier))).toEqual([[CRL_URLS[1]]]);
  });

  it.each([
    ['ftp://crl.example.com/ca.crl'],
    ['HTTP://crl.example.com/ca.crl'],
    ['crl.example.com/ca.crl'],
    ['http://'],
    ['http:///ca.crl'],
    ['http://crl.example.com/a b.crl'],
    ['http://crl.example.com/ca.crl\n'],
    ['http://crl.example.com/\tca.crl'],
    ['http://bücher.example/ca.crl'],
    ['https://crl.example.com/caf\u00e9.crl'],
    [''],
  ])('refuses the CRL URL %j (not http:// or https:// in printable ASCII), and signs nothing', async (crlUrl) => {
    let signed = 0;
    const issuer: Issuer = { ...ISSUERS[0]!, crlUrl, signer: { ...ISSUERS[0]!.signer, sign: async () => (signed++, new Uint8Array(0)) } };
    const csr = parseCsr(csrFixture('ec-p256.csr'));
    const validity = { notBefore: new Date(), notAfter: new Date() };
    expect(thrownMessage(() => deviceTbsCertificate(csr, issuer, newSerial(), validity), ProfileNotCoveredError)).toBe(
      `device profile: the CRL URL must be an http:// or https:// URL in printable ASCII, not ${JSON.stringify(crlUrl)}`,
    );
    await expect(fastDeviceCertificate(csr, issuer, newSerial(), validity)).rejects.toBeInstanceOf(ProfileNotCoveredError);
    expect(signed).toBe(0);
  });

  it('refuses what it does not cover with an error naming it (a 500 at the edge, not a client error), and signs nothing', async () => {
    const csr = parseCsr(csrFixture('ec-p256.csr'));
    const validity = { notBefore: new Date(), notAfter: new Date() };
    const refusal = (build: () => unknown) => thrownMessage(build, ProfileNotCoveredError);
    let signed = 0;
    const edIssuer = { ...ISSUERS[0]!, signer: { ...ISSUERS[0]!.signer, algorithm: 'ED25519' as never, sign: async () => (signed++, new Uint8Array(0)) } };
    expect(refusal(() => deviceTbsCertificate(csr, edIssuer, newSerial(), validity))).toBe('device profile: unknown issuer signing algorithm ED25519');
    const odd = { ...csr, key: { keyType: 'EC_P521', family: 'OTHER' as const } };
    expect(refusal(() => deviceTbsCertificate(odd, ISSUERS[0]!, newSerial(), validity))).toBe('device profile: key type EC_P521 (family OTHER)');
    await expect(fastDeviceCertificate(csr, edIssuer, newSerial(), validity)).rejects.toBeInstanceOf(ProfileNotCoveredError);
    await expect(fastDeviceCertificate(odd, ISSUERS[0]!, newSerial(), validity)).rejects.toBeInstanceOf(ProfileNotCoveredError);
    expect(renderError(new ProfileNotCoveredError('x'))).toMatchObject({ statusCode: 500, internal: true });
    expect(signed).toBe(0);
  });
});
