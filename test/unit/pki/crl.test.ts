import { describe, expect, it } from '@jest/globals';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../../src/pki/algorithms.js';
import { buildCrl, CRL_REASON_CODES, readCrlInfo, tbsCertList, type CrlEntry, type CrlParams, type CrlReason } from '../../../src/pki/crl.js';
import { TAG, bitStringBytes, childrenOf, encodedOf, readSingle, valueOf, type DerElement } from '../../../src/pki/der/reader.js';
import { bitString, integerFromHex, objectIdentifier, timeDer, tlv } from '../../../src/pki/der/writer.js';
import { keyIdentifierOf } from '../../../src/pki/keys.js';
import { caSubjectDer } from '../../../src/pki/profile.js';
import { newSerial } from '../../../src/pki/serial.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';
import { x509 } from '../../../src/pki/x509.js';
import { derErrorOf, rejectionOf } from '../../helpers/errors.js';

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('hex');
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

type CrlIssuer = CrlParams['issuer'];

interface TestCa {
  issuer: CrlIssuer;
  /** The same key for WebCrypto: the reference generator signs with it. */
  privateKey: CryptoKey;
  publicKey: x509.PublicKey;
}

/** A CA key made with WebCrypto, signing through the software signer (PKCS #8). */
async function testCa(algorithm: SigningAlgorithm, cn: string): Promise<TestCa> {
  const { web } = SIGNING_ALGORITHMS[algorithm];
  const params = web.key.name === 'ECDSA' ? web.key : { ...web.key, modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) };
  const keys = (await webcrypto.subtle.generateKey(params as unknown as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  const signer = createSoftwareSigner(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), {});
  expect(signer.algorithm).toBe(algorithm);
  return {
    issuer: { subjectDer: caSubjectDer({ C: 'US', O: 'Example Corp', CN: cn }), keyIdentifier: keyIdentifierOf(signer.publicKey), signer },
    privateKey: keys.privateKey as CryptoKey,
    publicKey: new x509.PublicKey(signer.publicKey.slice()),
  };
}

const CAS: Array<[SigningAlgorithm, Promise<TestCa>]> = [
  ['ECDSA_SHA_256', testCa('ECDSA_SHA_256', 'Example Corp Issuing CA G1')],
  ['ECDSA_SHA_384', testCa('ECDSA_SHA_384', 'Example Corp Issuing CA G2')],
  ['RSASSA_PKCS1_V1_5_SHA_256', testCa('RSASSA_PKCS1_V1_5_SHA_256', 'Example Corp Issuing CA G3')],
];
const p256 = () => CAS[0]![1];

const REASONS = Object.keys(CRL_REASON_CODES) as CrlReason[];
const THIS_UPDATE = new Date('2026-03-01T10:00:00Z');
const NEXT_UPDATE = new Date('2026-03-08T10:00:00Z');

const params = (issuer: CrlIssuer, entries: CrlEntry[], more: Partial<CrlParams> = {}): CrlParams => ({
  issuer,
  crlNumber: 1n,
  thisUpdate: THIS_UPDATE,
  nextUpdate: NEXT_UPDATE,
  entries,
  ...more,
});

const entry = (serialNumber: string, reason: CrlReason = 'keyCompromise', revokedAt = new Date('2026-02-27T08:30:00Z')): CrlEntry => ({ serialNumber, revokedAt, reason });

/** The TBSCertList's fields, and each revoked entry's parts. */
function tbsFields(der: Uint8Array): { fields: DerElement[]; entries: DerElement[][] } {
  const [tbs] = childrenOf(readSingle(der));
  const fields = childrenOf(tbs!);
  const revoked = fields.find((f, i) => i > 4 && f.tag === TAG.SEQUENCE);
  return { fields, entries: revoked ? childrenOf(revoked).map(childrenOf) : [] };
}

/** The serial as @peculiar/x509 prints it: the INTEGER's octets without the sign octet. */
const x509Serial = (serial: string) => {
  const octets = valueOf(readSingle(integerFromHex(serial)));
  return hex(octets[0] === 0 && octets.length > 1 ? octets.subarray(1) : octets);
};

/** Entries sorted by serial value, as callers pass them. */
const sortedBySerial = (entries: CrlEntry[]) =>
  [...entries].sort((a, b) => {
    const [x, y] = [a.serialNumber.replace(/^0+/, ''), b.serialNumber.replace(/^0+/, '')];
    return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
  });

describe('Function: buildCrl', () => {
  it.each(CAS)('%s: a v2 CRL that @peculiar/x509 reads back field by field and verifies with the CA key', async (_, ready) => {
    const ca = await ready;
    const entries = sortedBySerial(REASONS.map((reason, i) => entry(newSerial(), reason, new Date(Date.UTC(2026, 1, 1 + i, 12, i, 30)))));
    const der = await buildCrl(params(ca.issuer, entries, { crlNumber: 42n }));
    const crl = new x509.X509Crl(der.slice());

    expect(crl.version).toBe(1);
    expect(crl.issuer).toBe(new x509.Name(ca.issuer.subjectDer.slice()).toString());
    expect(hex(crl.issuerName.toArrayBuffer())).toBe(hex(ca.issuer.subjectDer));
    expect(crl.thisUpdate).toEqual(THIS_UPDATE);
    expect(crl.nextUpdate).toEqual(NEXT_UPDATE);
    expect(crl.entries.map((e) => [e.serialNumber, e.revocationDate.toISOString(), e.reason])).toEqual(
      entries.map((e) => [x509Serial(e.serialNumber), e.revokedAt.toISOString(), e.reason === 'unspecified' ? undefined : x509.X509CrlReason[e.reason]]),
    );
    expect(crl.extensions.map((e) => [e.type, e.critical])).toEqual([
      ['2.5.29.35', false],
      ['2.5.29.20', false],
    ]);
    expect(crl.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ca.issuer.keyIdentifier);
    expect(hex(crl.getExtension('2.5.29.20')!.value)).toBe('02012a');
    expect(await crl.verify({ publicKey: ca.publicKey })).toBe(true);
    // Not with another CA's key.
    const other = await CAS[(CAS.findIndex(([, c]) => c === ready) + 1) % CAS.length]![1];
    expect(await crl.verify({ publicKey: other.publicKey })).toBe(false);
  });

  it.each(CAS)('%s: signature and signatureAlgorithm are the signer\'s AlgorithmIdentifier; the signature is the signer\'s over the TBSCertList', async (algorithm, ready) => {
    const ca = await ready;
    const signed: Uint8Array[] = [];
    const signer: Signer = { ...ca.issuer.signer, sign: async (tbs) => (signed.push(tbs.slice()), Uint8Array.of(1, 2, 3)) };
    const p = params({ ...ca.issuer, signer }, [entry(newSerial())]);
    const der = await buildCrl(p);
    const [tbs, outerAlgorithm, signature] = childrenOf(readSingle(der));
    expect(signed.map(hex)).toEqual([hex(encodedOf(tbs!))]);
    expect(hex(encodedOf(tbs!))).toBe(hex(tbsCertList(p)));
    expect(hex(encodedOf(outerAlgorithm!))).toBe(hex(SIGNING_ALGORITHMS[algorithm].identifier));
    expect(hex(encodedOf(childrenOf(tbs!)[1]!))).toBe(hex(SIGNING_ALGORITHMS[algorithm].identifier));
    expect(hex(bitStringBytes(signature!))).toBe('010203');
  });

  it('without entries has no revokedCertificates field at all (absent, not empty)', async () => {
    const ca = await p256();
    const der = await buildCrl(params(ca.issuer, []));
    const { fields } = tbsFields(der);
    expect(fields.map((f) => f.tag)).toEqual([TAG.INTEGER, TAG.SEQUENCE, TAG.SEQUENCE, TAG.UTC_TIME, TAG.UTC_TIME, 0xa0]);
    expect(hex(valueOf(fields[0]!))).toBe('01');
    const crl = new x509.X509Crl(der.slice());
    expect(crl.entries).toHaveLength(0);
    expect(await crl.verify({ publicKey: ca.publicKey })).toBe(true);
    expect(readCrlInfo(der).entryCount).toBe(0);
  });

  it.each(REASONS)('reason %s: a non-critical reasonCode ENUMERATED, absent for unspecified', async (reason) => {
    const ca = await p256();
    const der = await buildCrl(params(ca.issuer, [entry('4a5b', reason)]));
    const [parts] = tbsFields(der).entries;
    expect(hex(encodedOf(parts![0]!))).toBe('02024a5b');
    expect(hex(encodedOf(parts![1]!))).toBe(hex(timeDer(new Date('2026-02-27T08:30:00Z'))));
    if (reason === 'unspecified') {
      expect(parts).toHaveLength(2);
    } else {
      expect(parts).toHaveLength(3);
      const code = CRL_REASON_CODES[reason].toString(16).padStart(2, '0');
      expect(hex(encodedOf(parts![2]!))).toBe(`300c300a0603551d1504030a01${code}`);
    }
  });

  it('codes the reasons as RFC 5280 numbers them, and never certificateHold (6) or removeFromCRL (8)', () => {
    expect(CRL_REASON_CODES).toEqual({
      unspecified: 0,
      keyCompromise: 1,
      cACompromise: 2,
      affiliationChanged: 3,
      superseded: 4,
      cessationOfOperation: 5,
      privilegeWithdrawn: 9,
      aACompromise: 10,
    });
    for (const reason of REASONS) expect(CRL_REASON_CODES[reason]).toBe(x509.X509CrlReason[reason]);
  });

  it('writes each serial as integerFromHex does (minimal, positive), whatever its length or leading zeros', async () => {
    const ca = await p256();
    const serials = ['01', '7f', '80', '0abc', '00ff', '0080', 'abc', '7'.padEnd(40, 'f'), 'f'.repeat(40), '00'.repeat(19) + '01', newSerial()];
    for (const serialNumber of serials) {
      const der = await buildCrl(params(ca.issuer, [entry(serialNumber)]));
      const [parts] = tbsFields(der).entries;
      expect([serialNumber, hex(encodedOf(parts![0]!))]).toEqual([serialNumber, hex(integerFromHex(serialNumber))]);
      expect(new x509.X509Crl(der.slice()).entries[0]!.serialNumber).toBe(x509Serial(serialNumber));
    }
  });

  it('writes the entries in the order given', async () => {
    const ca = await p256();
    const serials = ['7c', '11', '4f', 'a0'];
    const der = await buildCrl(params(ca.issuer, serials.map((s) => entry(s))));
    expect(new x509.X509Crl(der.slice()).entries.map((e) => e.serialNumber)).toEqual(serials);
  });

  it('writes times to the second: UTCTime through 2049, GeneralizedTime from 2050', async () => {
    const ca = await p256();
    const der = await buildCrl(
      params(ca.issuer, [entry('01', 'superseded', new Date('1999-12-31T23:59:59.999Z')), entry('02', 'superseded', new Date('2051-06-01T00:00:00Z'))], {
        thisUpdate: new Date('2049-12-31T23:59:59.250Z'),
        nextUpdate: new Date('2050-01-01T00:00:00Z'),
      }),
    );
    const { fields, entries } = tbsFields(der);
    expect([fields[3]!.tag, fields[4]!.tag]).toEqual([TAG.UTC_TIME, TAG.GENERALIZED_TIME]);
    expect(Buffer.from(valueOf(fields[3]!)).toString('latin1')).toBe('491231235959Z');
    expect(Buffer.from(valueOf(fields[4]!)).toString('latin1')).toBe('20500101000000Z');
    expect(entries.map((e) => [e[1]!.tag, Buffer.from(valueOf(e[1]!)).toString('latin1')])).toEqual([
      [TAG.UTC_TIME, '991231235959Z'],
      [TAG.GENERALIZED_TIME, '20510601000000Z'],
    ]);
    const crl = new x509.X509Crl(der.slice());
    expect([crl.thisUpdate.toISOString(), crl.nextUpdate!.toISOString()]).toEqual(['2049-12-31T23:59:59.000Z', '2050-01-01T00:00:00.000Z']);
    expect(crl.entries.map((e) => e.revocationDate.toISOString())).toEqual(['1999-12-31T23:59:59.000Z', '2051-06-01T00:00:00.000Z']);
    const info = readCrlInfo(der);
    expect([info.thisUpdate.toISOString(), info.nextUpdate.toISOString()]).toEqual(['2049-12-31T23:59:59.000Z', '2050-01-01T00:00:00.000Z']);
  });

  it.each([
    [0n, '020100'],
    [1n, '020101'],
    [127n, '02017f'],
    [128n, '02020080'],
    [2n ** 64n, '0209010000000000000000'],
    [2n ** 159n - 1n, `0214${'7f'}${'ff'.repeat(19)}`],
  ])('takes the cRLNumber %s (at most 20 octets)', async (crlNumber, integer) => {
    const ca = await p256();
    const der = await buildCrl(params(ca.issuer, [], { crlNumber }));
    expect(hex(new x509.X509Crl(der.slice()).getExtension('2.5.29.20')!.value)).toBe(integer);
    expect(readCrlInfo(der).crlNumber).toBe(crlNumber);
  });

  it.each([[2n ** 159n], [2n ** 160n], [-1n], [1 as unknown as bigint]])('refuses the cRLNumber %s and signs nothing', async (crlNumber) => {
    const ca = await p256();
    let signed = 0;
    const issuer = { ...ca.issuer, signer: { ...ca.issuer.signer, sign: async () => (signed++, new Uint8Array(0)) } };
    const e = await rejectionOf<Error>(buildCrl(params(issuer, [], { crlNumber })));
    expect(e.constructor).toBe(Error);
    expect(e.message).toBe(`CRL: cRLNumber must be an integer from 0 to 2^159 − 1 (at most 20 octets), not ${String(crlNumber)}`);
    expect(signed).toBe(0);
  });

  it.each([
    ['equal to thisUpdate', THIS_UPDATE],
    ['before thisUpdate', new Date(THIS_UPDATE.getTime() - 1000)],
    ['in the same second', new Date(THIS_UPDATE.getTime() + 999)],
  ])('refuses a nextUpdate %s', async (_, nextUpdate) => {
    const ca = await p256();
    const e = await rejectionOf<Error>(buildCrl(params(ca.issuer, [], { nextUpdate })));
    expect(e.message).toBe(`CRL: nextUpdate ${nextUpdate.toISOString()} must be later than thisUpdate ${THIS_UPDATE.toISOString()}`);
    // One second later is fine.
    await expect(buildCrl(params(ca.issuer, [], { nextUpdate: new Date(THIS_UPDATE.getTime() + 1000) }))).resolves.toBeInstanceOf(Uint8Array);
  });

  it.each([
    ['next to each other', ['11', '22', '22', '33'], 'CRL: entry 2: serial 22 is listed twice'],
    ['apart, in a list out of order', ['22', '11', '33', '22'], 'CRL: entry 3: serial 22 is listed twice'],
    ['apart, out of order from the first repeat on', ['11', '33', '44', '22', '33'], 'CRL: entry 4: serial 33 is listed twice'],
    ['with and without a leading zero (the same INTEGER)', ['00ab', 'ab'], 'CRL: entry 1: serial ab is listed twice'],
    ['in odd and even digits', ['abc', '0abc'], 'CRL: entry 1: serial 0abc is listed twice'],
  ])('refuses a serial listed twice, %s', async (_, serials, message) => {
    const ca = await p256();
    expect((await rejectionOf<Error>(buildCrl(params(ca.issuer, serials.map((s) => entry(s)))))).message).toBe(message);
  });

  it('takes a list out of order when no serial repeats', async () => {
    const ca = await p256();
    const serials = ['22', '11', '33', '0a', 'ff', '0100'];
    expect(readCrlInfo(await buildCrl(params(ca.issuer, serials.map((s) => entry(s))))).entryCount).toBe(6);
  });

  it.each([
    ['upper-case hex', 'ABCD', 'CRL: entry 0: serial "ABCD" is not 2–40 lower-case hex digits'],
    ['one digit', 'a', 'CRL: entry 0: serial "a" is not 2–40 lower-case hex digits'],
    ['41 digits', '1'.repeat(41), `CRL: entry 0: serial "${'1'.repeat(41)}" is not 2–40 lower-case hex digits`],
    ['not hex', '12g4', 'CRL: entry 0: serial "12g4" is not 2–40 lower-case hex digits'],
    ['not hex in an odd first digit', 'x12', 'CRL: entry 0: serial "x12" is not 2–40 lower-case hex digits'],
    ['a sign', '-1234', 'CRL: entry 0: serial "-1234" is not 2–40 lower-case hex digits'],
    ['a prefix', '0x1234', 'CRL: entry 0: serial "0x1234" is not 2–40 lower-case hex digits'],
    ['empty', '', 'CRL: entry 0: serial "" is not 2–40 lower-case hex digits'],
    ['not a string', 1234 as unknown as string, 'CRL: entry 0: serial 1234 is not 2–40 lower-case hex digits'],
    ['zero', '0000', 'CRL: entry 0: serial 0000 is zero, which no certificate has'],
  ])('refuses a serial that is %s', async (_, serialNumber, message) => {
    const ca = await p256();
    expect((await rejectionOf<Error>(buildCrl(params(ca.issuer, [entry(serialNumber)])))).message).toBe(message);
  });

  it.each([['certificateHold'], ['removeFromCRL'], ['toString'], ['__proto__'], ['KeyCompromise'], [undefined], [1]])('refuses the reason %j', async (reason) => {
    const ca = await p256();
    const odd = { serialNumber: '5678', revokedAt: new Date(), reason: reason as CrlReason };
    const e = await rejectionOf<Error>(buildCrl(params(ca.issuer, [entry('1234'), odd])));
    expect(e.message).toBe(`CRL: entry 1: unknown reason ${JSON.stringify(reason)}`);
  });

  it('refuses dates it cannot write, an unknown signing algorithm and a key identifier that is not hex', async () => {
    const ca = await p256();
    const message = async (p: CrlParams) => (await rejectionOf<Error>(buildCrl(p))).message;
    expect(await message(params(ca.issuer, [], { thisUpdate: new Date(NaN) }))).toBe('CRL: thisUpdate is not a valid date');
    expect(await message(params(ca.issuer, [], { nextUpdate: '2026-03-08' as unknown as Date }))).toBe('CRL: nextUpdate is not a valid date');
    expect(await message(params(ca.issuer, [], { nextUpdate: new Date('+010000-01-01T00:00:00Z') }))).toBe('CRL: nextUpdate is outside the years 0–9999');
    expect(await message(params(ca.issuer, [entry('1234', 'superseded', new Date(NaN))]))).toBe('CRL: entry 0 (serial 1234): revokedAt is not a valid date');
    expect(await message(params(ca.issuer, [entry('1234', 'superseded', Date.now() as unknown as Date)]))).toBe('CRL: entry 0 (serial 1234): revokedAt is not a valid date');
    expect(await message(params({ ...ca.issuer, signer: { ...ca.issuer.signer, algorithm: 'ED25519' as never } }, []))).toBe('CRL: unknown issuer signing algorithm ED25519');
    expect(await message(params({ ...ca.issuer, keyIdentifier: 'not hex' }, []))).toBe('CRL: issuer key identifier "not hex" is not hex');
  });

  it('reads back through lengths of every size (one, two and three length octets)', async () => {
    const ca = await p256();
    for (const count of [1, 2, 3, 5, 6, 1_500]) {
      const entries = sortedBySerial(Array.from({ length: count }, (_, i) => entry(newSerial(), REASONS[i % REASONS.length]!)));
      const der = await buildCrl(params(ca.issuer, entries));
      expect(readCrlInfo(der).entryCount).toBe(count);
      // (asn1js stops at 10,000 nodes unless told otherwise.)
      const crl = new x509.X509Crl(der.slice(), { berOptions: { maxNodes: 100_000 } });
      expect(crl.entries.map((e) => e.serialNumber)).toEqual(entries.map((e) => e.serialNumber));
      expect(await crl.verify({ publicKey: ca.publicKey })).toBe(true);
    }
  });

  it('builds the same TBSCertList as @peculiar/x509\'s generator, but for the empty crlEntryExtensions it writes (SIZE (1..MAX) forbids them)', async () => {
    const serial = fc
      .tuple(fc.nat({ max: 2 }), fc.stringMatching(/^[1-9a-f][0-9a-f]{1,37}$/))
      .map(([zeros, digits]) => '0'.repeat(zeros) + digits);
    const time = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2150-12-31T23:59:59Z'), noInvalidDate: true });
    const cases = fc.record({
      ca: fc.nat({ max: CAS.length - 1 }),
      crlNumber: fc.bigInt({ min: 0n, max: 2n ** 159n - 1n }),
      thisUpdate: time,
      seconds: fc.integer({ min: 1, max: 400 * 86_400 }),
      entries: fc.uniqueArray(fc.record({ serialNumber: serial, revokedAt: time, reason: fc.constantFrom(...REASONS) }), {
        maxLength: 12,
        selector: (e) => e.serialNumber.replace(/^0+/, ''),
      }),
    });
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const ca = await CAS[c.ca]![1];
        const nextUpdate = new Date(c.thisUpdate.getTime() + c.seconds * 1000);
        const p = params(ca.issuer, c.entries, { crlNumber: c.crlNumber, thisUpdate: c.thisUpdate, nextUpdate });
        const reference = await x509.X509CrlGenerator.create({
          issuer: new x509.Name(ca.issuer.subjectDer.slice()),
          thisUpdate: c.thisUpdate,
          nextUpdate,
          signingKey: ca.privateKey,
          signingAlgorithm: SIGNING_ALGORITHMS[ca.issuer.signer.algorithm].web.sign as unknown as Algorithm,
          extensions: [
            new x509.AuthorityKeyIdentifierExtension(ca.issuer.keyIdentifier),
            new x509.Extension('2.5.29.20', false, integerFromHex(c.crlNumber.toString(16)).slice()),
          ],
          entries: c.entries.map((e) => ({ serialNumber: e.serialNumber, revocationDate: e.revokedAt, reason: x509.X509CrlReason[e.reason] })),
        });
        const referenceTbs = withoutEmptyEntryExtensions(encodedOf(childrenOf(readSingle(new Uint8Array(reference.rawData)))[0]!));
        expect(hex(tbsCertList(p))).toBe(hex(referenceTbs));
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

/** The reference's TBSCertList with each entry's empty crlEntryExtensions (`30 00`) left out. */
function withoutEmptyEntryExtensions(tbs: Uint8Array): Uint8Array {
  const fields = childrenOf(readSingle(tbs)).map((f, i) => {
    if (i < 5 || f.tag !== TAG.SEQUENCE) return encodedOf(f);
    const entries = childrenOf(f).map((e) => tlv(TAG.SEQUENCE, childrenOf(e).filter((p, j) => !(j === 2 && p.end === p.valueStart)).map(encodedOf)));
    return tlv(TAG.SEQUENCE, entries);
  });
  return tlv(TAG.SEQUENCE, fields);
}

describe('Function: readCrlInfo', () => {
  it('reads the number, times, issuer and entry count of what buildCrl writes', async () => {
    const ca = await p256();
    const entries = sortedBySerial(Array.from({ length: 25 }, (_, i) => entry(newSerial(), REASONS[i % REASONS.length]!)));
    const der = await buildCrl(params(ca.issuer, entries, { crlNumber: 2n ** 100n + 7n }));
    const info = readCrlInfo(der);
    expect(info).toEqual({ crlNumber: 2n ** 100n + 7n, thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE, issuerDer: expect.any(Uint8Array), entryCount: 25 });
    expect(hex(info.issuerDer)).toBe(hex(ca.issuer.subjectDer));
  });

  // CertificateLists assembled field by field, to change one thing at a time.
  const ALGORITHM = SIGNING_ALGORITHMS.ECDSA_SHA_256.identifier;
  const extension = (oid: string, value: string, critical?: string) =>
    tlv(TAG.SEQUENCE, [objectIdentifier(oid), ...(critical ? [fromHex(critical)] : []), tlv(TAG.OCTET_STRING, [fromHex(value)])]);
  const CRL_NUMBER = extension('2.5.29.20', '020105');
  const AKI = extension('2.5.29.35', '301680140102030405060708090a0b0c0d0e0f1011121314');
  const ENTRY = tlv(TAG.SEQUENCE, [integerFromHex('1234'), timeDer(new Date('2026-02-01T00:00:00Z'))]);
  interface Parts {
    version: Uint8Array[];
    signature: Uint8Array;
    outer: Uint8Array;
    thisUpdate: Uint8Array[];
    nextUpdate: Uint8Array[];
    revoked: Uint8Array[];
    extensions: Uint8Array[];
    wrapper: (extensions: Uint8Array[]) => Uint8Array[];
    after: Uint8Array[];
    trailing: Uint8Array;
  }
  function list(change: Partial<Parts> = {}): Uint8Array {
    const p: Parts = {
      version: [fromHex('020101')],
      signature: ALGORITHM,
      outer: ALGORITHM,
      thisUpdate: [timeDer(THIS_UPDATE)],
      nextUpdate: [timeDer(NEXT_UPDATE)],
      revoked: [tlv(TAG.SEQUENCE, [ENTRY, ENTRY])],
      extensions: [AKI, CRL_NUMBER],
      wrapper: (extensions) => [tlv(0xa0, [tlv(TAG.SEQUENCE, extensions)])],
      after: [],
      trailing: new Uint8Array(0),
      ...change,
    };
    const tbs = tlv(TAG.SEQUENCE, [
      ...p.version,
      p.signature,
      caSubjectDer({ CN: 'Test CA' }),
      ...p.thisUpdate,
      ...p.nextUpdate,
      ...p.revoked,
      ...p.wrapper(p.extensions),
      ...p.after,
    ]);
    const der = tlv(TAG.SEQUENCE, [tbs, p.outer, bitString(Uint8Array.of(1, 2, 3))]);
    return Uint8Array.from([...der, ...p.trailing]);
  }

  it('reads a CertificateList assembled by hand (the assembly is right)', () => {
    expect(readCrlInfo(list())).toMatchObject({ crlNumber: 5n, entryCount: 2, thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE });
    expect(readCrlInfo(list({ extensions: [CRL_NUMBER] })).crlNumber).toBe(5n);
    expect(readCrlInfo(list({ extensions: [extension('2.5.29.28', '3000'), CRL_NUMBER] })).crlNumber).toBe(5n);
    expect(readCrlInfo(list({ extensions: [AKI, extension('2.5.29.20', '020105', '0101ff')] })).crlNumber).toBe(5n);
    expect(readCrlInfo(list({ revoked: [] })).entryCount).toBe(0);
  });

  it.each<[string, Partial<Parts>, string]>([
    ['trailing data', { trailing: Uint8Array.of(0) }, '1 bytes of trailing data'],
    ['a v1 list (no version)', { version: [] }, 'version: expected tag 0x2, found 0x30'],
    ['version 3', { version: [fromHex('020102')] }, 'version: not v2'],
    ['a version of two octets', { version: [fromHex('02020001')] }, 'version: not v2'],
    ['two different signature algorithms', { outer: SIGNING_ALGORITHMS.ECDSA_SHA_384.identifier }, 'signature and signatureAlgorithm differ'],
    ['no nextUpdate', { nextUpdate: [] }, 'time: expected UTCTime or GeneralizedTime, found tag 0x30'],
    ['no nextUpdate and no entries', { nextUpdate: [], revoked: [] }, 'time: expected UTCTime or GeneralizedTime, found tag 0xa0'],
    ['nextUpdate before thisUpdate', { thisUpdate: [timeDer(NEXT_UPDATE)], nextUpdate: [timeDer(THIS_UPDATE)] }, 'nextUpdate is not after thisUpdate'],
    ['an empty revokedCertificates', { revoked: [tlv(TAG.SEQUENCE, [])] }, 'revokedCertificates is present but empty'],
    ['an entry that is not a SEQUENCE', { revoked: [tlv(TAG.SEQUENCE, [ENTRY, integerFromHex('01')])] }, 'revoked certificate: expected tag 0x30, found 0x2'],
    ['no crlExtensions', { wrapper: () => [] }, 'TBSCertList: no crlExtensions'],
    ['a field after crlExtensions', { after: [fromHex('0500')] }, 'TBSCertList: unexpected fields after crlExtensions'],
    ['crlExtensions holding two SEQUENCEs', { wrapper: (e) => [tlv(0xa0, [tlv(TAG.SEQUENCE, e), tlv(TAG.SEQUENCE, e)])] }, 'crlExtensions must hold one Extensions'],
    ['no cRLNumber', { extensions: [AKI] }, 'no cRLNumber'],
    ['a negative cRLNumber', { extensions: [extension('2.5.29.20', '0201ff')] }, 'integer is negative'],
    ['a cRLNumber of 21 octets', { extensions: [extension('2.5.29.20', `0215${'01'.repeat(21)}`)] }, 'cRLNumber longer than 20 octets'],
    ['a cRLNumber not minimally encoded', { extensions: [extension('2.5.29.20', '02020005')] }, 'integer is not minimally encoded'],
    ['a cRLNumber twice', { extensions: [CRL_NUMBER, CRL_NUMBER] }, 'extension 2.5.29.20 appears twice'],
    ['an unknown critical extension', { extensions: [CRL_NUMBER, extension('2.5.29.28', '3000', '0101ff')] }, 'unknown critical extension 2.5.29.28'],
    ['critical written as FALSE (DER leaves the default out)', { extensions: [extension('2.5.29.20', '020105', '010100')] }, 'extension 2.5.29.20: critical must be absent or TRUE'],
    ['an extension without a value', { extensions: [tlv(TAG.SEQUENCE, [objectIdentifier('2.5.29.20')])] }, 'extension 2.5.29.20: malformed'],
  ])('refuses %s', (_, change, message) => {
    expect(derErrorOf(() => readCrlInfo(list(change)))).toBe(message);
  });

  it('refuses what is not a CertificateList', () => {
    expect(derErrorOf(() => readCrlInfo(fromHex('0500')))).toBe('CertificateList: expected tag 0x30, found 0x5');
    expect(derErrorOf(() => readCrlInfo(tlv(TAG.SEQUENCE, [fromHex('0500')])))).toBe('CertificateList must have three parts');
    expect(derErrorOf(() => readCrlInfo(new Uint8Array(0)))).toBe('unexpected end of data');
  });
});
