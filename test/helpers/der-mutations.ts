/**
 * A DER mutation engine for fuzzing parsers: a TLV tree read from valid DER
 * (BIT and OCTET STRINGs that hold DER are opened too), structural operators
 * on it (remove, duplicate, swap, retag, rewrap, graft, insert, override a
 * length in one of many wrong styles) re-encoded with correct lengths
 * elsewhere, byte operators on the encoding (set, xor, truncate, splice,
 * rewrite one element's length octets in place), fast-check arbitraries of
 * both kinds of operator (plain data, so that they shrink well), and deeply
 * nested input built without recursion.
 */
import fc from 'fast-check';
import { DerError, checkStructure, childrenOf, isConstructed, readElement, readSingle, valueOf, type DerElement } from '../../src/pki/der/reader.js';

export const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Runs `fn` from der.ts; only a DerError may come out of it (returned), anything else is thrown on. */
export function derAttempt<T>(fn: () => T): T | DerError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) return e;
    const what = e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-error ${String(e)}`;
    throw new Error(`not a DerError escaped from der.ts: ${what}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------
// A mutable TLV tree, re-encoded with correct lengths after structural changes

/** How a length may be written instead of its minimal DER form. */
export type LenStyle =
  | 'indefinite'
  | 'huge'
  | 'huge7f'
  | 'huge83'
  | 'tooManyOctets'
  | 'tooManyZeroOctets'
  | 'nonMinimal'
  | 'ff'
  | 'plus'
  | 'minus'
  | 'short'
  | 'random';
/** Length styles that can never be a correct DER length of the element. */
export const BAD_LEN_STYLES: LenStyle[] = ['indefinite', 'huge', 'huge7f', 'huge83', 'tooManyOctets', 'tooManyZeroOctets', 'nonMinimal', 'ff'];
export const ALL_LEN_STYLES: LenStyle[] = [...BAD_LEN_STYLES, 'plus', 'minus', 'short', 'random'];

/** A length written in `style`; `n` and `rnd` feed the styles that take a number or bytes. */
export interface LenOverride {
  style: LenStyle;
  n: number;
  rnd: Uint8Array;
}

/** One element of the tree. */
export interface Tlv {
  kind: 'tlv';
  tag: number;
  /** Children, for constructed elements and for BIT/OCTET STRINGs that hold DER. */
  kids: Node[] | null;
  /** Octets before the children (the unused-bits octet of a BIT STRING). */
  prefix: Uint8Array;
  /** Contents when there are no children. */
  body: Uint8Array;
  len?: LenOverride;
  /** Inside a primitive element: checkStructure does not reach it. */
  opaque: boolean;
}
/** Bytes put into the tree as they are (no header of their own). */
export interface Raw {
  kind: 'raw';
  bytes: Uint8Array;
}
export type Node = Tlv | Raw;

const EMPTY = new Uint8Array(0);

/** The DER (minimal) length octets of `n`. */
export function minimalLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** The length octets `o` writes for an element whose contents are `len` octets long. */
export function lengthOctets(o: LenOverride, len: number): Uint8Array {
  switch (o.style) {
    case 'indefinite':
      return Uint8Array.of(0x80);
    case 'huge':
      return Uint8Array.of(0x84, 0xff, 0xff, 0xff, 0xff);
    case 'huge7f':
      return Uint8Array.of(0x84, 0x7f, 0xff, 0xff, 0xff);
    case 'huge83':
      return Uint8Array.of(0x83, 0xff, 0xff, 0xff);
    case 'tooManyOctets': {
      const count = 5 + (o.n % 123);
      return Uint8Array.from([0x80 | count, ...new Array<number>(count).fill(0xff)]);
    }
    case 'tooManyZeroOctets': {
      // 0x85 00 00 00 00 LL: the right value, padded past four octets.
      const minimal = len < 0x80 ? [len] : minimalLength(len).slice(1);
      const count = Math.max(5, minimal.length + 1 + (o.n % 3));
      return Uint8Array.from([0x80 | count, ...new Array<number>(count - minimal.length).fill(0), ...minimal]);
    }
    case 'nonMinimal': {
      if (len < 0x80) return Uint8Array.of(0x81, len);
      const m = minimalLength(len);
      return Uint8Array.from([(m[0]! + 1) & 0xff, 0x00, ...m.slice(1)]);
    }
    case 'ff':
      return Uint8Array.of(0xff);
    case 'plus':
      return Uint8Array.from(minimalLength(len + 1 + (o.n % 4)));
    case 'minus':
      return Uint8Array.from(minimalLength(Math.max(0, len - 1 - (o.n % 4))));
    case 'short':
      return Uint8Array.of(o.n & 0x7f);
    case 'random':
      return o.rnd;
  }
}

/** The tree of a DER element; BIT and OCTET STRINGs whose contents are valid DER SEQUENCEs are opened (as opaque). */
export function toTree(el: DerElement, opaque = false): Tlv {
  const node: Tlv = { kind: 'tlv', tag: el.tag, kids: null, prefix: EMPTY, body: valueOf(el), opaque };
  const inner = (bytes: Uint8Array): DerElement | undefined => {
    if (bytes.length === 0 || bytes[0] !== 0x30) return undefined;
    const e = derAttempt(() => {
      const r = readSingle(bytes);
      checkStructure(r);
      return r;
    });
    return e instanceof DerError ? undefined : e;
  };
  if (isConstructed(el.tag)) {
    const kids = derAttempt(() => childrenOf(el));
    if (!(kids instanceof DerError)) node.kids = kids.map((k) => toTree(k, opaque));
  } else if (el.tag === 0x03 && node.body[0] === 0) {
    // An RSA public key or an ECDSA signature: DER inside a BIT STRING.
    const e = inner(node.body.subarray(1));
    if (e) {
      node.prefix = node.body.subarray(0, 1);
      node.kids = [toTree(e, true)];
    }
  } else if (el.tag === 0x04) {
    const e = inner(node.body);
    if (e) node.kids = [toTree(e, true)];
  }
  return node;
}

/** The encoding of a tree: minimal lengths, but for the overridden ones. */
export function encode(node: Node): Uint8Array {
  if (node.kind === 'raw') return node.bytes;
  const body = node.kids ? concat(node.prefix, ...node.kids.map(encode)) : node.body;
  const len = node.len ? lengthOctets(node.len, body.length) : Uint8Array.from(minimalLength(body.length));
  return concat(Uint8Array.of(node.tag), len, body);
}

export function clone(node: Node): Node {
  if (node.kind === 'raw') return node;
  return { ...node, kids: node.kids ? node.kids.map(clone) : null, ...(node.len ? { len: { ...node.len } } : {}) };
}

/** An element of the tree and where it hangs. */
export interface Slot {
  node: Tlv;
  parent: Tlv | null;
  index: number;
}

/** Every element of the tree, depth first, the root first. */
export function slotsOf(root: Tlv): Slot[] {
  const out: Slot[] = [];
  const walk = (node: Tlv, parent: Tlv | null, index: number) => {
    out.push({ node, parent, index });
    node.kids?.forEach((k, i) => {
      if (k.kind === 'tlv') walk(k, node, i);
    });
  };
  walk(root, null, 0);
  return out;
}

/** Lenient walk over encoded bytes: where each element's length octets are. */
export function headersOf(bytes: Uint8Array): Array<{ lenStart: number; valueStart: number; length: number }> {
  const out: Array<{ lenStart: number; valueStart: number; length: number }> = [];
  const stack: Array<[number, number]> = [[0, bytes.length]];
  while (stack.length > 0 && out.length < 1000) {
    let [offset, limit] = stack.pop()!;
    while (offset < limit) {
      const el = derAttempt(() => readElement(bytes, offset, limit));
      if (el instanceof DerError) break;
      out.push({ lenStart: el.start + 1, valueStart: el.valueStart, length: el.end - el.valueStart });
      if (isConstructed(el.tag)) stack.push([el.valueStart, el.end]);
      offset = el.end;
    }
  }
  return out;
}

// --- mutation operators, generated as plain data so that they shrink well

export type TreeOp =
  | { op: 'remove'; at: number }
  | { op: 'duplicate'; at: number; times: number }
  | { op: 'swap'; at: number; other: number }
  | { op: 'retag'; at: number; tag: number }
  | { op: 'body'; at: number; bytes: Uint8Array }
  | { op: 'xorBody'; at: number; pos: number; mask: number }
  | { op: 'wrap'; at: number; levels: number; tag: number }
  | { op: 'length'; at: number; len: LenOverride }
  | { op: 'insert'; at: number; pos: number; bytes: Uint8Array; asTlv: number | null }
  | { op: 'graft'; at: number; into: number; pos: number };

export type ByteOp =
  | { op: 'set'; pos: number; value: number }
  | { op: 'xor'; pos: number; mask: number }
  | { op: 'truncate'; keep: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'splice'; pos: number; remove: number; bytes: Uint8Array }
  | { op: 'rawLength'; at: number; len: LenOverride };

/** The `n`-th item, wrapping around (undefined from an empty list). */
export const pick = <T>(list: T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);

/** Applies a tree operator in place; returns the root (a new one when the root was wrapped). */
export function applyTreeOp(root: Tlv, op: TreeOp): Tlv {
  const slots = slotsOf(root);
  const nonRoot = slots.slice(1);
  switch (op.op) {
    case 'remove': {
      const s = pick(nonRoot, op.at);
      s?.parent!.kids!.splice(s.index, 1);
      return root;
    }
    case 'duplicate': {
      const s = pick(nonRoot, op.at);
      if (s) s.parent!.kids!.splice(s.index + 1, 0, ...Array.from({ length: op.times }, () => clone(s.node)));
      return root;
    }
    case 'swap': {
      const s = pick(nonRoot, op.at);
      if (s) {
        const kids = s.parent!.kids!;
        const j = op.other % kids.length;
        [kids[s.index], kids[j]] = [kids[j]!, kids[s.index]!];
      }
      return root;
    }
    case 'retag':
      pick(slots, op.at)!.node.tag = op.tag;
      return root;
    case 'body': {
      const s = pick(slots, op.at)!;
      s.node.kids = null;
      s.node.prefix = EMPTY;
      s.node.body = op.bytes;
      return root;
    }
    case 'xorBody': {
      const leaves = slots.filter((s) => !s.node.kids && s.node.body.length > 0);
      const s = pick(leaves, op.at);
      if (s) {
        const body = Uint8Array.from(s.node.body);
        body[op.pos % body.length]! ^= op.mask;
        s.node.body = body;
      }
      return root;
    }
    case 'wrap': {
      const s = pick(slots, op.at)!;
      let wrapped: Tlv = s.node;
      for (let i = 0; i < op.levels; i++) wrapped = { kind: 'tlv', tag: op.tag, kids: [wrapped], prefix: EMPTY, body: EMPTY, opaque: s.node.opaque };
      if (!s.parent) return wrapped;
      s.parent.kids![s.index] = wrapped;
      return root;
    }
    case 'length':
      pick(slots, op.at)!.node.len = op.len;
      return root;
    case 'insert': {
      const containers = slots.filter((s) => s.node.kids);
      const s = pick(containers, op.at);
      if (s) {
        const kids = s.node.kids!;
        const node: Node =
          op.asTlv === null
            ? { kind: 'raw', bytes: op.bytes }
            : { kind: 'tlv', tag: op.asTlv, kids: null, prefix: EMPTY, body: op.bytes, opaque: s.node.opaque };
        kids.splice(op.pos % (kids.length + 1), 0, node);
      }
      return root;
    }
    case 'graft': {
      const from = pick(slots, op.at)!;
      const containers = slots.filter((s) => s.node.kids);
      const into = pick(containers, op.into);
      if (into) into.node.kids!.splice(op.pos % (into.node.kids!.length + 1), 0, clone(from.node));
      return root;
    }
  }
}

/** Applies a byte operator to a copy of `bytes`. */
export function applyByteOp(bytes: Uint8Array, op: ByteOp): Uint8Array {
  const b = Uint8Array.from(bytes);
  switch (op.op) {
    case 'set':
      if (b.length) b[op.pos % b.length] = op.value;
      return b;
    case 'xor':
      if (b.length) b[op.pos % b.length]! ^= op.mask;
      return b;
    case 'truncate':
      return b.subarray(0, op.keep % (b.length + 1));
    case 'append':
      return concat(b, op.bytes);
    case 'splice': {
      const pos = op.pos % (b.length + 1);
      return concat(b.subarray(0, pos), op.bytes, b.subarray(Math.min(b.length, pos + op.remove)));
    }
    case 'rawLength': {
      // Replace an element's length octets in place, without fixing up its parents.
      const h = pick(headersOf(b), op.at);
      if (!h) return b;
      return concat(b.subarray(0, h.lenStart), lengthOctets(op.len, h.length), b.subarray(h.valueStart));
    }
  }
}

// --- arbitraries

export const smallBytes = (maxLength: number) => fc.uint8Array({ maxLength });
export const lenOverrideArb = (styles: LenStyle[]) =>
  fc.record({ style: fc.constantFrom(...styles), n: fc.nat(), rnd: smallBytes(6) });
export const anyTag = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x14, 0x16, 0x1e, 0x30, 0x31, 0xa0, 0xa3, 0x1f, 0x3f, 0x24, 0x23),
  fc.integer({ min: 0, max: 255 }),
);
export const constructedTag = fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0x24, 0x23);

export const treeOpArb: fc.Arbitrary<TreeOp> = fc.oneof(
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), times: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant('retag' as const), at: fc.nat(), tag: anyTag }),
  fc.record({ op: fc.constant('body' as const), at: fc.nat(), bytes: smallBytes(300) }),
  fc.record({ op: fc.constant('xorBody' as const), at: fc.nat(), pos: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('wrap' as const), at: fc.nat(), levels: fc.integer({ min: 1, max: 40 }), tag: constructedTag }),
  fc.record({ op: fc.constant('length' as const), at: fc.nat(), len: lenOverrideArb(ALL_LEN_STYLES) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), pos: fc.nat(), bytes: smallBytes(40), asTlv: fc.option(anyTag) }),
  fc.record({ op: fc.constant('graft' as const), at: fc.nat(), into: fc.nat(), pos: fc.nat() }),
);

export const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('xor' as const), pos: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant('splice' as const), pos: fc.nat(), remove: fc.nat({ max: 8 }), bytes: smallBytes(8) }),
  fc.record({ op: fc.constant('rawLength' as const), at: fc.nat(), len: lenOverrideArb(ALL_LEN_STYLES) }),
);

// ---------------------------------------------------------------------------
// Deeply nested input, built without recursion or quadratic copying

/** The length style of every level, or a fixed mix of them. */
export type NestStyle = 'definite' | 'indefinite' | 'huge' | 'huge83' | 'nonMinimal' | 'mixed';

/** `depth` levels of constructed headers (tags taken in turn from `tags`) around `inner`. */
export function nested(depth: number, tags: number[], style: NestStyle, inner: Uint8Array, mix = 0): Uint8Array {
  // Headers are computed inside-out into one flat buffer (at most 7 octets each), then laid out
  // outside-in: no per-level allocation, so 10,000 levels take well under a millisecond.
  const SLOT = 7;
  const hdr = new Uint8Array(depth * SLOT);
  const hlen = new Uint8Array(depth);
  const eoc = new Uint8Array(depth);
  const MIXED: NestStyle[] = ['definite', 'definite', 'definite', 'indefinite', 'huge', 'nonMinimal'];
  let size = inner.length;
  for (let i = depth - 1; i >= 0; i--) {
    const s = style === 'mixed' ? MIXED[(i * 7 + mix) % 6]! : style;
    const at = i * SLOT;
    hdr[at] = tags[i % tags.length]!;
    let n = 1;
    if (s === 'definite' || s === 'nonMinimal') {
      const octets = size < 0x100 ? 1 : size < 0x10000 ? 2 : size < 0x1000000 ? 3 : 4;
      if (size < 0x80 && s === 'definite') hdr[at + n++] = size;
      else {
        // nonMinimal: the long form for a length under 128, or one leading zero octet.
        const pad = s === 'nonMinimal' && size >= 0x80 ? 1 : 0;
        hdr[at + n++] = 0x80 | (octets + pad);
        if (pad) hdr[at + n++] = 0;
        for (let k = octets - 1; k >= 0; k--) hdr[at + n++] = Math.floor(size / 256 ** k) & 0xff;
      }
    } else if (s === 'indefinite') {
      hdr[at + n++] = 0x80;
      eoc[i] = 1;
    } else if (s === 'huge') {
      hdr.set([0x84, 0xff, 0xff, 0xff, 0xff], at + 1);
      n += 5;
    } else {
      hdr.set([0x83, 0xff, 0xff, 0xff], at + 1);
      n += 4;
    }
    hlen[i] = n;
    size += n + 2 * eoc[i]!;
  }
  const out = new Uint8Array(size);
  let p = 0;
  for (let i = 0; i < depth; i++) {
    out.set(hdr.subarray(i * SLOT, i * SLOT + hlen[i]!), p);
    p += hlen[i]!;
  }
  out.set(inner, p);
  p += inner.length;
  for (let i = depth - 1; i >= 0; i--) p += 2 * eoc[i]!; // end-of-contents octets are zero
  if (p !== size) throw new Error('nested(): size mismatch');
  return out;
}

/** `der` with the tree operators applied to its tree, then the byte operators to the encoding. */
export function mutateDer(der: Uint8Array, treeOps: TreeOp[], byteOps: ByteOp[]): Uint8Array {
  let root = toTree(readSingle(der));
  for (const op of treeOps) root = applyTreeOp(root, op);
  let bytes = encode(root);
  for (const op of byteOps) bytes = applyByteOp(bytes, op);
  return bytes;
}
