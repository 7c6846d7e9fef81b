import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DerError, checkStructure, readSingle } from '../../../src/pki/der/reader.js';
import { seq, set, tlv } from '../../helpers/csr-builder.js';
import {
  ALL_LEN_STYLES,
  BAD_LEN_STYLES,
  applyByteOp,
  applyTreeOp,
  byteOpArb,
  derAttempt,
  encode,
  headersOf,
  lengthOctets,
  minimalLength,
  mutateDer,
  nested,
  toTree,
  treeOpArb,
  type TreeOp,
} from '../../helpers/der-mutations.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'));
/** Whether the strict DER reader takes `der` whole, structure included. */
const strict = (der: Uint8Array) => !(derAttempt(() => checkStructure(readSingle(der))) instanceof DerError);

const A = tlv(0x02, Uint8Array.of(1));
const B = tlv(0x02, Uint8Array.of(2));
const C = tlv(0x05);
const ABC = seq(A, B, C);
const treeOp = (op: TreeOp) => hex(encode(applyTreeOp(toTree(readSingle(ABC)), op)));

describe('Module: der-mutations (test helper)', () => {
  it('writes minimal lengths: the short form below 128, the fewest octets above', () => {
    expect([0, 127, 128, 256, 65_535].map(minimalLength)).toEqual([[0], [0x7f], [0x81, 0x80], [0x82, 1, 0], [0x82, 0xff, 0xff]]);
  });

  it('writes each length style as named; the bad ones are never taken by the strict DER reader', () => {
    const o = (style: (typeof ALL_LEN_STYLES)[number], n = 0) => ({ style, n, rnd: Uint8Array.of(0x82, 0x01) });
    expect(hex(lengthOctets(o('nonMinimal'), 5))).toBe('8105');
    expect(hex(lengthOctets(o('nonMinimal'), 300))).toBe('8300012c');
    expect(hex(lengthOctets(o('tooManyZeroOctets'), 5))).toBe('850000000005');
    expect(hex(lengthOctets(o('indefinite'), 5))).toBe('80');
    expect(hex(lengthOctets(o('plus'), 5))).toBe('06');
    expect(hex(lengthOctets(o('minus', 1), 5))).toBe('03');
    expect(hex(lengthOctets(o('short', 0x85), 5))).toBe('05');
    expect(hex(lengthOctets(o('random'), 5))).toBe('8201');
    for (const style of BAD_LEN_STYLES) {
      for (const len of [0, 5, 127, 128, 300]) {
        const der = Uint8Array.from([0x04, ...lengthOctets(o(style, len), len), ...new Uint8Array(len)]);
        expect(`${style} ${len}: ${strict(der) ? 'taken' : 'refused'}`).toBe(`${style} ${len}: refused`);
      }
    }
  });

  it('reads DER into a tree that encodes back to the same bytes, opening BIT and OCTET STRINGs that hold DER', () => {
    const der = seq(A, tlv(0x03, Uint8Array.of(0), seq(B)), tlv(0x04, seq(C)), tlv(0x04, Uint8Array.of(1, 2, 3)));
    const tree = toTree(readSingle(der));

    expect(hex(encode(tree))).toBe(hex(der));
    const [, bits, octets, plain] = tree.kids as Array<{ kids: unknown[] | null; opaque: boolean; prefix: Uint8Array }>;
    expect([bits!.kids?.length, hex(bits!.prefix), octets!.kids?.length, plain!.kids]).toEqual([1, '00', 1, null]);
    expect((bits!.kids![0] as { opaque: boolean }).opaque).toBe(true);
    expect(tree.opaque).toBe(false);
  });

  it('applies each tree operator to the element it names and fixes the lengths around it', () => {
    // Elements in order: 0 the SEQUENCE, 1 A, 2 B, 3 C; `at` of remove, duplicate and swap counts from A.
    expect(treeOp({ op: 'remove', at: 1 })).toBe(hex(seq(A, C)));
    expect(treeOp({ op: 'duplicate', at: 0, times: 2 })).toBe(hex(seq(A, A, A, B, C)));
    expect(treeOp({ op: 'swap', at: 0, other: 2 })).toBe(hex(seq(C, B, A)));
    expect(treeOp({ op: 'retag', at: 0, tag: 0x31 })).toBe(hex(set(A, B, C)));
    expect(treeOp({ op: 'wrap', at: 3, levels: 2, tag: 0x30 })).toBe(hex(seq(A, B, seq(seq(C)))));
    expect(treeOp({ op: 'insert', at: 0, pos: 1, bytes: Uint8Array.of(0xff), asTlv: 0x04 })).toBe(hex(seq(A, tlv(0x04, Uint8Array.of(0xff)), B, C)));
    expect(treeOp({ op: 'insert', at: 0, pos: 3, bytes: Uint8Array.of(0xff), asTlv: null })).toBe(hex(seq(A, B, C, Uint8Array.of(0xff))));
    expect(treeOp({ op: 'graft', at: 1, into: 0, pos: 3 })).toBe(hex(seq(A, B, C, A)));
    expect(treeOp({ op: 'body', at: 2, bytes: Uint8Array.of(7, 7) })).toBe(hex(seq(A, tlv(0x02, Uint8Array.of(7, 7)), C)));
    expect(treeOp({ op: 'xorBody', at: 0, pos: 0, mask: 0x03 })).toBe(hex(seq(tlv(0x02, Uint8Array.of(2)), B, C)));
    // A length override is written for that element only; its parent's length counts the longer header.
    expect(treeOp({ op: 'length', at: 1, len: { style: 'nonMinimal', n: 0, rnd: new Uint8Array(0) } })).toBe('300902810101020102' + '0500');
  });

  it('applies each byte operator to the encoding; a raw length rewrite leaves the parents as they were', () => {
    const der = seq(tlv(0x04, Uint8Array.of(1, 2))); // 30 04 04 02 01 02
    expect(headersOf(der)).toEqual([
      { lenStart: 1, valueStart: 2, length: 4 },
      { lenStart: 3, valueStart: 4, length: 2 },
    ]);
    expect(hex(applyByteOp(der, { op: 'rawLength', at: 1, len: { style: 'nonMinimal', n: 0, rnd: new Uint8Array(0) } }))).toBe('3004048102' + '0102');
    expect(hex(applyByteOp(der, { op: 'truncate', keep: 3 }))).toBe('300404');
    expect(hex(applyByteOp(der, { op: 'append', bytes: Uint8Array.of(0xee) }))).toBe('300404020102ee');
    expect(hex(applyByteOp(der, { op: 'splice', pos: 2, remove: 2, bytes: Uint8Array.of(0xaa) }))).toBe('3004aa0102');
    expect(hex(applyByteOp(der, { op: 'set', pos: 6, value: 0x31 }))).toBe('310404020102');
    expect(hex(applyByteOp(der, { op: 'xor', pos: 5, mask: 0xff }))).toBe('3004040201fd');
    // The input is never changed.
    expect(hex(der)).toBe('300404020102');
  });

  it('nests headers of each style around the inner bytes, taking the tags in turn', () => {
    const inner = tlv(0x05);
    expect(hex(nested(3, [0x30, 0x31], 'definite', inner))).toBe(hex(seq(set(seq(inner)))));
    expect(hex(nested(2, [0x30], 'indefinite', inner))).toBe(hex(bytes('3080 3080 0500 0000 0000')));
    expect(hex(nested(1, [0x30], 'huge', inner))).toBe(hex(bytes('3084ffffffff 0500')));
    expect(hex(nested(1, [0x30], 'huge83', inner))).toBe(hex(bytes('3083ffffff 0500')));
    expect(hex(nested(1, [0x30], 'nonMinimal', inner))).toBe(hex(bytes('308102 0500')));
    // 200 octets: one zero octet before the length, which DER forbids.
    expect(hex(nested(1, [0x30], 'nonMinimal', new Uint8Array(200)))).toBe(`308200c8${'00'.repeat(200)}`);
    expect(strict(nested(1, [0x30], 'nonMinimal', new Uint8Array(200)))).toBe(false);
    for (const style of ['indefinite', 'huge', 'mixed'] as const) expect(strict(nested(40, [0x30], style, inner))).toBe(false);
    expect(strict(nested(20, [0x30], 'definite', inner))).toBe(true);
  });

  it('generated operators apply to any DER without throwing, and no operators leave it as it was', () => {
    fc.assert(
      fc.property(fc.array(treeOpArb, { maxLength: 4 }), fc.array(byteOpArb, { maxLength: 3 }), (treeOps, byteOps) => {
        expect(mutateDer(ABC, treeOps, byteOps)).toBeInstanceOf(Uint8Array);
      }),
      { numRuns: 300 },
    );
    expect(hex(mutateDer(ABC, [], []))).toBe(hex(ABC));
  });
});
