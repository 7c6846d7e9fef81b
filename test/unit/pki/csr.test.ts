import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { parseCsr, verifyCsr } from '../../../src/pki/csr.js';
import { CaError } from '../../../src/pki/errors.js';
import { csrFixture, csrFixtureBytes } from '../../helpers/fixtures.js';
import { buildCsr, buildCsrDer, newP256Key, seq, tlv } from '../../helpers/csr-builder.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof CaError) return e.code;
    throw e;
  }
};
const parseAndVerify = (input: string | Uint8Array) => {
  const csr = parseCsr(input);
  verifyCsr(csr);
  return csr;
};

describe('Function: parseCsr + verifyCsr', () => {
  it.each([
    ['ec-p256.csr', 'EC_P256'],
    ['ec-p256-full.csr', 'EC_P256'],
    ['ec-p384.csr', 'EC_P384'],
    ['rsa-2048.csr', 'RSA_2048'],
    ['rsa-3072.csr', 'RSA_3072'],
    ['rsa-4096.csr', 'RSA_4096'],
    ['ec-p256-sha384.csr', 'EC_P256'],
    ['ec-p256-new-label.csr', 'EC_P256'],
    ['ec-p256.b64', 'EC_P256'],
    // Keys the policy refuses still parse and verify: the refusal is the policy's.
    ['rsa-1024.csr', 'RSA_1024'],
    ['ec-p521.csr', 'EC_P521'],
    ['ec-secp256k1.csr', 'EC_secp256k1'],
    ['ed25519.csr', 'ED25519'],
    ['dsa.csr', 'DSA'],
    ['ec-explicit-params.csr', 'EC_EXPLICIT_PARAMETERS'],
  ])('accepts the openssl-made %s and describes its key as %s', (file, keyType) => {
    expect(parseAndVerify(csrFixture(file)).key.keyType).toBe(keyType);
  });

  it('accepts raw DER bytes', () => {
    expect(parseAndVerify(csrFixtureBytes('ec-p256.der')).key.keyType).toBe('EC_P256');
  });

  it('reads the subject in encoded order with its string types', () => {
    const csr = parseCsr(csrFixture('ec-p256-full.csr'));
    expect(csr.subject.rdns.map((r) => r.map((a) => `${a.name}=${a.value}`).join('+'))).toEqual([
      'C=DE',
      'ST=Bavaria',
      'L=Munich',
      'O=Example Corp',
      'OU=Line 7',
      'CN=sensor:line7_0042',
      'serialNumber=SN-0042',
      'dnQualifier=rev-b',
    ]);
    expect(csr.subject.rdns[0]![0]!.stringType).toBe('PrintableString');
    expect(csr.subject.rdns[3]![0]!.stringType).toBe('UTF8String');
  });

  it.each([
    ['bad-signature.csr', 'CSR_SIGNATURE_INVALID'],
    ['certificate.pem', 'CSR_MALFORMED'],
    ['truncated.der', 'CSR_MALFORMED'],
    ['trailing-garbage.der', 'CSR_MALFORMED'],
  ])('refuses %s with %s', (file, code) => {
    const input = file.endsWith('.der') ? csrFixtureBytes(file) : csrFixture(file);
    expect(codeOf(() => parseAndVerify(input))).toBe(code);
  });

  it('refuses a CSR signed by a key other than its own', () => {
    const pem = buildCsr({ key: newP256Key(), publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey });
    expect(codeOf(() => parseAndVerify(pem))).toBe('CSR_SIGNATURE_INVALID');
  });

  it('refuses a certificate PEM by its label', () => {
    expect(() => parseCsr(csrFixture('certificate.pem'))).toThrow(/found CERTIFICATE/);
  });

  it.each([
    ['empty string', ''],
    ['plain text', 'hello world'],
    ['base64 of nothing useful', 'AAAA'],
    ['PEM without END', '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n'],
    ['PEM with bad base64', '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n'],
    ['two PEM blocks', csrFixture('ec-p256.csr') + csrFixture('ec-p384.csr')],
    ['mismatched labels', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ])('refuses %s as CSR_MALFORMED', (_, input) => {
    expect(codeOf(() => parseCsr(input))).toBe('CSR_MALFORMED');
  });

  it('refuses indefinite lengths, deep nesting and non-minimal lengths', () => {
    const der = buildCsrDer();
    const indefinite = Uint8Array.from([0x30, 0x80, ...der.subarray(2), 0, 0]);
    expect(codeOf(() => parseCsr(indefinite))).toBe('CSR_MALFORMED');
    let nested: Uint8Array = tlv(0x05);
    for (let i = 0; i < 200; i++) nested = seq(nested);
    expect(codeOf(() => parseCsr(nested))).toBe('CSR_MALFORMED');
    const nonMinimal = Uint8Array.from([0x30, 0x81, 0x05, 0x02, 0x01, 0x00, 0x05, 0x00]);
    expect(codeOf(() => parseCsr(nonMinimal))).toBe('CSR_MALFORMED');
  });

  it('never throws anything but CSR_MALFORMED for any truncation of a valid CSR', () => {
    const der = buildCsrDer();
    for (let n = 0; n < der.length; n++) {
      expect(codeOf(() => parseCsr(der.subarray(0, n)))).toBe('CSR_MALFORMED');
    }
  });
});
