/**
 * Certificate revocation lists: X.509 v2 CertificateLists (RFC 5280 §5) built
 * the way device certificates are (fast-certificate.ts): the TBSCertList
 * written straight into one preallocated buffer (no object per entry), then
 * signed once by the signer port. A list of a million entries is one
 * allocation for its TBSCertList and one for the CertificateList; writing each
 * entry as its own small array first is four to five times slower.
 *
 * The authority revocation list (the root's CRL of the issuing CA certificates
 * it revokes) needs no code of its own: it is `buildCrl` with the root as
 * issuer and the revoked CA certificates' serials, each with reason
 * 'cACompromise'.
 */
import { SIGNING_ALGORITHMS } from './algorithms.js';
import {
  DerError,
  TAG,
  bitStringBytes,
  childrenOf,
  decodeOid,
  decodeTime,
  encodedOf,
  expectTag,
  integerMagnitude,
  readElement,
  readSingle,
  valueOf,
  type DerElement,
} from './der/reader.js';
import { bitString, integerFromHex, lengthOctets, timeLength, tlv, writeTime } from './der/writer.js';
import type { Issuer } from './profile.js';

/**
 * The RFC 5280 §5.3.1 CRLReason names a revocation may give. `certificateHold`
 * and `removeFromCRL` never appear: a revocation is final.
 */
export type CrlReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'privilegeWithdrawn'
  | 'aACompromise';

/** The CRLReason ENUMERATED values (RFC 5280 §5.3.1). */
export const CRL_REASON_CODES: Readonly<Record<CrlReason, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

export interface CrlEntry {
  /** The revoked certificate's serial: lower-case hex, as certificate records keep it. */
  serialNumber: string;
  /** revocationDate (written to the second). */
  revokedAt: Date;
  reason: CrlReason;
}

export interface CrlParams {
  /** The CA whose certificates the list revokes; it signs the list. */
  issuer: Pick<Issuer, 'subjectDer' | 'keyIdentifier' | 'signer'>;
  /** cRLNumber: 0 ≤ n < 2^159 (at most 20 octets), increasing from one list to the next. */
  crlNumber: bigint;
  thisUpdate: Date;
  /** Must be later than thisUpdate (compared to the second, as written). */
  nextUpdate: Date;
  /**
   * The revoked certificates, written in the order given. Callers pass them
   * sorted by serial (ascending), as published lists conventionally are; the
   * duplicate check is then one comparison per entry. Empty: the list has no
   * revokedCertificates field at all (RFC 5280: absent, never empty).
   */
  entries: readonly CrlEntry[];
}

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

const VERSION_V2 = hex('020101');
const OID_CRL_NUMBER = hex('0603551d14');
const OID_AUTHORITY_KEY_IDENTIFIER = hex('0603551d23');
/** crlEntryExtensions with one non-critical reasonCode: everything but the ENUMERATED's value octet. */
const REASON_EXTENSIONS_PREFIX = hex('300c 300a 0603551d15 0403 0a01');
const REASON_EXTENSIONS_LENGTH = REASON_EXTENSIONS_PREFIX.length + 1;
/** crlExtensions [0] EXPLICIT (constructed); keyIdentifier [0] IMPLICIT (primitive). */
const CRL_EXTENSIONS_TAG = 0xa0;
const KEY_IDENTIFIER_TAG = 0x80;
const CRL_NUMBER_LIMIT = 1n << 159n;
const MAX_CRL_NUMBER_OCTETS = 20;

const crlError = (message: string) => new Error(`CRL: ${message}`);

/** Whether a Date is one the writer can carry: valid, in the years 0–9999. */
function representable(date: Date): boolean {
  const year = date.getUTCFullYear();
  return year >= 0 && year <= 9999;
}

/** Throws unless `date` is a Date the writer can carry. */
function checkTime(date: Date, what: string): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw crlError(`${what} is not a valid date`);
  if (!representable(date)) throw crlError(`${what} is outside the years 0–9999`);
}

const badSerial = (index: number, serial: unknown) => crlError(`entry ${index}: serial ${JSON.stringify(serial)} is not 2–40 lower-case hex digits`);

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Numeric order of serial digits without leading zeros. */
const serialBefore = (a: string, b: string) => a.length < b.length || (a.length === b.length && a < b);

/** Hex digits without their leading zeros (a new string only when there are any). */
function withoutLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length && digits.charCodeAt(i) === 0x30) i++;
  return i === 0 ? digits : digits.slice(i);
}

/** The value of a lower-case hex digit's character code, or -1. */
const nibble = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

/**
 * The length of the serial's INTEGER as integerFromHex writes it (tag, length
 * octet, a zero octet when the top bit is set, the magnitude), from its digits
 * without leading zeros.
 */
function serialIntegerLength(digits: string): number {
  const octets = (digits.length + 1) >> 1;
  return 2 + octets + (digits.length % 2 === 0 && digits.charCodeAt(0) >= 0x38 ? 1 : 0);
}

/** Writes the serial's INTEGER at `at` from its digits without leading zeros; returns the end, or -1 at a character that is not lower-case hex. */
function writeSerial(out: Uint8Array, at: number, digits: string, length: number): number {
  out[at++] = TAG.INTEGER;
  out[at++] = length - 2;
  let i = 0;
  if (digits.length % 2 === 1) {
    const v = nibble(digits.charCodeAt(0));
    if (v < 0) return -1;
    out[at++] = v;
    i = 1;
  } else if (digits.charCodeAt(0) >= 0x38) {
    out[at++] = 0;
  }
  for (; i < digits.length; i += 2) {
    const high = nibble(digits.charCodeAt(i));
    const low = nibble(digits.charCodeAt(i + 1));
    if (high < 0 || low < 0) return -1;
    out[at++] = (high << 4) | low;
  }
  return at;
}

const REASON_CODE_BY_NAME = new Map<string, number>(Object.entries(CRL_REASON_CODES));

/**
 * The longest entry: its SEQUENCE header, a serial INTEGER of 21 octets (40
 * digits, top bit set), a GeneralizedTime and a reasonCode extension. Under
 * 128: every entry has a one-octet length.
 */
const MAX_ENTRY_LENGTH = 2 + 23 + 17 + REASON_EXTENSIONS_LENGTH;

/** crlExtensions: [0] { SEQUENCE { authorityKeyIdentifier, cRLNumber } }, both non-critical. */
function crlExtensions(keyIdentifier: string, crlNumber: bigint): Uint8Array {
  if (typeof keyIdentifier !== 'string' || !/^(?:[0-9a-f]{2})+$/i.test(keyIdentifier)) throw crlError(`issuer key identifier ${JSON.stringify(keyIdentifier)} is not hex`);
  const aki = tlv(TAG.SEQUENCE, [
    OID_AUTHORITY_KEY_IDENTIFIER,
    tlv(TAG.OCTET_STRING, [tlv(TAG.SEQUENCE, [tlv(KEY_IDENTIFIER_TAG, [hex(keyIdentifier)])])]),
  ]);
  const number = tlv(TAG.SEQUENCE, [OID_CRL_NUMBER, tlv(TAG.OCTET_STRING, [integerFromHex(crlNumber.toString(16))])]);
  return tlv(CRL_EXTENSIONS_TAG, [tlv(TAG.SEQUENCE, [aki, number])]);
}

/**
 * The TBSCertList of a v2 CRL: version, signature, issuer, thisUpdate,
 * nextUpdate, revokedCertificates (absent when there are no entries), and
 * crlExtensions (authorityKeyIdentifier, cRLNumber). Each entry: serial,
 * revocationDate, and a reasonCode extension unless the reason is
 * 'unspecified' (RFC 5280 §5.3.1: SHOULD be absent then). Times are UTCTime
 * through 2049, GeneralizedTime from 2050. Throws a plain Error for arguments
 * no CRL may carry: a cRLNumber out of range, nextUpdate not after thisUpdate,
 * a serial that is not 2–40 lower-case hex digits or is zero, the same serial
 * twice, an unknown reason.
 *
 * One pass over the entries, each checked and written where it belongs: the
 * buffer is sized for entries of the longest kind, the fields before them are
 * written last, ending where the first entry starts. The result is a view of
 * that buffer (about a fifth larger than the TBSCertList for a long list).
 */
export function tbsCertList(params: CrlParams): Uint8Array {
  const { issuer, crlNumber, thisUpdate, nextUpdate, entries } = params;
  const algorithm = SIGNING_ALGORITHMS[issuer.signer.algorithm];
  if (!algorithm) throw crlError(`unknown issuer signing algorithm ${issuer.signer.algorithm}`);
  if (typeof crlNumber !== 'bigint' || crlNumber < 0n || crlNumber >= CRL_NUMBER_LIMIT) {
    throw crlError(`cRLNumber must be an integer from 0 to 2^159 − 1 (at most 20 octets), not ${String(crlNumber)}`);
  }
  checkTime(thisUpdate, 'thisUpdate');
  checkTime(nextUpdate, 'nextUpdate');
  if (seconds(nextUpdate) <= seconds(thisUpdate)) {
    throw crlError(`nextUpdate ${nextUpdate.toISOString()} must be later than thisUpdate ${thisUpdate.toISOString()}`);
  }
  const extensions = crlExtensions(issuer.keyIdentifier, crlNumber);

  const count = entries.length;
  const fields = VERSION_V2.length + algorithm.identifier.length + issuer.subjectDer.length + timeLength(thisUpdate) + timeLength(nextUpdate);
  const maxRevoked = count * MAX_ENTRY_LENGTH;
  const maxRevokedHeader = count ? 1 + lengthOctets(maxRevoked).length : 0;
  const maxHeader = 1 + lengthOctets(fields + maxRevokedHeader + maxRevoked + extensions.length).length;
  const entriesStart = maxHeader + fields + maxRevokedHeader;
  const out = new Uint8Array(entriesStart + maxRevoked + extensions.length);

  // The entries, from `entriesStart`.
  let at = entriesStart;
  let previous = '';
  let seen: Set<string> | undefined;
  for (let k = 0; k < count; k++) {
    const { serialNumber: serial, revokedAt, reason } = entries[k]!;
    // isSerial's test (2–40 lower-case hex digits): the length here, each digit as it is written.
    if (typeof serial !== 'string' || serial.length < 2 || serial.length > 40) throw badSerial(k, serial);
    const digits = withoutLeadingZeros(serial);
    if (digits === '') throw crlError(`entry ${k}: serial ${serial} is zero, which no certificate has`);
    if (k > 0 && !seen && !serialBefore(previous, digits)) {
      // Not in ascending order: from here on, every serial so far is remembered.
      seen = new Set();
      for (let j = 0; j < k; j++) seen.add(withoutLeadingZeros(entries[j]!.serialNumber));
    }
    if (seen) {
      if (seen.has(digits)) throw crlError(`entry ${k}: serial ${serial} is listed twice`);
      seen.add(digits);
    }
    previous = digits;
    const code = REASON_CODE_BY_NAME.get(reason);
    if (code === undefined) throw crlError(`entry ${k}: unknown reason ${JSON.stringify(reason)}`);
    if (!(revokedAt instanceof Date) || !representable(revokedAt)) checkTime(revokedAt, `entry ${k} (serial ${serial}): revokedAt`);

    const serialLength = serialIntegerLength(digits);
    out[at] = TAG.SEQUENCE;
    out[at + 1] = serialLength + timeLength(revokedAt) + (code === 0 ? 0 : REASON_EXTENSIONS_LENGTH);
    at = writeSerial(out, at + 2, digits, serialLength);
    if (at < 0) throw badSerial(k, serial);
    at = writeTime(out, at, revokedAt);
    if (code !== 0) {
      out.set(REASON_EXTENSIONS_PREFIX, at);
      out[at + REASON_EXTENSIONS_PREFIX.length] = code;
      at += REASON_EXTENSIONS_LENGTH;
    }
  }
  const revokedLength = at - entriesStart;
  out.set(extensions, at);
  const end = at + extensions.length;

  // The fields before the entries, now that their lengths are known, ending at `entriesStart`.
  const revokedHeader = count ? lengthOctets(revokedLength) : [];
  const header = lengthOctets(fields + (count ? 1 + revokedHeader.length + revokedLength : 0) + extensions.length);
  const start = entriesStart - (count ? 1 + revokedHeader.length : 0) - fields - 1 - header.length;
  at = start;
  const put = (bytes: Uint8Array | number[]) => {
    out.set(bytes, at);
    at += bytes.length;
  };
  out[at++] = TAG.SEQUENCE;
  put(header);
  put(VERSION_V2);
  put(algorithm.identifier);
  put(issuer.subjectDer);
  at = writeTime(out, at, thisUpdate);
  at = writeTime(out, at, nextUpdate);
  if (count) {
    out[at++] = TAG.SEQUENCE;
    put(revokedHeader);
  }
  if (at !== entriesStart) throw new Error(`CRL: the fields end at ${at}, the entries start at ${entriesStart}`);
  return out.subarray(start, end);
}

/**
 * A signed v2 CRL (DER): the TBSCertList (see `tbsCertList` for what it holds
 * and refuses), one signature by the issuer's signer, and
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }.
 */
export async function buildCrl(params: CrlParams): Promise<Uint8Array> {
  const tbs = tbsCertList(params);
  const { signer } = params.issuer;
  const signature = await signer.sign(tbs);
  return tlv(TAG.SEQUENCE, [tbs, SIGNING_ALGORITHMS[signer.algorithm].identifier, bitString(signature)]);
}

/** What `readCrlInfo` reads of a CRL. */
export interface CrlInfo {
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  /** The issuer Name as encoded (a view into the CRL). */
  issuerDer: Uint8Array;
  /** How many certificates it revokes. */
  entryCount: number;
}

const KNOWN_CRL_EXTENSIONS = new Set(['2.5.29.20', '2.5.29.35']);

/** Extensions ::= SEQUENCE OF Extension; returns the extnValue contents by OID (each OID once, no unknown critical one). */
function readExtensions(el: DerElement): Map<string, Uint8Array> {
  expectTag(el, TAG.SEQUENCE, 'extensions');
  const out = new Map<string, Uint8Array>();
  for (const ext of childrenOf(el)) {
    expectTag(ext, TAG.SEQUENCE, 'extension');
    const parts = childrenOf(ext);
    const oid = decodeOid(parts[0] ?? ext);
    let critical = false;
    let i = 1;
    if (parts[i]?.tag === TAG.BOOLEAN) {
      const v = valueOf(parts[i]!);
      // DER: critical is DEFAULT FALSE, so it is present only as TRUE.
      if (v.length !== 1 || v[0] !== 0xff) throw new DerError(`extension ${oid}: critical must be absent or TRUE`);
      critical = true;
      i++;
    }
    const value = parts[i];
    if (!value || i + 1 !== parts.length) throw new DerError(`extension ${oid}: malformed`);
    expectTag(value, TAG.OCTET_STRING, `extension ${oid} value`);
    if (out.has(oid)) throw new DerError(`extension ${oid} appears twice`);
    if (critical && !KNOWN_CRL_EXTENSIONS.has(oid)) throw new DerError(`unknown critical extension ${oid}`);
    out.set(oid, valueOf(value));
  }
  return out;
}

/**
 * Reads back what the CA publishes: a v2 CRL with nextUpdate and a cRLNumber.
 * Strict: DER only, no trailing data, the two signature algorithms equal, a
 * revokedCertificates field never empty, no unknown critical extension.
 * The signature is not checked. Throws DerError for anything else.
 */
export function readCrlInfo(der: Uint8Array): CrlInfo {
  const list = expectTag(readSingle(der), TAG.SEQUENCE, 'CertificateList');
  const parts = childrenOf(list);
  if (parts.length !== 3) throw new DerError('CertificateList must have three parts');
  const [tbs, signatureAlgorithm, signature] = parts as [DerElement, DerElement, DerElement];
  expectTag(tbs, TAG.SEQUENCE, 'TBSCertList');
  expectTag(signatureAlgorithm, TAG.SEQUENCE, 'signatureAlgorithm');
  bitStringBytes(signature);

  const fields = childrenOf(tbs);
  let i = 0;
  const next = (what: string) => {
    const el = fields[i++];
    if (!el) throw new DerError(`TBSCertList: no ${what}`);
    return el;
  };
  const version = expectTag(next('version'), TAG.INTEGER, 'version');
  if (version.end - version.valueStart !== 1 || der[version.valueStart] !== 1) throw new DerError('version: not v2');
  const inner = expectTag(next('signature'), TAG.SEQUENCE, 'signature');
  if (!Buffer.from(encodedOf(inner)).equals(encodedOf(signatureAlgorithm))) throw new DerError('signature and signatureAlgorithm differ');
  const issuer = expectTag(next('issuer'), TAG.SEQUENCE, 'issuer');
  const thisUpdate = decodeTime(next('thisUpdate'));
  const nextUpdate = decodeTime(next('nextUpdate'));
  if (nextUpdate <= thisUpdate) throw new DerError('nextUpdate is not after thisUpdate');

  let entryCount = 0;
  if (fields[i]?.tag === TAG.SEQUENCE) {
    const revoked = fields[i++]!;
    for (let at = revoked.valueStart; at < revoked.end; entryCount++) {
      at = expectTag(readElement(der, at, revoked.end), TAG.SEQUENCE, 'revoked certificate').end;
    }
    if (entryCount === 0) throw new DerError('revokedCertificates is present but empty');
  }
  const wrapper = expectTag(next('crlExtensions'), CRL_EXTENSIONS_TAG, 'crlExtensions');
  if (i !== fields.length) throw new DerError('TBSCertList: unexpected fields after crlExtensions');
  const inside = childrenOf(wrapper);
  if (inside.length !== 1) throw new DerError('crlExtensions must hold one Extensions');
  const extensions = readExtensions(inside[0]!);

  const numberValue = extensions.get('2.5.29.20');
  if (!numberValue) throw new DerError('no cRLNumber');
  const number = readSingle(numberValue);
  const magnitude = integerMagnitude(number);
  if (number.end - number.valueStart > MAX_CRL_NUMBER_OCTETS) throw new DerError('cRLNumber longer than 20 octets');
  return {
    crlNumber: BigInt(`0x${Buffer.from(magnitude).toString('hex')}`),
    thisUpdate,
    nextUpdate,
    issuerDer: encodedOf(issuer),
    entryCount,
  };
}
