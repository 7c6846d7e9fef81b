import { describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { ecdsaDerToRaw } from '../../../../src/pki/der/ecdsa.js';
import { TAG, childrenOf, readSingle, valueOf, type DerElement } from '../../../../src/pki/der/reader.js';
import { tlv } from '../../../helpers/csr-builder.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ecKey = (namedCurve: 'P-256' | 'P-384') => generateKeyPairSync('ec', { namedCurve }).privateKey;

describe('Function: ecdsaDerToRaw', () => {
  const int = (b: number[]) => tlv(TAG.INTEGER, Uint8Array.from(b));
  const sigDer = (r: number[], s: number[]) => tlv(TAG.SEQUENCE, int(r), int(s));

  it('left-pads a short r and strips the sign octet of s', () => {
    const r = Array.from({ length: 31 }, (_, i) => i + 1); // the raw r starts with a zero byte
    const s = [0x00, 0x80, ...Array.from({ length: 31 }, (_, i) => 0xa0 + (i % 16))];
    const raw = ecdsaDerToRaw(sigDer(r, s), 32);
    expect(raw.length).toBe(64);
    expect(hex(raw)).toBe(`00${hex(Uint8Array.from(r))}${hex(Uint8Array.from(s.slice(1)))}`);
  });

  it('handles components with several leading zero bytes and zero itself', () => {
    expect(hex(ecdsaDerToRaw(sigDer([0x01], [0x00]), 32))).toBe(`${'00'.repeat(31)}01${'00'.repeat(32)}`);
    expect(hex(ecdsaDerToRaw(sigDer([0x7f, 0xff], [0x00, 0xff]), 48))).toBe(`${'00'.repeat(46)}7fff${'00'.repeat(47)}ff`);
  });

  it('refuses a component longer than the curve size', () => {
    expect(() => ecdsaDerToRaw(sigDer(new Array<number>(33).fill(0x11), [0x01]), 32)).toThrow('ECDSA signature component too large');
  });

  it.each([
    ['P-256', 32, 'sha256'],
    ['P-384', 48, 'sha384'],
  ] as const)('round-trips real %s signatures, including ones whose r or s starts with a zero byte', (curve, size, hash) => {
    const key = ecKey(curve);
    const pub = createPublicKey(key);
    const magnitude = (el: DerElement) => {
      const v = valueOf(el);
      return v[0] === 0 ? v.length - 1 : v.length;
    };
    let shortR = 0;
    let shortS = 0;
    let checked = 0;
    let failures = 0;
    for (let i = 0; i < 20_000 && (shortR === 0 || shortS === 0 || checked < 50); i++) {
      const data = Buffer.from(`message ${i}`);
      const der = new Uint8Array(cryptoSign(hash, data, { key, dsaEncoding: 'der' }));
      const [r, s] = childrenOf(readSingle(der)) as [DerElement, DerElement];
      if (magnitude(r) < size) shortR++;
      if (magnitude(s) < size) shortS++;
      const raw = ecdsaDerToRaw(der, size);
      if (raw.length !== 2 * size || !cryptoVerify(hash, data, { key: pub, dsaEncoding: 'ieee-p1363' }, raw)) failures++;
      checked++;
    }
    expect(failures).toBe(0);
    expect(shortR).toBeGreaterThanOrEqual(1);
    expect(shortS).toBeGreaterThanOrEqual(1);
  });
});

