import { DerError, TAG, childrenOf, decodeOid, expectTag, encodedOf, valueOf, type DerElement } from './der/reader.js';

/** Subject attributes the policy knows by short name. */
export const ATTRIBUTE_OIDS = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  dnQualifier: '2.5.4.46',
} as const;

export type AttributeName = keyof typeof ATTRIBUTE_OIDS;
export const ATTRIBUTE_NAMES = Object.keys(ATTRIBUTE_OIDS) as AttributeName[];

/** Other well-known attributes, named so a violation reads well. */
const OTHER_NAMES: Record<string, string> = {
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.12': 'title',
  '2.5.4.4': 'SN',
  '2.5.4.42': 'GN',
  '2.5.4.9': 'street',
  '2.5.4.17': 'postalCode',
  '2.5.4.65': 'pseudonym',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.2': 'unstructuredName',
};

const NAME_BY_OID = new Map<string, string>([
  ...Object.entries(ATTRIBUTE_OIDS).map(([k, v]) => [v, k] as [string, string]),
  ...Object.entries(OTHER_NAMES),
]);

const OID_BY_NAME = new Map<string, string>([...NAME_BY_OID].map(([oid, name]) => [name, oid]));

export const attributeNameOf = (oid: string): string => NAME_BY_OID.get(oid) ?? oid;

/** The OID of a short name (CN, emailAddress…) or of a dotted OID; undefined when unknown. */
export function attributeOidOf(nameOrOid: string): string | undefined {
  if (/^[0-2](\.(0|[1-9][0-9]*))+$/.test(nameOrOid)) return nameOrOid;
  return OID_BY_NAME.get(nameOrOid);
}

export type StringType =
  | 'UTF8String'
  | 'PrintableString'
  | 'IA5String'
  | 'TeletexString'
  | 'BMPString'
  | 'UniversalString'
  | 'VisibleString'
  | 'NumericString';

const STRING_TAGS: Record<number, StringType> = {
  [TAG.UTF8_STRING]: 'UTF8String',
  [TAG.PRINTABLE_STRING]: 'PrintableString',
  [TAG.IA5_STRING]: 'IA5String',
  [TAG.TELETEX_STRING]: 'TeletexString',
  [TAG.BMP_STRING]: 'BMPString',
  [TAG.UNIVERSAL_STRING]: 'UniversalString',
  [TAG.VISIBLE_STRING]: 'VisibleString',
  [TAG.NUMERIC_STRING]: 'NumericString',
};
export const STRING_TYPES = Object.values(STRING_TAGS);

export interface NameAttribute {
  oid: string;
  /** Short name (C, O, CN…), another known name, or the dotted OID. */
  name: string;
  /** ASN.1 string type of the value, or undefined when it is not a string. */
  stringType: StringType | undefined;
  /** Decoded text, or undefined when the value is not a (valid) string. */
  value: string | undefined;
  /** Why the value could not be decoded, when it could not. */
  decodeError?: string;
}

export interface DistinguishedName {
  /** The RDNs in encoded order; each holds one attribute unless multi-valued. */
  rdns: NameAttribute[][];
  /** The Name exactly as encoded. */
  der: Uint8Array;
}

// ignoreBOM keeps a leading U+FEFF in the value, where the policy can see (and refuse) it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function decodeString(type: StringType, bytes: Uint8Array): string {
  switch (type) {
    case 'UTF8String': {
      // ASCII (nearly every device subject) needs no UTF-8 decoder.
      let s = '';
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i]!;
        if (b > 0x7f) return utf8.decode(bytes);
        s += String.fromCharCode(b);
      }
      return s;
    }
    case 'PrintableString':
    case 'IA5String':
    case 'VisibleString':
    case 'NumericString': {
      let s = '';
      for (const b of bytes) {
        if (b > 0x7f) throw new Error(`${type} holds a non-ASCII byte`);
        s += String.fromCharCode(b);
      }
      if (type === 'PrintableString' && !PRINTABLE.test(s)) throw new Error('character not allowed in PrintableString');
      if (type === 'NumericString' && !/^[0-9 ]*$/.test(s)) throw new Error('character not allowed in NumericString');
      return s;
    }
    case 'TeletexString':
      return Buffer.from(bytes).toString('latin1');
    case 'BMPString': {
      if (bytes.length % 2 !== 0) throw new Error('BMPString of odd length');
      let s = '';
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      return s;
    }
    case 'UniversalString': {
      if (bytes.length % 4 !== 0) throw new Error('UniversalString length not a multiple of 4');
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        if (cp > 0x10ffff) throw new Error('UniversalString code point out of range');
        s += String.fromCodePoint(cp);
      }
      return s;
    }
  }
}

function readAttribute(el: DerElement): NameAttribute {
  expectTag(el, TAG.SEQUENCE, 'AttributeTypeAndValue');
  const parts = childrenOf(el);
  if (parts.length !== 2) throw new DerError('AttributeTypeAndValue must have a type and a value');
  const oid = decodeOid(parts[0]!);
  const valueEl = parts[1]!;
  const stringType = STRING_TAGS[valueEl.tag];
  const attr: NameAttribute = { oid, name: attributeNameOf(oid), stringType, value: undefined };
  if (!stringType) {
    attr.decodeError = `value is not a string (tag 0x${valueEl.tag.toString(16)})`;
    return attr;
  }
  try {
    attr.value = decodeString(stringType, valueOf(valueEl));
  } catch (e) {
    attr.decodeError = (e as Error).message;
  }
  return attr;
}

/** Decodes an X.501 Name (SEQUENCE OF SET OF AttributeTypeAndValue). */
export function readName(el: DerElement): DistinguishedName {
  expectTag(el, TAG.SEQUENCE, 'Name');
  const rdns = childrenOf(el).map((set) => {
    expectTag(set, TAG.SET, 'RelativeDistinguishedName');
    const attrs = childrenOf(set).map(readAttribute);
    if (attrs.length === 0) throw new DerError('empty RelativeDistinguishedName');
    return attrs;
  });
  return { rdns, der: encodedOf(el) };
}

/** The subject as an object keyed by short name (single-valued attributes only). */
export function subjectObject(name: DistinguishedName): Partial<Record<AttributeName, string>> {
  const out: Partial<Record<AttributeName, string>> = {};
  for (const rdn of name.rdns) {
    for (const attr of rdn) {
      if (attr.value !== undefined && (ATTRIBUTE_NAMES as string[]).includes(attr.name) && !(attr.name in out)) {
        out[attr.name as AttributeName] = attr.value;
      }
    }
  }
  return out;
}

/** RFC 4514-style string, most significant RDN first as encoded (for logs and listings). */
export function nameToString(name: DistinguishedName): string {
  const esc = (v: string) =>
    [...v]
      .map((c, i, all) => {
        const special = ',+"\\<>;='.includes(c) || (i === 0 && (c === ' ' || c === '#')) || (i === all.length - 1 && c === ' ');
        return special ? `\\${c}` : c;
      })
      .join('');
  return name.rdns.map((rdn) => rdn.map((a) => `${a.name}=${esc(a.value ?? '#')}`).join('+')).join(', ');
}
