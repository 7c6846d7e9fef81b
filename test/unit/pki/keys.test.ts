import { describe, expect, it } from '@jest/globals';
import { createHash, createPublicKey } from 'node:crypto';
import { parseCsr, type ParsedCsr } from '../../../src/pki/csr.js';
import { keyIdentifierOf, subjectKeyIdentifier } from '../../../src/pki/keys.js';
import { csrFixture } from '../../helpers/fixtures.js';

describe('Function: keyIdentifierOf', () => {
  it('is the SHA-1 of the EC point in the BIT STRING (RFC 5280 method 1)', () => {
    const spki = parseCsr(csrFixture('ec-p256.csr')).spkiDer;
    expect(spki.length).toBe(91);
    expect(keyIdentifierOf(spki)).toBe(createHash('sha1').update(spki.subarray(26)).digest('hex'));
  });

  it('is the SHA-1 of the RSAPublicKey for an RSA key', () => {
    const csr: ParsedCsr = parseCsr(csrFixture('rsa-2048.csr'));
    const pkcs1 = createPublicKey({ key: Buffer.from(csr.spkiDer), format: 'der', type: 'spki' }).export({ format: 'der', type: 'pkcs1' });
    expect(keyIdentifierOf(csr.spkiDer)).toBe(createHash('sha1').update(pkcs1).digest('hex'));
  });
});

describe('Function: subjectKeyIdentifier', () => {
  it.each(['ec-p256.csr', 'ec-p384.csr', 'rsa-2048.csr'])('is the 20-byte SHA-1 of the public key bits, the same key identifier as keyIdentifierOf (%s)', (file) => {
    const csr = parseCsr(csrFixture(file));
    const ski = subjectKeyIdentifier(csr.publicKeyBits);
    expect(ski.length).toBe(20);
    expect(Buffer.from(ski).toString('hex')).toBe(createHash('sha1').update(csr.publicKeyBits).digest('hex'));
    expect(Buffer.from(ski).toString('hex')).toBe(keyIdentifierOf(csr.spkiDer));
  });
});
