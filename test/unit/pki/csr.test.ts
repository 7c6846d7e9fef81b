import { describe, expect, it } from '@jest/globals';
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { parseCsr, verifyCsr } from '../../../src/pki/csr.js';
import { PkiError } from '../../../src/pki/errors.js';
import { thrownError } from '../../helpers/errors.js';
import { csrFixture, csrFixtureBytes } from '../../helpers/fixtures.js';
import { buildCsr, buildCsrDer, newP256Key, oid, p256Key, seq, subject, tlv } from '../../helpers/csr-builder.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof PkiError) return e.code;
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

  describe('an EC point off its curve is CSR_MALFORMED whatever signature algorithm the CSR names', () => {
    // With an ECDSA signature the point is imported inside crypto.verify (as a JWK), with any
    // other algorithm by createPublicKey before the algorithm is looked at: the same answer.
    const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
    const CURVES = { 'P-256': { oid: '1.2.840.10045.3.1.7', size: 32 }, 'P-384': { oid: '1.3.132.0.34', size: 48 } };
    const ecCsr = (curve: keyof typeof CURVES, point: Uint8Array, algorithm: string, signature: Uint8Array) => {
      const spki = seq(seq(oid(EC_PUBLIC_KEY), oid(CURVES[curve].oid)), tlv(0x03, Uint8Array.of(0), point));
      const info = seq(tlv(0x02, Uint8Array.of(0)), subject(), spki, tlv(0xa0));
      const rsa = algorithm.startsWith('1.2.840.113549.');
      return seq(info, rsa ? seq(oid(algorithm), tlv(0x05)) : seq(oid(algorithm)), tlv(0x03, Uint8Array.of(0), signature));
    };
    /** The uncompressed point (1, 1), on neither curve. */
    const offCurve = (size: number) => {
      const point = new Uint8Array(1 + 2 * size);
      point[0] = 0x04;
      point[size] = 1;
      point[2 * size] = 1;
      return point;
    };

    it.each([
      ['P-256', 'ecdsa-with-SHA256', '1.2.840.10045.4.3.2'],
      ['P-256', 'ecdsa-with-SHA384', '1.2.840.10045.4.3.3'],
      ['P-384', 'ecdsa-with-SHA384', '1.2.840.10045.4.3.3'],
      ['P-384', 'ecdsa-with-SHA256', '1.2.840.10045.4.3.2'],
      ['P-256', 'sha256WithRSAEncryption', '1.2.840.113549.1.1.11'],
      ['P-384', 'an unknown OID', '1.3.6.1.4.1.99999.1'],
    ] as const)('%s, %s', (curve, _, algorithm) => {
      const e = thrownError(() => parseAndVerify(ecCsr(curve, offCurve(CURVES[curve].size), algorithm, Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01))), PkiError);
      expect(e.code).toBe('CSR_MALFORMED');
      expect(e.message).toContain('the public key is not valid');
    });

    it('while a point on the curve with a signature that is not an ECDSA-Sig-Value is CSR_SIGNATURE_INVALID', () => {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
      const point = new Uint8Array(key.export({ format: 'der', type: 'spki' })).subarray(-97);
      expect(codeOf(() => parseAndVerify(ecCsr('P-384', point, '1.2.840.10045.4.3.3', Uint8Array.of(1, 2, 3))))).toBe('CSR_SIGNATURE_INVALID');
    });
  });

  describe('says what is wrong with a signature algorithm it does not accept, and what to use', () => {
    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    /** A CSR of `key` whose signature algorithm says `algorithm` (the signature itself is never looked at). */
    const signedWith = (algorithm: string, key: KeyObject, nullParams = false) => {
      const info = parseCsr(buildCsrDer({ key })).infoDer;
      return seq(info, nullParams ? seq(oid(algorithm), tlv(0x05)) : seq(oid(algorithm)), tlv(0x03, Uint8Array.of(0), Uint8Array.of(1, 2, 3)));
    };
    const refusal = (der: Uint8Array): PkiError => thrownError(() => parseAndVerify(der), PkiError);

    it.each([
      ['ecdsa-with-SHA1', '1.2.840.10045.4.1', newP256Key(), false, 'SHA-1'],
      ['sha1WithRSAEncryption', '1.2.840.113549.1.1.5', rsaKey, true, 'SHA-1'],
      ['md5WithRSAEncryption', '1.2.840.113549.1.1.4', rsaKey, true, 'MD5'],
    ])('%s: "%s signatures are not accepted; sign the CSR with SHA-256"', (name, algorithm, key, nullParams, digest) => {
      const e = refusal(signedWith(algorithm, key, nullParams));
      expect(e.code).toBe('CSR_SIGNATURE_INVALID');
      expect(e.message).toBe(`${digest} signatures are not accepted; sign the CSR with SHA-256`);
      expect(e.details).toEqual([{ field: 'signatureAlgorithm', reason: expect.stringContaining(`${name} uses ${digest}`), algorithm: name, oid: algorithm }]);
    });

    it('names another algorithm it knows, and gives the OID of one it does not', () => {
      expect(refusal(signedWith('1.2.840.113549.1.1.14', rsaKey, true)).message).toBe(
        'sha224WithRSAEncryption signatures are not accepted; sign the CSR with SHA-256 (ecdsa-with-SHA256 for an EC key, sha256WithRSAEncryption for an RSA key)',
      );
      const unknown = refusal(signedWith('1.3.6.1.4.1.99999.1', newP256Key()));
      expect(unknown.message).toMatch(/^The CSR's signature algorithm \(OID 1\.3\.6\.1\.4\.1\.99999\.1\) is not accepted; sign the CSR with SHA-256/);
      expect(unknown.details?.[0]).toMatchObject({ field: 'signatureAlgorithm', algorithm: '1.3.6.1.4.1.99999.1' });
    });

    it('names the algorithm and the key when they do not fit together', () => {
      const e = refusal(signedWith('1.2.840.113549.1.1.11', newP256Key(), true));
      expect(e.message).toBe('The CSR is signed with sha256WithRSAEncryption, which does not fit its EC_P256 public key; sign it with the key it carries');
    });
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

/**
 * Counterexamples of test/unit/pki/parser-fuzz.test.ts ("the public key a CA certifies"): CSRs
 * properly signed for their key, whose SubjectPublicKeyInfo — copied verbatim into the
 * certificate — is not a well-formed key. They used to parse, verify and pass the policy.
 */
describe('Function: parseCsr refuses a SubjectPublicKeyInfo the CA must not certify', () => {
  const RSA_ENCRYPTION = oid('1.2.840.113549.1.1.1');
  const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const jwk = createPublicKey(rsaKey).export({ format: 'jwk' }) as { n: string; e: string };
  const modulus = new Uint8Array(Buffer.from(jwk.n, 'base64url')); // top bit set: a 2048-bit key
  const positive = (mag: Uint8Array) => tlv(0x02, mag[0]! & 0x80 ? Uint8Array.from([0, ...mag]) : mag);
  const rsaSpki = (algId: Uint8Array, n: Uint8Array, e: Uint8Array) => seq(algId, tlv(0x03, Uint8Array.of(0), seq(n, e)));
  const E65537 = Uint8Array.of(1, 0, 1);

  function csrWithSpki(spki: Uint8Array, signer: (info: Uint8Array) => Uint8Array, sigAlg: Uint8Array): Uint8Array {
    const info = seq(tlv(0x02, Uint8Array.of(0)), subject(), spki, tlv(0xa0));
    return seq(info, sigAlg, tlv(0x03, Uint8Array.of(0), signer(info)));
  }
  const signedBy = (key: KeyObject, hash: string) => (info: Uint8Array) => new Uint8Array(sign(hash, info, key));

  it('still accepts the canonical RSA and EC encodings built the same way', () => {
    const rsa = csrWithSpki(rsaSpki(seq(RSA_ENCRYPTION, tlv(0x05)), positive(modulus), tlv(0x02, E65537)), signedBy(rsaKey, 'sha256'), SHA256_WITH_RSA);
    expect(parseAndVerify(rsa).key.keyType).toBe('RSA_2048');
    const ecSpki = new Uint8Array(createPublicKey(p256Key()).export({ format: 'der', type: 'spki' }));
    expect(parseAndVerify(csrWithSpki(ecSpki, signedBy(p256Key(), 'sha256'), seq(oid('1.2.840.10045.4.3.2')))).key.keyType).toBe('EC_P256');
  });

  it.each([
    ['RSA parameters absent', seq(RSA_ENCRYPTION)],
    ['RSA parameters an OCTET STRING', seq(RSA_ENCRYPTION, tlv(0x04, Buffer.from('junk')))],
    ['RSA parameters a curve OID', seq(RSA_ENCRYPTION, oid('1.2.840.10045.3.1.7'))],
    ['RSA parameters a NULL with contents', seq(RSA_ENCRYPTION, tlv(0x05, Uint8Array.of(0)))],
  ])('refuses %s', (_, algId) => {
    const der = csrWithSpki(rsaSpki(algId, positive(modulus), tlv(0x02, E65537)), signedBy(rsaKey, 'sha256'), SHA256_WITH_RSA);
    expect(() => parseCsr(der)).toThrow('RSA key parameters must be NULL');
    expect(codeOf(() => parseAndVerify(der))).toBe('CSR_MALFORMED');
  });

  it('refuses a negative RSA modulus (the magnitude without its leading zero octet)', () => {
    const der = csrWithSpki(rsaSpki(seq(RSA_ENCRYPTION, tlv(0x05)), tlv(0x02, modulus), tlv(0x02, E65537)), signedBy(rsaKey, 'sha256'), SHA256_WITH_RSA);
    expect(() => parseCsr(der)).toThrow('integer is negative');
  });

  it('refuses RSA exponent 1, whose "proof of possession" anyone can make without a private key', () => {
    // With e = 1 the signature is the padded digest itself: EMSA-PKCS1-v1_5(SHA-256(info)).
    const forge = (info: Uint8Array) => {
      const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(info).digest()]);
      return new Uint8Array(Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(modulus.length - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]));
    };
    const der = csrWithSpki(rsaSpki(seq(RSA_ENCRYPTION, tlv(0x05)), positive(modulus), tlv(0x02, Uint8Array.of(1))), forge, SHA256_WITH_RSA);
    expect(() => parseCsr(der)).toThrow('RSA public exponent must be odd and at least 3');
  });

  it.each([
    ['2', Uint8Array.of(2)],
    ['65536', Uint8Array.of(1, 0, 0)],
    ['0', Uint8Array.of(0)],
  ])('refuses RSA exponent %s', (_, e) => {
    const der = csrWithSpki(rsaSpki(seq(RSA_ENCRYPTION, tlv(0x05)), positive(modulus), tlv(0x02, e)), signedBy(rsaKey, 'sha256'), SHA256_WITH_RSA);
    expect(() => parseCsr(der)).toThrow('RSA public exponent must be odd and at least 3');
  });

  it.each([
    ['a NULL', tlv(0x05)],
    ['an OCTET STRING', tlv(0x04, Buffer.from('junk'))],
  ])('refuses an EC AlgorithmIdentifier with a third element, %s', (_, extra) => {
    const ecSpki = new Uint8Array(createPublicKey(p256Key()).export({ format: 'der', type: 'spki' }));
    // 30 59 | 30 13 <ecPublicKey> <prime256v1> | 03 42 <point>
    const algId = ecSpki.subarray(2, 2 + 2 + 0x13);
    const bits = ecSpki.subarray(2 + 2 + 0x13);
    const spki = seq(tlv(0x30, algId.subarray(2), extra), bits);
    const der = csrWithSpki(spki, signedBy(p256Key(), 'sha256'), seq(oid('1.2.840.10045.4.3.2')));
    expect(() => parseCsr(der)).toThrow('AlgorithmIdentifier must have at most two parts');
  });
});
