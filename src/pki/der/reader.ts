/**
 * A minimal, strict DER reader for hostile input.
 *
 * It accepts only definite, minimally encoded lengths and low tag numbers, never
 * reads past the end of its input, and checks nesting depth iteratively, so a
 * crafted CSR cannot make it recurse, loop or allocate. Every failure is a
 * `DerError`; callers translate it into their domain error.
 */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
} as const;

/** One TLV: `bytes.subarray(start, end)` is the whole element, `value()` its contents. */
export interface DerElement {
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
  readonly bytes: Uint8Array;
}

export const valueOf = (el: DerElement): Uint8Array => el.bytes.subarray(el.valueStart, el.end);
export const encodedOf = (el: DerElement): Uint8Array => el.bytes.subarray(el.start, el.end);
export const isConstructed = (tag: number): boolean => (tag & 0x20) !== 0;

/** Reads the element starting at `offset`; it must end at or before `limit`. */
export function readElement(bytes: Uint8Array, offset = 0, limit = bytes.length): DerElement {
  if (offset >= limit) throw new DerError('unexpected end of data');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  if (offset + 1 >= limit) throw new DerError('truncated length');
  let length = bytes[offset + 1]!;
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError('indefinite length is not DER');
    if (count > 4) throw new DerError('length too large');
    if (valueStart + count > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[valueStart + i]!;
    if (bytes[valueStart] === 0) throw new DerError('length is not minimally encoded');
    if (length < 0x80) throw new DerError('length is not minimally encoded');
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > limit) throw new DerError('element extends beyond its container');
  return { tag, start: offset, valueStart, end, bytes };
}

/** Reads exactly one element that spans all of `bytes` (no trailing data). */
export function readSingle(bytes: Uint8Array): DerElement {
  const el = readElement(bytes, 0, bytes.length);
  if (el.end !== bytes.length) throw new DerError(`${bytes.length - el.end} bytes of trailing data`);
  return el;
}

export function expectTag(el: DerElement, tag: number, what: string): DerElement {
  if (el.tag !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  }
  return el;
}

/** The direct children of a constructed element. */
export function childrenOf(el: DerElement): DerElement[] {
  if (!isConstructed(el.tag)) throw new DerError('not a constructed element');
  const out: DerElement[] = [];
  let offset = el.valueStart;
  while (offset < el.end) {
    const child = readElement(el.bytes, offset, el.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/**
 * Walks the whole tree below `el` without recursion and checks that every
 * constructed element is well formed and no deeper than `maxDepth`.
 */
export function checkStructure(el: DerElement, maxDepth = 24, maxElements = 10_000): void {
  // Two parallel stacks (element, depth): the same walk, without an object per element.
  const stack: DerElement[] = [el];
  const depths: number[] = [0];
  let count = 0;
  while (stack.length > 0) {
    const cur = stack.pop()!;
    const depth = depths.pop()!;
    if (++count > maxElements) throw new DerError('too many elements');
    if (!isConstructed(cur.tag)) continue;
    if (depth >= maxDepth) throw new DerError('nesting too deep');
    for (const child of childrenOf(cur)) {
      stack.push(child);
      depths.push(depth + 1);
    }
  }
}

/** Dotted forms of the OIDs seen so far, by their encoding (few distinct OIDs occur: a small, bounded cache). */
const OID_CACHE = new Map<string, string>();
const OID_CACHE_LIMIT = 512;

export function decodeOid(el: DerElement): string {
  expectTag(el, TAG.OID, 'object identifier');
  const v = valueOf(el);
  if (v.length === 0 || v.length > 64) throw new DerError('bad object identifier length');
  // One string for the key (at most 64 code units), not one per byte.
  const key = String.fromCharCode.apply(null, v as unknown as number[]);
  const cached = OID_CACHE.get(key);
  if (cached !== undefined) return cached;
  const dotted = decodeOidValue(v);
  if (OID_CACHE.size < OID_CACHE_LIMIT) OID_CACHE.set(key, dotted);
  return dotted;
}

function decodeOidValue(v: Uint8Array): string {
  const arcs: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (acc === 0 && b === 0x80) throw new DerError('object identifier arc is not minimally encoded');
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 256) throw new DerError('object identifier arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    } else if (i === v.length - 1) {
      throw new DerError('truncated object identifier');
    }
  }
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** Unsigned big-endian magnitude of a non-negative INTEGER (leading zero octets stripped). */
export function integerMagnitude(el: DerElement): Uint8Array {
  expectTag(el, TAG.INTEGER, 'integer');
  const v = valueOf(el);
  if (v.length === 0) throw new DerError('empty integer');
  if (v.length > 1 && ((v[0] === 0 && (v[1]! & 0x80) === 0) || (v[0] === 0xff && (v[1]! & 0x80) !== 0))) {
    throw new DerError('integer is not minimally encoded');
  }
  // Two's complement: a set top bit is a negative number, which has no unsigned magnitude.
  if ((v[0]! & 0x80) !== 0) throw new DerError('integer is negative');
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

export function bitLength(magnitude: Uint8Array): number {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) return 0;
  return (magnitude.length - i - 1) * 8 + (32 - Math.clz32(magnitude[i]!));
}

/** BIT STRING contents with no unused bits (as in keys and signatures). */
export function bitStringBytes(el: DerElement): Uint8Array {
  expectTag(el, TAG.BIT_STRING, 'bit string');
  const v = valueOf(el);
  if (v.length === 0) throw new DerError('empty bit string');
  if (v[0] !== 0) throw new DerError('bit string with unused bits');
  return v.subarray(1);
}

/**
 * A certificate or CRL time as RFC 5280 4.1.2.5 requires it: UTCTime
 * YYMMDDHHMMSSZ for 1950–2049, GeneralizedTime YYYYMMDDHHMMSSZ from 2050 (or
 * before 1950); whole seconds, Z, and a real date (no 31 April, no second 60).
 */
export function decodeTime(el: DerElement): Date {
  const utc = el.tag === TAG.UTC_TIME;
  if (!utc && el.tag !== TAG.GENERALIZED_TIME) throw new DerError(`time: expected UTCTime or GeneralizedTime, found tag 0x${el.tag.toString(16)}`);
  const v = valueOf(el);
  const size = utc ? 13 : 15;
  if (v.length !== size || v[size - 1] !== 0x5a) throw new DerError(`time: not ${utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'}`);
  const digits: number[] = [];
  for (let i = 0; i < size - 1; i++) {
    const d = v[i]! - 0x30;
    if (d < 0 || d > 9) throw new DerError('time: not a digit');
    digits.push(d);
  }
  const n = (i: number) => digits[i]! * 10 + digits[i + 1]!;
  let year: number;
  let i = 0;
  if (utc) {
    year = n(0) < 50 ? 2000 + n(0) : 1900 + n(0);
    i = 2;
  } else {
    year = n(0) * 100 + n(2);
    if (year >= 1950 && year < 2050) throw new DerError('time: GeneralizedTime for a year UTCTime must carry');
    i = 4;
  }
  const [month, day, hours, minutes, seconds] = [n(i), n(i + 2), n(i + 4), n(i + 6), n(i + 8)];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hours, minutes, seconds, 0);
  if (
    date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day ||
    date.getUTCHours() !== hours || date.getUTCMinutes() !== minutes || date.getUTCSeconds() !== seconds
  ) {
    throw new DerError('time: not a real date');
  }
  return date;
}
