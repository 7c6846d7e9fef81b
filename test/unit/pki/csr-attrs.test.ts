import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { csrAttributes } from '../../../src/pki/csr-attrs.js';
import { TAG, checkStructure, childrenOf, decodeOid, encodedOf, integerMagnitude, readSingle, type DerElement } from '../../../src/pki/der/reader.js';
import { parsePolicy, type Policy } from '../../../src/pki/policy.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const SHIPPED_TEXT = readFileSync(new URL('../../../config/policy.json', import.meta.url), 'utf8');
const VARS = { organization: 'Example Corp' };
const shippedDoc = (): Doc => JSON.parse(SHIPPED_TEXT) as Doc;
const shipped = parsePolicy(shippedDoc(), VARS);

/** The shipped policy document changed by `edit`, parsed. */
function policyWith(edit: (doc: Doc) => void): Policy {
  const doc = shippedDoc();
  edit(doc);
  return parsePolicy(doc, VARS);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const OIDS = {
  C: '2.5.4.6',
  O: '2.5.4.10',
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

type Item = string | { type: string; values: Array<string | number> };

/** CsrAttrs read back with the project's strict reader: a bare OID as its dotted form, an Attribute as its type and values. */
function readCsrAttrs(der: Uint8Array): Item[] {
  const root = readSingle(der);
  checkStructure(root);
  expect(root.tag).toBe(TAG.SEQUENCE);
  return childrenOf(root).map((el): Item => {
    if (el.tag === TAG.OID) return decodeOid(el);
    expect(el.tag).toBe(TAG.SEQUENCE);
    const [type, values, ...rest] = childrenOf(el) as [DerElement, DerElement];
    expect(rest).toHaveLength(0);
    expect(values.tag).toBe(TAG.SET);
    const members = childrenOf(values);
    // RFC 8951 4: values SET SIZE (1..MAX); DER: in the order of their encodings.
    expect(members.length).toBeGreaterThan(0);
    const encodings = members.map((m) => hex(encodedOf(m)));
    expect(encodings).toEqual([...encodings].sort());
    return {
      type: decodeOid(type),
      values: members.map((m) => (m.tag === TAG.OID ? decodeOid(m) : Number.parseInt(hex(integerMagnitude(m)), 16))),
    };
  });
}

describe('Function: csrAttributes', () => {
  it('names, for the shipped policy, the required subject attributes, the key types and the signature algorithms', () => {
    expect(readCsrAttrs(csrAttributes(shipped))).toEqual([
      OIDS.C,
      OIDS.O,
      OIDS.CN,
      { type: OIDS.ecPublicKey, values: [OIDS.p384, OIDS.p256] },
      { type: OIDS.rsaEncryption, values: [2048, 3072, 4096] },
      OIDS.ecdsaWithSha256,
      OIDS.sha256WithRsa,
    ]);
  });

  it('encodes an EC-only policy exactly (a fixed vector)', () => {
    const policy = policyWith((doc) => {
      doc.keyTypes = ['EC_P256'];
    });
    expect(hex(csrAttributes(policy))).toBe(
      '3030' +
        '0603550406' + // countryName
        '060355040a' + // organizationName
        '0603550403' + // commonName
        '3015' + '06072a8648ce3d0201' + '310a' + '06082a8648ce3d030107' + // { id-ecPublicKey, { secp256r1 } }
        '06082a8648ce3d040302', // ecdsa-with-SHA256
    );
  });

  it('offers only EC for an EC-only policy', () => {
    const policy = policyWith((doc) => {
      doc.keyTypes = ['EC_P384', 'EC_P256'];
    });
    expect(readCsrAttrs(csrAttributes(policy))).toEqual([OIDS.C, OIDS.O, OIDS.CN, { type: OIDS.ecPublicKey, values: [OIDS.p384, OIDS.p256] }, OIDS.ecdsaWithSha256]);
  });

  it('offers only RSA for an RSA-only policy, the sizes as INTEGERs in DER order', () => {
    const policy = policyWith((doc) => {
      doc.keyTypes = ['RSA_4096', 'RSA_2048'];
    });
    const der = csrAttributes(policy);
    expect(readCsrAttrs(der)).toEqual([OIDS.C, OIDS.O, OIDS.CN, { type: OIDS.rsaEncryption, values: [2048, 4096] }, OIDS.sha256WithRsa]);
    expect(hex(der)).toContain('301506092a864886f70d010101' + '3108' + '02020800' + '02021000');
  });

  it('names a key type listed twice once', () => {
    const policy: Policy = { ...shipped, keyTypes: ['RSA_3072', 'RSA_3072', 'EC_P384', 'EC_P384'] };
    expect(readCsrAttrs(csrAttributes(policy)).slice(3)).toEqual([
      { type: OIDS.ecPublicKey, values: [OIDS.p384] },
      { type: OIDS.rsaEncryption, values: [3072] },
      OIDS.ecdsaWithSha256,
      OIDS.sha256WithRsa,
    ]);
  });

  it('names an attribute whose value the policy fixes by its OID only', () => {
    expect(shipped.subject.attributes.get(OIDS.O)?.value).toBe('Example Corp');
    const der = csrAttributes(shipped);
    expect(Buffer.from(der).includes(Buffer.from('Example Corp'))).toBe(false);
    // Only OIDs and Attributes at the top, nothing that could carry a value of a subject attribute.
    expect(childrenOf(readSingle(der)).map((el) => el.tag)).toEqual([TAG.OID, TAG.OID, TAG.OID, TAG.SEQUENCE, TAG.SEQUENCE, TAG.OID, TAG.OID]);
  });

  it("follows the policy's order and leaves out optional and forbidden attributes", () => {
    const policy = policyWith((doc) => {
      const { C, O, CN, serialNumber } = doc.subject.attributes;
      doc.subject.attributes = { CN, serialNumber: { ...serialNumber, presence: 'required' }, C: { ...C, presence: 'optional' }, O, OU: { presence: 'forbidden' } };
      doc.keyTypes = ['EC_P256'];
    });
    expect(readCsrAttrs(csrAttributes(policy))).toEqual([OIDS.CN, OIDS.serialNumber, OIDS.O, { type: OIDS.ecPublicKey, values: [OIDS.p256] }, OIDS.ecdsaWithSha256]);
  });

  it('names an attribute given by its dotted OID in the policy', () => {
    const policy = policyWith((doc) => {
      doc.subject.attributes = { '2.5.4.5': { presence: 'required' } };
      doc.keyTypes = ['EC_P256'];
    });
    expect(readCsrAttrs(csrAttributes(policy))[0]).toBe(OIDS.serialNumber);
  });

  it('names no attribute when the policy requires none', () => {
    const policy = policyWith((doc) => {
      for (const rule of Object.values(doc.subject.attributes) as Doc[]) rule.presence = 'optional';
      doc.keyTypes = ['RSA_2048'];
    });
    expect(readCsrAttrs(csrAttributes(policy))).toEqual([{ type: OIDS.rsaEncryption, values: [2048] }, OIDS.sha256WithRsa]);
  });

  it('refuses a key type it does not know', () => {
    expect(() => csrAttributes({ ...shipped, keyTypes: ['EC_P256', 'ED25519'] })).toThrow('csrAttributes: unknown key type ED25519');
  });
});
