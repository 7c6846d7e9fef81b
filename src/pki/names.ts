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

const isAscii = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return false;
  return true;
};

/** Bytes known to be ASCII as a string: one allocation per chunk, not one per character. */
function asciiString(bytes: Uint8Array): string {
  const CHUNK = 4096;
  if (bytes.length <= CHUNK) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let s = '';
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  return s;
}

function decodeString(type: StringType, bytes: Uint8Array): string {
  switch (type) {
    case 'UTF8String':
      // ASCII (nearly every device subject) needs no UTF-8 decoder.
      return isAscii(bytes) ? asciiString(bytes) : utf8.decode(bytes);
    case 'PrintableString':
    case 'IA5String':
    case 'VisibleString':
    case 'NumericString': {
      if (!isAscii(bytes)) throw new Error(`${type} holds a non-ASCII byte`);
      const s = asciiString(bytes);
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

// --- What an attribute value may hold

/**
 * Attributes X.520 defines as PrintableString, not DirectoryString (RFC 5280 appendix A:
 * X520countryName, X520SerialNumber, X520dnQualifier): they take no other string type,
 * whatever a policy allows for the rest of the subject.
 */
export const PRINTABLE_STRING_ONLY: ReadonlySet<string> = new Set([ATTRIBUTE_OIDS.C, ATTRIBUTE_OIDS.serialNumber, ATTRIBUTE_OIDS.dnQualifier]);

/**
 * The most combining marks (Mn, Me) allowed in a row. Two is common (a Thai tone mark over
 * a vowel sign, Devanagari nukta and virama, Arabic shadda and a vowel), three occurs (a
 * Tibetan stack: two subjoined letters and a vowel sign); more is stacking for show, marks
 * drawn over the neighbouring characters ("Zalgo" text).
 */
export const MAX_COMBINING_MARKS = 3;

/**
 * Characters never allowed in a value, by kind, tested in this order. The classes are the
 * JavaScript engine's Unicode tables, so what is unassigned is as of the runtime's Unicode
 * version (`process.versions.unicode`).
 */
const REFUSED_CHARACTERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\p{Cc}/u, 'a control character'],
  [/\p{Cs}/u, 'an unpaired surrogate'],
  [/[\p{Zl}\p{Zp}]/u, 'a line or paragraph separator'],
  // Default_Ignorable_Code_Point is what renders as nothing: zero-width characters, bidi
  // controls, variation selectors, Hangul fillers, tags… U+2800 is not one, but is blank.
  [/[\p{Default_Ignorable_Code_Point}\u2800]/u, 'an invisible character'],
  [/\p{Cf}/u, 'a format character'],
  [/\p{Co}/u, 'a private-use character'],
  [/\p{Noncharacter_Code_Point}/u, 'a noncharacter'],
  [/\p{Cn}/u, 'an unassigned code point'],
];
const WHITE_SPACE = /\p{White_Space}/u;
const COMBINING_MARK = /[\p{Mn}\p{Me}]/u;
/** Printable ASCII, not starting or ending with a space: nothing below can refuse it. */
const PLAIN_ASCII = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

/** Names of the characters a refusal most often meets (Unicode names never change). */
const CHARACTER_NAMES = new Map<number, string>([
  [0x00, 'NULL'], [0x09, 'CHARACTER TABULATION'], [0x0a, 'LINE FEED'], [0x0d, 'CARRIAGE RETURN'], [0x1b, 'ESCAPE'],
  [0x20, 'SPACE'], [0x7f, 'DELETE'], [0x85, 'NEXT LINE'], [0xa0, 'NO-BREAK SPACE'], [0xad, 'SOFT HYPHEN'],
  [0x034f, 'COMBINING GRAPHEME JOINER'], [0x115f, 'HANGUL CHOSEONG FILLER'], [0x1160, 'HANGUL JUNGSEONG FILLER'],
  [0x1680, 'OGHAM SPACE MARK'], [0x180b, 'MONGOLIAN FREE VARIATION SELECTOR ONE'], [0x180c, 'MONGOLIAN FREE VARIATION SELECTOR TWO'],
  [0x180d, 'MONGOLIAN FREE VARIATION SELECTOR THREE'], [0x180e, 'MONGOLIAN VOWEL SEPARATOR'], [0x180f, 'MONGOLIAN FREE VARIATION SELECTOR FOUR'],
  [0x2000, 'EN QUAD'], [0x2001, 'EM QUAD'], [0x2002, 'EN SPACE'], [0x2003, 'EM SPACE'], [0x2004, 'THREE-PER-EM SPACE'],
  [0x2005, 'FOUR-PER-EM SPACE'], [0x2006, 'SIX-PER-EM SPACE'], [0x2007, 'FIGURE SPACE'], [0x2008, 'PUNCTUATION SPACE'],
  [0x2009, 'THIN SPACE'], [0x200a, 'HAIR SPACE'], [0x200b, 'ZERO WIDTH SPACE'], [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'], [0x200e, 'LEFT-TO-RIGHT MARK'], [0x200f, 'RIGHT-TO-LEFT MARK'], [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'], [0x202a, 'LEFT-TO-RIGHT EMBEDDING'], [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'], [0x202d, 'LEFT-TO-RIGHT OVERRIDE'], [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x202f, 'NARROW NO-BREAK SPACE'], [0x205f, 'MEDIUM MATHEMATICAL SPACE'], [0x2060, 'WORD JOINER'], [0x2061, 'FUNCTION APPLICATION'],
  [0x2062, 'INVISIBLE TIMES'], [0x2063, 'INVISIBLE SEPARATOR'], [0x2064, 'INVISIBLE PLUS'], [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'], [0x2068, 'FIRST STRONG ISOLATE'], [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x2800, 'BRAILLE PATTERN BLANK'], [0x3000, 'IDEOGRAPHIC SPACE'], [0x3164, 'HANGUL FILLER'], [0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [0xffa0, 'HALFWIDTH HANGUL FILLER'],
]);

function characterName(cp: number): string | undefined {
  if (cp >= 0xfe00 && cp <= 0xfe0f) return `VARIATION SELECTOR-${cp - 0xfe00 + 1}`;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return `VARIATION SELECTOR-${cp - 0xe0100 + 17}`;
  return CHARACTER_NAMES.get(cp);
}

const codePointOf = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const codePoints = (chars: string[]) => chars.map(codePointOf).join(' ');

/** "U+3164 HANGUL FILLER", or "U+E000" for a character without a name here. */
export function describeCodePoint(char: string): string {
  const name = characterName(char.codePointAt(0)!);
  return name ? `${codePointOf(char)} ${name}` : codePointOf(char);
}

/** The code points where `chars` and its NFC form first and last differ, as "U+0075 U+0308 should be U+00FC". */
function nfcDifference(chars: string[], nfc: string[]): string {
  let head = 0;
  while (head < chars.length && head < nfc.length && chars[head] === nfc[head]) head++;
  let tail = 0;
  while (tail < chars.length - head && tail < nfc.length - head && chars[chars.length - 1 - tail] === nfc[nfc.length - 1 - tail]) tail++;
  return `${codePoints(chars.slice(head, chars.length - tail))} should be ${codePoints(nfc.slice(head, nfc.length - tail))}`;
}

/**
 * Why a decoded attribute value may not stand in a subject, whatever the attribute: each
 * kind of refused character (with the first one met), whitespace alone or at either end,
 * text not in NFC, and stacked combining marks. Empty when the value is fine. An empty
 * value is left to the length rule (a policy's minLength is at least 1).
 */
export function valueProblems(value: string): string[] {
  if (PLAIN_ASCII.test(value)) return [];
  const chars = [...value];
  const problems: string[] = [];

  const firstOfKind = new Map<string, string>();
  for (const c of chars) {
    const kind = REFUSED_CHARACTERS.find(([re]) => re.test(c))?.[1];
    if (kind && !firstOfKind.has(kind)) firstOfKind.set(kind, c);
  }
  for (const [kind, c] of firstOfKind) problems.push(`contains ${describeCodePoint(c)}, ${kind}`);

  if (chars.every((c) => WHITE_SPACE.test(c))) {
    problems.push(`is only whitespace (${describeCodePoint(chars[0]!)})`);
  } else {
    if (WHITE_SPACE.test(chars[0]!)) problems.push(`starts with whitespace (${describeCodePoint(chars[0]!)})`);
    if (WHITE_SPACE.test(chars.at(-1)!)) problems.push(`ends with whitespace (${describeCodePoint(chars.at(-1)!)})`);
  }

  const nfc = value.normalize('NFC');
  if (nfc !== value) problems.push(`is not in Unicode normalization form NFC: ${nfcDifference(chars, [...nfc])}`);

  let run = 0;
  for (let i = 0; i < chars.length; i++) {
    run = COMBINING_MARK.test(chars[i]!) ? run + 1 : 0;
    const next = chars[i + 1];
    if (run > MAX_COMBINING_MARKS && (next === undefined || !COMBINING_MARK.test(next))) {
      problems.push(`has ${run} combining marks in a row, from ${describeCodePoint(chars[i + 1 - run]!)}; at most ${MAX_COMBINING_MARKS} are allowed`);
      break;
    }
  }
  return problems;
}
