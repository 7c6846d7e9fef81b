import { describe, expect, it } from '@jest/globals';
import {
  TAG,
  bitLength,
  bitStringBytes,
  checkStructure,
  childrenOf,
  decodeOid,
  decodeTime,
  encodedOf,
  expectTag,
  integerMagnitude,
  readElement,
  readSingle,
  valueOf,
} from '../../../../src/pki/der/reader.js';
import { seq, tlv } from '../../../helpers/csr-builder.js';
import { derErrorOf } from '../../../helpers/errors.js';
import { timeDer } from '../../../../src/pki/der/writer.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Base-128 encoding of one OID subidentifier (big numbers without bit operations). */
function subidentifier(n: number): number[] {
  const out = [n % 128];
  for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) out.unshift((v % 128) | 0x80);
  return out;
}
const oidBytes = (...subids: number[]) => {
  const content = subids.flatMap(subidentifier);
  return tlv(TAG.OID, Uint8Array.from(content));
};

/** `levels` SEQUENCEs nested around a NULL, built inside-out in one buffer. */
function nested(levels: number): Uint8Array {
  let el: Uint8Array = tlv(TAG.NULL);
  for (let i = 0; i < levels; i++) el = seq(el);
  return el;
}

describe('Function: readElement', () => {
  it('reads a short-form element and reports its boundaries', () => {
    const el = readElement(bytes(0x04, 0x03, 0xaa, 0xbb, 0xcc));
    expect({ tag: el.tag, start: el.start, valueStart: el.valueStart, end: el.end }).toEqual({ tag: 0x04, start: 0, valueStart: 2, end: 5 });
    expect(hex(valueOf(el))).toBe('aabbcc');
    expect(hex(encodedOf(el))).toBe('0403aabbcc');
  });

  it('reads an element at an offset, leaving the bytes around it alone', () => {
    const el = readElement(bytes(0xff, 0xff, 0x02, 0x01, 0x07, 0xee), 2);
    expect({ start: el.start, valueStart: el.valueStart, end: el.end }).toEqual({ start: 2, valueStart: 4, end: 5 });
    expect(hex(valueOf(el))).toBe('07');
  });

  it('reads an empty value', () => {
    const el = readElement(bytes(0x05, 0x00));
    expect(el.valueStart).toBe(2);
    expect(el.end).toBe(2);
    expect(valueOf(el).length).toBe(0);
  });

  it.each([
    ['0x81 0x80 (128 bytes)', [0x81, 0x80], 128, 3],
    ['0x81 0xff (255 bytes)', [0x81, 0xff], 255, 3],
    ['0x82 0x01 0x00 (256 bytes)', [0x82, 0x01, 0x00], 256, 4],
    ['0x83 0x01 0x00 0x00 (65536 bytes)', [0x83, 0x01, 0x00, 0x00], 65536, 5],
  ])('reads the long-form length %s', (_, lengthBytes, length, valueStart) => {
    const der = Uint8Array.from([0x04, ...lengthBytes, ...new Uint8Array(length)]);
    const el = readElement(der);
    expect(el.valueStart).toBe(valueStart);
    expect(el.end).toBe(valueStart + length);
    expect(el.end).toBe(der.length);
  });

  it.each([
    ['no bytes at all', bytes(), 'unexpected end of data'],
    ['a tag without a length', bytes(0x30), 'truncated length'],
    ['long-form length bytes cut off', bytes(0x04, 0x82, 0x01), 'truncated length'],
    ['indefinite length', bytes(0x30, 0x80, 0x05, 0x00, 0x00, 0x00), 'indefinite length is not DER'],
    ['five length octets', bytes(0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00), 'length too large'],
    ['long form for a length under 128', bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 'length is not minimally encoded'],
    ['long form for length 0', bytes(0x04, 0x81, 0x00), 'length is not minimally encoded'],
    ['a leading zero length octet', Uint8Array.from([0x04, 0x82, 0x00, 0x80, ...new Uint8Array(128)]), 'length is not minimally encoded'],
    ['a value longer than the data', bytes(0x04, 0x05, 1, 2, 3), 'element extends beyond its container'],
    ['a 4 GiB length over 6 bytes of data', bytes(0x04, 0x84, 0xff, 0xff, 0xff, 0xff), 'element extends beyond its container'],
    ['high tag number form (universal)', bytes(0x1f, 0x81, 0x00, 0x00), 'high tag numbers are not supported'],
    ['high tag number form (constructed)', bytes(0x3f, 0x22, 0x00), 'high tag numbers are not supported'],
    ['high tag number form (context-specific)', bytes(0xbf, 0x1f, 0x00), 'high tag numbers are not supported'],
  ])('refuses %s', (_, der, message) => {
    expect(derErrorOf(() => readElement(der))).toBe(message);
  });

  it('refuses an element that ends past the given limit even though the bytes are there', () => {
    const der = bytes(0x04, 0x03, 1, 2, 3);
    expect(derErrorOf(() => readElement(der, 0, 4))).toBe('element extends beyond its container');
    expect(readElement(der, 0, 5).end).toBe(5);
  });

  it('refuses to read at or past the limit', () => {
    expect(derErrorOf(() => readElement(bytes(0x05, 0x00), 2))).toBe('unexpected end of data');
    expect(derErrorOf(() => readElement(bytes(0x05, 0x00), 0, 0))).toBe('unexpected end of data');
    expect(derErrorOf(() => readElement(bytes(0x05, 0x00), 0, 1))).toBe('truncated length');
  });
});

describe('Function: readSingle', () => {
  it('reads an element that spans all the bytes', () => {
    const el = readSingle(bytes(0x02, 0x01, 0x05));
    expect(el.tag).toBe(TAG.INTEGER);
    expect(el.end).toBe(3);
  });

  it.each([
    [1, bytes(0x05, 0x00, 0x00)],
    [2, bytes(0x05, 0x00, 0x05, 0x00)],
    [7, Uint8Array.from([0x02, 0x01, 0x01, ...Buffer.from('garbage')])],
  ])('refuses %i bytes of trailing data', (count, der) => {
    expect(derErrorOf(() => readSingle(der))).toBe(`${count} bytes of trailing data`);
  });

  it('refuses a truncated element', () => {
    expect(derErrorOf(() => readSingle(bytes(0x30, 0x03, 0x05, 0x00)))).toBe('element extends beyond its container');
  });
});

describe('Function: expectTag', () => {
  it('returns the element when the tag matches', () => {
    const el = readSingle(bytes(0x05, 0x00));
    expect(expectTag(el, TAG.NULL, 'null')).toBe(el);
  });

  it('names what it expected and what it found', () => {
    const el = readSingle(bytes(0x31, 0x00));
    expect(derErrorOf(() => expectTag(el, TAG.SEQUENCE, 'Name'))).toBe('Name: expected tag 0x30, found 0x31');
  });
});

describe('Function: childrenOf', () => {
  it('lists the direct children in order, not the grandchildren', () => {
    const der = seq(tlv(0x02, bytes(1)), seq(tlv(0x02, bytes(2)), tlv(0x02, bytes(3))), tlv(0x05));
    const children = childrenOf(readSingle(der));
    expect(children.map((c) => c.tag)).toEqual([0x02, 0x30, 0x05]);
    expect(children.map((c) => [c.start, c.end])).toEqual([[2, 5], [5, 13], [13, 15]]);
  });

  it('returns no children for an empty SEQUENCE', () => {
    expect(childrenOf(readSingle(bytes(0x30, 0x00)))).toEqual([]);
  });

  it('walks a context-specific constructed element', () => {
    expect(childrenOf(readSingle(bytes(0xa0, 0x02, 0x05, 0x00))).map((c) => c.tag)).toEqual([0x05]);
  });

  it('refuses a primitive element', () => {
    expect(derErrorOf(() => childrenOf(readSingle(bytes(0x04, 0x02, 0x30, 0x00))))).toBe('not a constructed element');
  });

  it('refuses a child that runs past the end of its parent, even when the bytes follow', () => {
    // The inner SEQUENCE (3 bytes) holds an OCTET STRING that claims 4 bytes; a sibling follows it.
    const der = bytes(0x30, 0x0a, 0x30, 0x03, 0x04, 0x04, 0x01, 0x04, 0x03, 0x02, 0x03, 0x04);
    const [inner, sibling] = childrenOf(readSingle(der));
    expect(sibling!.end).toBe(der.length);
    expect(derErrorOf(() => childrenOf(inner!))).toBe('element extends beyond its container');
  });

  it('refuses a half element at the end of the contents', () => {
    expect(derErrorOf(() => childrenOf(readSingle(bytes(0x30, 0x03, 0x05, 0x00, 0x02))))).toBe('truncated length');
  });
});

describe('Function: checkStructure', () => {
  it('accepts 24 nested SEQUENCEs at the default depth limit and refuses 25', () => {
    expect(() => checkStructure(readSingle(nested(24)))).not.toThrow();
    expect(derErrorOf(() => checkStructure(readSingle(nested(25))))).toBe('nesting too deep');
  });

  it('counts an empty constructed element at the limit as too deep', () => {
    // 24 SEQUENCEs around an empty SEQUENCE: the innermost one sits at depth 24.
    let der: Uint8Array = bytes(0x30, 0x00);
    for (let i = 0; i < 24; i++) der = seq(der);
    expect(derErrorOf(() => checkStructure(readSingle(der)))).toBe('nesting too deep');
  });

  it('respects a custom depth limit', () => {
    expect(() => checkStructure(readSingle(nested(3)), 3)).not.toThrow();
    expect(derErrorOf(() => checkStructure(readSingle(nested(4)), 3))).toBe('nesting too deep');
  });

  it('walks thousands of levels without recursion when the limit allows it', () => {
    expect(() => checkStructure(readSingle(nested(3000)), 5000)).not.toThrow();
  });

  it('refuses more elements than the limit, counting the root', () => {
    const der = seq(...Array.from({ length: 10 }, () => tlv(TAG.NULL)));
    expect(() => checkStructure(readSingle(der), 24, 11)).not.toThrow();
    expect(derErrorOf(() => checkStructure(readSingle(der), 24, 10))).toBe('too many elements');
  });

  it('finds a malformed element deep in the tree', () => {
    const bad = bytes(0x30, 0x02, 0x04, 0x05); // OCTET STRING claims 5 bytes inside a 2-byte SEQUENCE
    expect(derErrorOf(() => checkStructure(readSingle(seq(seq(tlv(TAG.NULL), bad)))))).toBe('element extends beyond its container');
  });

  it('does not look inside primitive elements', () => {
    // An OCTET STRING whose contents are not DER at all.
    expect(() => checkStructure(readSingle(seq(tlv(TAG.OCTET_STRING, bytes(0x30, 0x80, 0xff)))))).not.toThrow();
  });
});

describe('Function: decodeOid', () => {
  it.each([
    ['2.5.4.3', [0x55, 0x04, 0x03]],
    ['1.2.840.113549.1.9.1', [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]],
    ['1.2.840.10045.3.1.7', [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]],
    ['0.9.2342.19200300.100.1.1', [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01]],
    ['0.0', [0x00]],
    ['0.39', [0x27]],
    ['1.0', [0x28]],
    ['1.39', [0x4f]],
    ['2.0', [0x50]],
    ['2.47', [0x7f]],
    ['2.48', [0x81, 0x00]],
    ['2.999.3', [0x88, 0x37, 0x03]],
  ])('decodes %s', (dotted, content) => {
    expect(decodeOid(readSingle(tlv(TAG.OID, Uint8Array.from(content))))).toBe(dotted);
  });

  it.each([
    ['2^28', 2 ** 28],
    ['2^31 (the sign bit of a 32-bit integer)', 2 ** 31],
    ['2^32 + 1', 2 ** 32 + 1],
    ['2^44', 2 ** 44],
  ])('decodes an arc of %s exactly', (_, arc) => {
    expect(decodeOid(readSingle(oidBytes(42, arc, 7)))).toBe(`1.2.${arc}.7`);
  });

  it('encodes 2^28 as five octets, as the test encoder assumes', () => {
    expect(hex(oidBytes(42, 2 ** 28))).toBe('06062a8180808000');
  });

  it.each([
    ['an empty OID', bytes(0x06, 0x00), 'bad object identifier length'],
    ['a 65-byte OID', tlv(TAG.OID, Uint8Array.from([0x2a, ...new Array<number>(64).fill(0x01)])), 'bad object identifier length'],
    ['a padded arc (0x80 first)', bytes(0x06, 0x03, 0x2a, 0x80, 0x01), 'object identifier arc is not minimally encoded'],
    ['a padded first subidentifier', bytes(0x06, 0x02, 0x80, 0x2a), 'object identifier arc is not minimally encoded'],
    ['a last octet with the continuation bit', bytes(0x06, 0x02, 0x2a, 0x86), 'truncated object identifier'],
    ['a single continuation octet', bytes(0x06, 0x01, 0x81), 'truncated object identifier'],
    ['an arc of 2^53', oidBytes(42, 2 ** 53), 'object identifier arc too large'],
    ['an arc of 2^46', oidBytes(42, 2 ** 46), 'object identifier arc too large'],
    ['an INTEGER', bytes(0x02, 0x01, 0x01), 'object identifier: expected tag 0x6, found 0x2'],
  ])('refuses %s', (_, der, message) => {
    expect(derErrorOf(() => decodeOid(readSingle(der)))).toBe(message);
  });

  it('accepts a 64-byte OID', () => {
    const content = [0x2a, ...new Array<number>(63).fill(0x01)];
    expect(decodeOid(readSingle(tlv(TAG.OID, Uint8Array.from(content))))).toBe(`1.2.${new Array(63).fill('1').join('.')}`);
  });
});

describe('Function: integerMagnitude', () => {
  it.each([
    ['zero', [0x00], '00'],
    ['one', [0x01], '01'],
    ['127', [0x7f], '7f'],
    ['128 (needs a leading zero)', [0x00, 0x80], '80'],
    ['0xffff', [0x00, 0xff, 0xff], 'ffff'],
    ['a 3-byte value', [0x01, 0x00, 0x00], '010000'],
  ])('returns the magnitude of %s', (_, content, magnitude) => {
    expect(hex(integerMagnitude(readSingle(tlv(TAG.INTEGER, Uint8Array.from(content)))))).toBe(magnitude);
  });

  it.each([
    ['an empty INTEGER', [], 'empty integer'],
    ['a redundant leading zero', [0x00, 0x7f], 'integer is not minimally encoded'],
    ['two leading zeros', [0x00, 0x00, 0x80], 'integer is not minimally encoded'],
    ['a redundant leading 0xff', [0xff, 0x80], 'integer is not minimally encoded'],
    // Found by test/unit/pki/parser-fuzz.test.ts: a negative INTEGER was read as a positive magnitude,
    // so an RSA modulus without its leading zero octet passed as a 2048-bit key.
    ['-128 (0x80)', [0x80], 'integer is negative'],
    ['-1 (0xff)', [0xff], 'integer is negative'],
    ['a 2048-bit value without its leading zero', [0xe3, ...new Array<number>(255).fill(0x88)], 'integer is negative'],
  ])('refuses %s', (_, content, message) => {
    expect(derErrorOf(() => integerMagnitude(readSingle(tlv(TAG.INTEGER, Uint8Array.from(content)))))).toBe(message);
  });

  it('refuses an element that is not an INTEGER', () => {
    expect(derErrorOf(() => integerMagnitude(readSingle(bytes(0x04, 0x01, 0x01))))).toBe('integer: expected tag 0x2, found 0x4');
  });
});

describe('Function: bitLength', () => {
  it.each([
    [[], 0],
    [[0x00], 0],
    [[0x00, 0x00], 0],
    [[0x01], 1],
    [[0x7f], 7],
    [[0x80], 8],
    [[0xff], 8],
    [[0x01, 0x00], 9],
    [[0x00, 0x00, 0x7f], 7],
    [[0x80, 0x00, 0x00, 0x00, 0x00], 40],
  ])('counts %j as %i bits', (magnitude, bits) => {
    expect(bitLength(Uint8Array.from(magnitude))).toBe(bits);
  });

  it('counts a 2048-bit modulus as 2048 and one with the top bit clear as 2047', () => {
    const modulus = new Uint8Array(256).fill(0xab);
    expect(bitLength(modulus)).toBe(2048);
    modulus[0] = 0x7f;
    expect(bitLength(modulus)).toBe(2047);
  });
});

describe('Function: bitStringBytes', () => {
  it('returns the contents after the unused-bits octet', () => {
    expect(hex(bitStringBytes(readSingle(bytes(0x03, 0x03, 0x00, 0xde, 0xad))))).toBe('dead');
    expect(bitStringBytes(readSingle(bytes(0x03, 0x01, 0x00))).length).toBe(0);
  });

  it.each([
    ['an empty BIT STRING', bytes(0x03, 0x00), 'empty bit string'],
    ['unused bits', bytes(0x03, 0x02, 0x01, 0xfe), 'bit string with unused bits'],
    ['an OCTET STRING', bytes(0x04, 0x01, 0x00), 'bit string: expected tag 0x3, found 0x4'],
  ])('refuses %s', (_, der, message) => {
    expect(derErrorOf(() => bitStringBytes(readSingle(der)))).toBe(message);
  });
});

describe('Function: decodeTime', () => {
  const time = (tag: number, text: string) => readSingle(tlv(tag, Uint8Array.from(Buffer.from(text, 'latin1'))));

  it.each([
    [TAG.UTC_TIME, '260101000000Z', '2026-01-01T00:00:00.000Z'],
    [TAG.UTC_TIME, '491231235959Z', '2049-12-31T23:59:59.000Z'],
    [TAG.UTC_TIME, '500101000000Z', '1950-01-01T00:00:00.000Z'],
    [TAG.UTC_TIME, '240229120000Z', '2024-02-29T12:00:00.000Z'],
    [TAG.GENERALIZED_TIME, '20500101000000Z', '2050-01-01T00:00:00.000Z'],
    [TAG.GENERALIZED_TIME, '99991231235959Z', '9999-12-31T23:59:59.000Z'],
    [TAG.GENERALIZED_TIME, '19491231235959Z', '1949-12-31T23:59:59.000Z'],
  ])('reads (tag %d) %s as %s', (tag, text, iso) => {
    expect(decodeTime(time(tag, text)).toISOString()).toBe(iso);
  });

  it('reads back what the writer writes, on both sides of 2050', () => {
    for (const iso of ['1950-01-01T00:00:00Z', '2026-06-15T08:09:10Z', '2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z', '2199-07-04T01:02:03Z']) {
      expect(decodeTime(readSingle(timeDer(new Date(iso)))).getTime()).toBe(Date.parse(iso));
    }
  });

  it.each([
    [TAG.UTC_TIME, '2601010000Z', 'time: not YYMMDDHHMMSSZ'],
    [TAG.UTC_TIME, '260101000000', 'time: not YYMMDDHHMMSSZ'],
    [TAG.UTC_TIME, '260101000000+0100', 'time: not YYMMDDHHMMSSZ'],
    [TAG.GENERALIZED_TIME, '20500101000000.5Z', 'time: not YYYYMMDDHHMMSSZ'],
    [TAG.UTC_TIME, '26010100000aZ', 'time: not a digit'],
    [TAG.UTC_TIME, '261301000000Z', 'time: not a real date'],
    [TAG.UTC_TIME, '250229000000Z', 'time: not a real date'],
    [TAG.UTC_TIME, '260431000000Z', 'time: not a real date'],
    [TAG.UTC_TIME, '260101240000Z', 'time: not a real date'],
    [TAG.UTC_TIME, '260101000060Z', 'time: not a real date'],
    [TAG.UTC_TIME, '260100000000Z', 'time: not a real date'],
    [TAG.GENERALIZED_TIME, '20260101000000Z', 'time: GeneralizedTime for a year UTCTime must carry'],
    [TAG.UTF8_STRING, '260101000000Z', 'time: expected UTCTime or GeneralizedTime, found tag 0xc'],
  ])('refuses (tag %d) %j: %s', (tag, text, message) => {
    expect(derErrorOf(() => decodeTime(time(tag, text)))).toBe(message);
  });
});
