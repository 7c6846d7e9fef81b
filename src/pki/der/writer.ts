/**
 * The DER writer of the certificates the CA builds itself: TLVs from parts
 * (concatenated without intermediate copies), positive INTEGERs, times, BIT
 * STRINGs and OBJECT IDENTIFIERs. It writes only what the CA decides, never
 * anything read from a request, so it checks nothing beyond its own arguments.
 */
import { TAG } from './reader.js';

/** DER length octets. */
export function lengthOctets(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** One TLV from its parts, concatenated without intermediate copies. */
export function tlv(tag: number, parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const header = lengthOctets(length);
  const out = new Uint8Array(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let offset = 1 + header.length;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A positive INTEGER from hex digits, minimally encoded (leading zero octets dropped, one added when the top bit is set). */
export function integerFromHex(digits: string): Uint8Array {
  let bytes = Buffer.from(digits.length % 2 ? `0${digits}` : digits, 'hex');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  return tlv(TAG.INTEGER, bytes[0]! & 0x80 ? [Uint8Array.of(0), bytes] : [bytes]);
}

const NO_UNUSED_BITS = Uint8Array.of(0);

/** A BIT STRING of whole octets (no unused bits), as keys and signatures are carried. */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(TAG.BIT_STRING, [NO_UNUSED_BITS, bytes]);

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
const isUtcTime = (year: number) => year >= 1950 && year < 2050;

/** The encoded length of `date` as a certificate time. */
export const timeLength = (date: Date): number => (isUtcTime(date.getUTCFullYear()) ? 15 : 17);

/** Writes the two digits of 0-99 at `at`. */
function digits2(out: Uint8Array, at: number, n: number): void {
  out[at] = 0x30 + Math.floor(n / 10);
  out[at + 1] = 0x30 + (n % 10);
}

/**
 * A certificate time (UTCTime before 2050, GeneralizedTime from 2050; whole
 * seconds, Z) written at `at` into a buffer sized with `timeLength`; returns the end.
 */
export function writeTime(out: Uint8Array, at: number, date: Date): number {
  const y = date.getUTCFullYear();
  const utc = isUtcTime(y);
  out[at] = utc ? TAG.UTC_TIME : TAG.GENERALIZED_TIME;
  out[at + 1] = utc ? 13 : 15;
  let i = at + 2;
  if (!utc) {
    digits2(out, i, Math.floor(y / 100) % 100);
    i += 2;
  }
  digits2(out, i, y % 100);
  digits2(out, i + 2, date.getUTCMonth() + 1);
  digits2(out, i + 4, date.getUTCDate());
  digits2(out, i + 6, date.getUTCHours());
  digits2(out, i + 8, date.getUTCMinutes());
  digits2(out, i + 10, date.getUTCSeconds());
  out[i + 12] = 0x5a; // Z
  return i + 13;
}

/** A certificate time on its own (see `writeTime`). */
export function timeDer(date: Date): Uint8Array {
  const out = new Uint8Array(timeLength(date));
  writeTime(out, 0, date);
  return out;
}

/** An OBJECT IDENTIFIER from its dotted form (at least two arcs, the first 0, 1 or 2). */
export function objectIdentifier(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39) || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new Error(`not an object identifier: ${dotted}`);
  }
  const octets: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const base128 = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v % 128) | 0x80);
    octets.push(...base128);
  }
  return tlv(TAG.OID, [Uint8Array.from(octets)]);
}

const NULL = Uint8Array.of(TAG.NULL, 0);

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters }: with a NULL parameter, or none. */
export const algorithmIdentifier = (oid: string, parameters: 'NULL' | 'absent'): Uint8Array =>
  tlv(TAG.SEQUENCE, parameters === 'NULL' ? [objectIdentifier(oid), NULL] : [objectIdentifier(oid)]);

/**
 * X.690 11.6 (DER): the order of a SET OF's elements. Their encodings compare
 * as octet strings, the shorter one padded at its end with zero octets.
 */
export function compareDerEncodings(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  const longer = a.length > b.length ? a : b;
  for (let i = common; i < longer.length; i++) if (longer[i] !== 0) return longer === a ? 1 : -1;
  return 0;
}

/** A SET OF (or any set-of-valued field with `tag`) of encoded elements, sorted as DER requires. */
export const setOf = (elements: readonly Uint8Array[], tag: number = TAG.SET): Uint8Array =>
  tlv(tag, [...elements].sort(compareDerEncodings));
