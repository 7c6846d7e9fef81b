import { describe, expect, it } from '@jest/globals';
import { TAG, decodeOid, integerMagnitude, readSingle, valueOf } from '../../../../src/pki/der/reader.js';
import {
  algorithmIdentifier,
  bitString,
  compareDerEncodings,
  integerFromHex,
  lengthOctets,
  objectIdentifier,
  setOf,
  timeDer,
  timeLength,
  tlv,
  writeTime,
} from '../../../../src/pki/der/writer.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Function: lengthOctets + tlv', () => {
  it.each([
    [0, '00'],
    [0x7f, '7f'],
    [0x80, '8180'],
    [0xff, '81ff'],
    [0x100, '820100'],
    [0x10000, '83010000'],
  ])('encodes the length %i minimally as %s', (n, octets) => {
    expect(hex(Uint8Array.from(lengthOctets(n)))).toBe(octets);
  });

  it('concatenates its parts into one element the strict reader reads back', () => {
    for (const size of [0, 1, 0x7f, 0x80, 0xff, 0x100, 70_000]) {
      const parts = [new Uint8Array(size >> 1).fill(1), new Uint8Array(size - (size >> 1)).fill(2)];
      const el = readSingle(tlv(TAG.OCTET_STRING, parts));
      expect(el.tag).toBe(TAG.OCTET_STRING);
      expect(hex(valueOf(el))).toBe(hex(Buffer.concat(parts)));
    }
  });
});

describe('Function: integerFromHex', () => {
  it('encodes serials as minimal positive INTEGERs', () => {
    expect(hex(integerFromHex('00000001'))).toBe('020101');
    expect(hex(integerFromHex('80'))).toBe('02020080');
    expect(hex(integerFromHex('0080'))).toBe('02020080');
    expect(hex(integerFromHex('00'))).toBe('020100');
    expect(hex(integerFromHex('abc'))).toBe('02020abc');
  });

  it('gives INTEGERs the strict reader accepts, of the same magnitude', () => {
    for (const digits of ['01', '7f', '80', 'ff', '00ff', '4a0102030405060708090a0b0c0d0e0f', 'ffffffffffffffffffffffffffffffff']) {
      expect(hex(integerMagnitude(readSingle(integerFromHex(digits))))).toBe(digits.replace(/^(00)+(?=.)/, ''));
    }
  });
});

describe('Function: timeDer / writeTime / timeLength', () => {
  it('writes UTCTime before 2050 and GeneralizedTime from 2050, in whole seconds', () => {
    expect(Buffer.from(timeDer(new Date('2049-12-31T23:59:59.999Z'))).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(Buffer.from(timeDer(new Date('2050-01-01T00:00:00Z'))).toString('latin1').slice(2)).toBe('20500101000000Z');
    expect(hex(timeDer(new Date('2026-03-04T05:06:07Z')))).toBe(`170d${Buffer.from('260304050607Z').toString('hex')}`);
    expect(timeDer(new Date('2050-01-01T00:00:00Z'))[0]).toBe(TAG.GENERALIZED_TIME);
    expect(timeDer(new Date('1949-12-31T23:59:59Z'))[0]).toBe(TAG.GENERALIZED_TIME);
    expect(timeDer(new Date('1950-01-01T00:00:00Z'))[0]).toBe(TAG.UTC_TIME);
  });

  it('writes where it is told and returns the end; timeLength is what it writes', () => {
    for (const date of [new Date('2030-06-15T12:34:56Z'), new Date('2061-01-02T03:04:05Z')]) {
      const out = new Uint8Array(3 + timeLength(date)).fill(0xee);
      expect(writeTime(out, 3, date)).toBe(out.length);
      expect(hex(out.subarray(0, 3))).toBe('eeeeee');
      expect(hex(out.subarray(3))).toBe(hex(timeDer(date)));
      expect(readSingle(out.subarray(3)).end).toBe(timeLength(date));
    }
  });
});

describe('Function: bitString', () => {
  it('writes a BIT STRING with no unused bits', () => {
    expect(hex(bitString(Uint8Array.of(0xab, 0xcd)))).toBe('030300abcd');
    expect(hex(bitString(new Uint8Array(0)))).toBe('030100');
  });
});

describe('Function: objectIdentifier', () => {
  it.each(['1.2.840.10045.4.3.2', '1.2.840.113549.1.1.11', '2.5.29.14', '1.3.101.112', '2.16.840.1.101.3.4.3.2', '0.9.2342.19200300.100.1.25', '2.999.1'])(
    'round-trips %s through the strict reader',
    (dotted) => {
      expect(decodeOid(readSingle(objectIdentifier(dotted)))).toBe(dotted);
    },
  );

  it('writes ecdsa-with-SHA256 as certificates carry it', () => {
    expect(hex(objectIdentifier('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
  });

  it.each(['', '1', '3.1', '1.40', '1.2.x', '1.-2'])('refuses %j', (dotted) => {
    expect(() => objectIdentifier(dotted)).toThrow('not an object identifier');
  });
});

describe('Function: algorithmIdentifier', () => {
  it('writes the OID with a NULL parameter or none', () => {
    expect(hex(algorithmIdentifier('1.2.840.113549.1.1.11', 'NULL'))).toBe('300d06092a864886f70d01010b0500');
    expect(hex(algorithmIdentifier('1.2.840.10045.4.3.3', 'absent'))).toBe('300a06082a8648ce3d040303');
  });
});

describe('Function: compareDerEncodings + setOf', () => {
  const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

  it.each([
    ['01', '02', -1],
    ['0201ff', '020100', 1],
    ['0101', '0101', 0],
    // X.690 11.6: the shorter is padded with zero octets at its end.
    ['01', '0100', 0],
    ['01', '0101', -1],
    ['0101', '01', 1],
  ])('compares %s with %s as %i', (a, b, sign) => {
    expect(Math.sign(compareDerEncodings(bytes(a), bytes(b)))).toBe(sign);
    expect(Math.sign(compareDerEncodings(bytes(b), bytes(a)))).toBe(-sign || 0);
  });

  it('sorts the elements of a SET OF by their encodings, whatever order they are given in', () => {
    const sizes = [4096, 2048, 3072].map((n) => integerFromHex(n.toString(16)));
    expect(hex(setOf(sizes))).toBe('310c' + '02020800' + '02020c00' + '02021000');
    // Encodings of different lengths: by their octets, not by their lengths.
    const curves = [objectIdentifier('1.2.840.10045.3.1.7'), objectIdentifier('1.3.132.0.34')];
    expect(hex(setOf(curves))).toBe('3111' + '06052b81040022' + '06082a8648ce3d030107');
    expect(hex(setOf([...curves].reverse()))).toBe(hex(setOf(curves)));
    expect(hex(setOf([]))).toBe('3100');
  });

  it('takes another tag for an IMPLICIT SET OF and leaves its argument as it was', () => {
    const elements = [bytes('0202ffff'), bytes('020100')];
    expect(hex(setOf(elements, 0xa0))).toBe('a007' + '020100' + '0202ffff');
    expect(elements.map(hex)).toEqual(['0202ffff', '020100']);
  });
});
