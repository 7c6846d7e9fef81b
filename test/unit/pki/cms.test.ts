import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CMS_OID, CmsError, certificatesOfCms, certsOnlyCms } from '../../../src/pki/cms.js';
import { TAG, childrenOf, decodeOid, encodedOf, readSingle, valueOf, type DerElement } from '../../../src/pki/der/reader.js';
import { compareDerEncodings, integerFromHex, objectIdentifier, tlv } from '../../../src/pki/der/writer.js';
import { buildCsrDer } from '../../helpers/csr-builder.js';
import { thrownMessage } from '../../helpers/errors.js';
import { smallChain, type SmallChain } from '../../helpers/small-chain.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const seq = (...parts: Uint8Array[]) => tlv(TAG.SEQUENCE, parts);

/** Something with a certificate's outline (six TBS fields, an algorithm, a signature), `marker` making it unique. */
const fakeCertificate = (marker: number) =>
  seq(seq(...[1, 2, 3, 4, 5, marker].map((n) => integerFromHex(n.toString(16)))), seq(objectIdentifier('1.2.840.10045.4.3.2')), tlv(TAG.BIT_STRING, [Uint8Array.of(0, marker)]));

let chain: SmallChain;
beforeAll(async () => {
  chain = await smallChain();
});

/** The five fields of the SignedData of a ContentInfo, read with the project's strict reader. */
function signedDataOf(der: Uint8Array) {
  const contentInfo = readSingle(der);
  expect(contentInfo.tag).toBe(TAG.SEQUENCE);
  const [contentType, content, ...rest] = childrenOf(contentInfo);
  expect(rest).toHaveLength(0);
  expect(decodeOid(contentType!)).toBe('1.2.840.113549.1.7.2');
  expect(content!.tag).toBe(0xa0);
  const inner = childrenOf(content!);
  expect(inner).toHaveLength(1);
  expect(inner[0]!.tag).toBe(TAG.SEQUENCE);
  return childrenOf(inner[0]!);
}

describe('Function: certsOnlyCms', () => {
  it('writes a ContentInfo holding a SignedData with no signers, no digest algorithms and no content', () => {
    const fields = signedDataOf(certsOnlyCms([chain.root.der, chain.issuing.der]));
    expect(fields.map((f) => f.tag)).toEqual([TAG.INTEGER, TAG.SET, TAG.SEQUENCE, 0xa0, TAG.SET]);
    const [version, digestAlgorithms, encap, certificates, signerInfos] = fields as [DerElement, DerElement, DerElement, DerElement, DerElement];
    expect(hex(encodedOf(version))).toBe('020101');
    expect(hex(encodedOf(digestAlgorithms))).toBe('3100');
    // encapContentInfo: id-data and no eContent.
    expect(childrenOf(encap).map(decodeOid)).toEqual(['1.2.840.113549.1.7.1']);
    expect(hex(encodedOf(signerInfos))).toBe('3100');
    const certs = childrenOf(certificates).map((c) => hex(encodedOf(c)));
    expect(certs.sort()).toEqual([hex(chain.root.der), hex(chain.issuing.der)].sort());
  });

  it('encodes exactly as DER says (a fixed vector)', () => {
    const a = fakeCertificate(0x0a);
    const b = fakeCertificate(0x0b);
    expect(hex(a)).toBe('3024' + '3012020101020102020103020104020105' + '02010a' + '300a06082a8648ce3d040302' + '0302000a');
    const signedData = '020101' + '3100' + '300b06092a864886f70d010701' + 'a04c' + hex(a) + hex(b) + '3100';
    expect(signedData.length / 2).toBe(0x62);
    expect(hex(certsOnlyCms([b, a]))).toBe('3071' + '06092a864886f70d010702' + 'a064' + '3062' + signedData);
  });

  it('puts the certificates in DER order (sorted by encoding), whatever order they are given in', () => {
    const certs = [chain.device.der, chain.root.der, chain.issuing.der];
    const orders = [certs, [...certs].reverse(), [certs[1]!, certs[2]!, certs[0]!]];
    const messages = orders.map((order) => hex(certsOnlyCms(order)));
    expect(new Set(messages).size).toBe(1);
    const inside = childrenOf(signedDataOf(certsOnlyCms(certs))[3]!).map(encodedOf);
    for (let i = 1; i < inside.length; i++) expect(compareDerEncodings(inside[i - 1]!, inside[i]!)).toBeLessThan(0);
  });

  it('carries a certificate given twice once', () => {
    expect(hex(certsOnlyCms([chain.root.der, chain.root.der.slice(), chain.issuing.der]))).toBe(hex(certsOnlyCms([chain.root.der, chain.issuing.der])));
  });

  it('carries a single certificate', () => {
    expect(certificatesOfCms(certsOnlyCms([chain.device.der])).map(hex)).toEqual([hex(chain.device.der)]);
  });

  it('is read back by certificatesOfCms', () => {
    const certs = [chain.root.der, chain.issuing.der, chain.device.der];
    const back = certificatesOfCms(certsOnlyCms(certs));
    expect(back.map(hex).sort()).toEqual(certs.map(hex).sort());
    expect(back.map(hex)).toEqual([...certs].sort(compareDerEncodings).map(hex));
  });

  it('refuses an empty list', () => {
    expect(thrownMessage(() => certsOnlyCms([]), CmsError)).toBe('a certs-only CMS message needs at least one certificate');
  });

  it.each([
    ['empty bytes', () => new Uint8Array(0), 'unexpected end of data'],
    ['trailing data', () => Uint8Array.from([...chain.root.der, 0]), '1 bytes of trailing data'],
    ['a truncated certificate', () => chain.root.der.subarray(0, chain.root.der.length - 1), 'extends beyond'],
    ['an OCTET STRING', () => tlv(TAG.OCTET_STRING, [chain.root.der]), 'expected tag 0x30'],
    ['a PEM text', () => new TextEncoder().encode(chain.root.pem), 'trailing data'],
    ['a certification request', () => buildCsrDer(), 'fewer than six fields'],
    ['a SEQUENCE of two parts', () => seq(seq(), seq()), 'three parts'],
    ['an indefinite length', () => bytes('3080020100 0000'.replace(' ', '')), 'indefinite length'],
  ])('refuses %s given as a certificate', (_, make, reason) => {
    const message = thrownMessage(() => certsOnlyCms([chain.root.der, make()]), CmsError);
    expect(message).toContain('certificate 2 of 2 is not a DER certificate');
    expect(message).toContain(reason);
  });
});

describe('Function: certificatesOfCms', () => {
  const A = fakeCertificate(1);
  const B = fakeCertificate(2);
  const V1 = integerFromHex('1');
  const EMPTY_SET = bytes('3100');
  const ENCAP = seq(objectIdentifier(CMS_OID.data));
  const CERTS = tlv(0xa0, [A, B]);
  /** A ContentInfo around SignedData `fields`. */
  const message = (...fields: Uint8Array[]) => seq(objectIdentifier(CMS_OID.signedData), tlv(0xa0, [seq(...fields)]));
  const refusal = (der: Uint8Array) => thrownMessage(() => certificatesOfCms(der), CmsError);

  it('reads the certificates of a certs-only message in the order they are encoded', () => {
    expect(certificatesOfCms(message(V1, EMPTY_SET, ENCAP, CERTS, EMPTY_SET)).map(hex)).toEqual([hex(A), hex(B)]);
    // Not sorted (a BER writer's order) is read as it is.
    expect(certificatesOfCms(message(V1, EMPTY_SET, ENCAP, tlv(0xa0, [B, A]), EMPTY_SET)).map(hex)).toEqual([hex(B), hex(A)]);
  });

  it('returns copies, not views into the message', () => {
    const der = certsOnlyCms([A]);
    const [cert] = certificatesOfCms(der);
    expect(cert!.buffer).not.toBe(der.buffer);
    expect(cert!.byteLength).toBe(cert!.buffer.byteLength);
  });

  it.each([
    ['another content type', () => seq(objectIdentifier(CMS_OID.data), tlv(0xa0, [seq(V1, EMPTY_SET, ENCAP, CERTS, EMPTY_SET)])), 'content type 1.2.840.113549.1.7.1 is not id-signedData'],
    ['a ContentInfo without content', () => seq(objectIdentifier(CMS_OID.signedData)), 'ContentInfo must have two parts'],
    ['a ContentInfo with a third part', () => seq(objectIdentifier(CMS_OID.signedData), tlv(0xa0, [seq(V1, EMPTY_SET, ENCAP, CERTS, EMPTY_SET)]), bytes('0500')), 'ContentInfo must have two parts'],
    ['content not [0]', () => seq(objectIdentifier(CMS_OID.signedData), tlv(0xa1, [seq(V1, EMPTY_SET, ENCAP, CERTS, EMPTY_SET)])), 'content: expected tag 0xa0'],
    ['two SignedData', () => seq(objectIdentifier(CMS_OID.signedData), tlv(0xa0, [seq(V1), seq(V1)])), 'exactly one SignedData'],
    ['version 3', () => message(integerFromHex('3'), EMPTY_SET, ENCAP, CERTS, EMPTY_SET), 'version must be 1'],
    ['a digest algorithm', () => message(V1, tlv(TAG.SET, [seq(objectIdentifier('2.16.840.1.101.3.4.2.1'))]), ENCAP, CERTS, EMPTY_SET), 'no digest algorithms'],
    ['encapsulated content', () => message(V1, EMPTY_SET, seq(objectIdentifier(CMS_OID.data), tlv(0xa0, [bytes('0400')])), CERTS, EMPTY_SET), 'no encapsulated content'],
    ['another encapsulated content type', () => message(V1, EMPTY_SET, seq(objectIdentifier('1.2.840.113549.1.9.16.1.4')), CERTS, EMPTY_SET), 'is not id-data'],
    ['CRLs', () => message(V1, EMPTY_SET, ENCAP, CERTS, tlv(0xa1, [seq()]), EMPTY_SET), 'carries no CRLs'],
    ['a signer', () => message(V1, EMPTY_SET, ENCAP, CERTS, tlv(TAG.SET, [seq(V1)])), 'has no signers'],
    ['no signerInfos', () => message(V1, EMPTY_SET, ENCAP, CERTS), 'must end with signerInfos'],
    ['a field after signerInfos', () => message(V1, EMPTY_SET, ENCAP, CERTS, EMPTY_SET, EMPTY_SET), 'must end with signerInfos'],
    ['no certificates field', () => message(V1, EMPTY_SET, ENCAP, EMPTY_SET), 'carries no certificates'],
    ['an empty certificates field', () => message(V1, EMPTY_SET, ENCAP, tlv(0xa0, []), EMPTY_SET), 'carries no certificates'],
    ['an attribute certificate', () => message(V1, EMPTY_SET, ENCAP, tlv(0xa0, [A, tlv(0xa2, [seq()])]), EMPTY_SET), 'certificate 2 is not an X.509 certificate (tag 0xa2)'],
    ['a CSR among the certificates', () => message(V1, EMPTY_SET, ENCAP, tlv(0xa0, [buildCsrDer()]), EMPTY_SET), 'fewer than six fields'],
    ['SignedData too short', () => message(V1, EMPTY_SET), 'SignedData is incomplete'],
    ['trailing data', () => Uint8Array.from([...certsOnlyCms([A]), 0]), '1 bytes of trailing data'],
    ['a non-minimal length', () => Uint8Array.from([0x30, 0x81, 0x03, 0x06, 0x01, 0x00]), 'not minimally encoded'],
    ['a certificate on its own', () => A, 'ContentInfo must have two parts'],
    ['nothing', () => new Uint8Array(0), 'unexpected end of data'],
  ])('refuses %s', (_, make, reason) => {
    const text = refusal(make());
    expect(text).toMatch(/^not a certs-only CMS message: /);
    expect(text).toContain(reason);
  });

  it('refuses every truncation of a message with a CmsError', () => {
    const der = certsOnlyCms([A, B]);
    for (let n = 0; n < der.length; n++) expect(() => certificatesOfCms(der.subarray(0, n))).toThrow(CmsError);
  });

  it('returns or throws a CmsError, nothing else, whatever bytes of a message are changed', () => {
    const der = certsOnlyCms([A, B]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const mutated = der.slice();
        for (const [at, value] of edits) mutated[at] = value;
        try {
          for (const cert of certificatesOfCms(mutated)) expect(readSingle(cert).tag).toBe(TAG.SEQUENCE);
        } catch (e) {
          expect(e).toBeInstanceOf(CmsError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the reader error as the cause', () => {
    try {
      certificatesOfCms(new Uint8Array(0));
      throw new Error('accepted');
    } catch (e) {
      expect((e as Error).name).toBe('CmsError');
      expect(((e as Error).cause as Error).name).toBe('DerError');
    }
  });

  it('reads what certsOnlyCms writes for real certificates, and nothing else is in them', () => {
    const der = certsOnlyCms([chain.issuing.der, chain.root.der]);
    const fields = signedDataOf(der);
    expect(fields).toHaveLength(5);
    expect(certificatesOfCms(der).map((c) => hex(valueOf(readSingle(c))))).toEqual(
      [chain.issuing.der, chain.root.der].sort(compareDerEncodings).map((c) => hex(valueOf(readSingle(c)))),
    );
  });
});
