/**
 * Property-based tests (fast-check) of the hostile-input parser: the strict DER
 * reader, PEM/base64 unwrapping, CSR parsing, proof of possession and the whole
 * checking pipeline (acceptRequest).
 *
 * The contract under test: whatever bytes or text arrive, the parser either
 * returns or throws a PkiError (DerError inside der.ts) — never a TypeError,
 * RangeError, DerError leaking out of the CSR layer, or anything else — it never
 * hangs, and a CSR that still verifies after a mutation carries exactly the
 * CertificationRequestInfo that was signed.
 *
 * On failure fast-check prints the seed and path of the counterexample;
 * FC_SEED=<seed> reproduces a run, FUZZ_SCALE=<n> multiplies every run count
 * (for a longer local fuzzing session).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createHash, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DerError,
  bitStringBytes,
  checkStructure,
  childrenOf,
  decodeOid,
  integerMagnitude,
  isConstructed,
  readElement,
  readSingle,
  valueOf,
  type DerElement,
} from '../../../src/pki/der/reader.js';
import { csrInputToDer, parseCsr, verifyCsr, type ParsedCsr } from '../../../src/pki/csr.js';
import { PkiError, type PkiErrorCode as ErrorCode } from '../../../src/pki/errors.js';
import { acceptRequest, type AcceptedRequest } from '../../../src/pki/request.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { OIDS, STRING, buildCsrDer, name, oid, p256Key, seq, set, tlv } from '../../helpers/csr-builder.js';
import {
  BAD_LEN_STYLES,
  anyTag,
  applyByteOp,
  byteOpArb,
  concat,
  constructedTag,
  derAttempt,
  encode,
  lenOverrideArb,
  minimalLength,
  mutateDer,
  nested,
  pick,
  slotsOf,
  smallBytes,
  toTree,
  treeOpArb,
  type ByteOp,
  type NestStyle,
  type Raw,
  type Tlv,
  type TreeOp,
} from '../../helpers/der-mutations.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';

// ---------------------------------------------------------------------------
// Settings

const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined;
const runs = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.round(numRuns * SCALE),
  ...(SEED !== undefined ? { seed: SEED } : {}),
});
/** Jest timeout of one property (the runs themselves take a fraction of it). */
const TIMEOUT = 60_000 * SCALE;
/**
 * A hang guard, not a performance target (that is the benchmark's job): a
 * parse takes well under a millisecond; one that takes a second is looping or
 * blowing up on crafted input, whatever the load on the machine.
 */
const MAX_CALL_MS = 1000;

const policy = shippedPolicy();

// ---------------------------------------------------------------------------
// Outcome helpers

type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; error: PkiError };

/** Runs `fn`; a PkiError becomes an outcome, anything else thrown fails the property. */
function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof PkiError) return { ok: false, code: e.code, error: e };
    throw new Error(`not a PkiError escaped: ${describeError(e)}`, { cause: e });
  }
}

const describeError = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-error ${String(e)}`);

/** Runs `fn` and fails when it took longer than MAX_CALL_MS. */
function quick<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - t0;
    if (ms > MAX_CALL_MS) throw new Error(`${what} took ${ms.toFixed(1)} ms (limit ${MAX_CALL_MS} ms)`);
  }
}

const PARSE_CODES: ErrorCode[] = ['CSR_MALFORMED'];
const VERIFY_CODES: ErrorCode[] = ['CSR_MALFORMED', 'CSR_SIGNATURE_INVALID', 'KEY_NOT_ALLOWED'];
const ACCEPT_CODES: ErrorCode[] = ['CSR_MALFORMED', 'CSR_SIGNATURE_INVALID', 'KEY_NOT_ALLOWED', 'POLICY_VIOLATION'];

function expectCode(outcome: Outcome<unknown>, allowed: ErrorCode[]): void {
  if (!outcome.ok && !allowed.includes(outcome.code)) {
    throw new Error(`unexpected error code ${outcome.code} (allowed: ${allowed.join(', ')}): ${outcome.error.message}`);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

// ---------------------------------------------------------------------------
// The corpus of valid CSRs: the openssl-made fixtures and freshly built ones

/** Private keys the tests sign with (generated once: RSA generation is slow). */
const KEYS = {
  p256: p256Key(),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};

interface Base {
  name: string;
  der: Uint8Array;
  parsed: ParsedCsr;
  infoHex: string;
  verifies: boolean;
  accepted: AcceptedRequest | undefined;
}

function makeBase(nameOf: string, der: Uint8Array): Base {
  const parsed = parseCsr(der);
  const verified = attempt(() => verifyCsr(parsed));
  const accepted = attempt(() => acceptRequest(der, policy));
  return { name: nameOf, der, parsed, infoHex: hex(parsed.infoDer), verifies: verified.ok, accepted: accepted.ok ? accepted.value : undefined };
}

function loadBases(): Base[] {
  const out: Base[] = [];
  for (const file of readdirSync(join(FIXTURES, 'csr')).sort()) {
    const raw = readFileSync(join(FIXTURES, 'csr', file));
    const input = file.endsWith('.der') ? new Uint8Array(raw) : raw.toString('utf8');
    try {
      out.push(makeBase(file, csrInputToDer(input)));
    } catch {
      // certificate.pem, truncated.der, trailing-garbage.der: not CSRs, used elsewhere.
    }
  }
  const extensionRequest = tlv(
    0xa0,
    seq(
      oid('1.2.840.113549.1.9.14'),
      set(seq(seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x82, Buffer.from('device-0001.example.com'))))))),
    ),
  );
  const fullSubject = name(
    [['C', STRING.printable('DE')]],
    [['ST', STRING.utf8('Bavaria')]],
    [['O', STRING.utf8('Example Corp')]],
    [['OU', STRING.bmp('Line 7')], ['L', STRING.teletex('Munich')]],
    [['CN', STRING.utf8('sensor:line7_0042')]],
  );
  out.push(makeBase('built p256', buildCsrDer()));
  out.push(makeBase('built p256 + extensionRequest', buildCsrDer({ attributes: extensionRequest })));
  out.push(makeBase('built p384 multi-valued subject', buildCsrDer({ key: KEYS.p384, subjectDer: fullSubject })));
  out.push(makeBase('built rsa 2048', buildCsrDer({ key: KEYS.rsa })));
  out.push(makeBase('built ed25519', buildCsrDer({ key: generateKeyPairSync('ed25519').privateKey })));
  return out;
}

const BASES = loadBases();
const ACCEPTED_BASES = BASES.filter((b) => b.accepted);

type InputForm = 'der' | 'pem' | 'base64';
/** PEM of any bytes, also of none (toCsrPem of the helpers expects a CSR). */
const pemOf = (der: Uint8Array) => `-----BEGIN CERTIFICATE REQUEST-----\n${(b64(der).match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
const toInput = (der: Uint8Array, form: InputForm): string | Uint8Array =>
  form === 'der' ? der : form === 'pem' ? pemOf(der) : b64(der);

const mutatedCsrArb = fc.record({
  base: fc.nat({ max: BASES.length - 1 }),
  treeOps: fc.array(treeOpArb, { maxLength: 3 }),
  byteOps: fc.array(byteOpArb, { maxLength: 2 }),
  form: fc.constantFrom<InputForm>('der', 'der', 'der', 'pem', 'base64'),
});

function mutate(m: { base: number; treeOps: TreeOp[]; byteOps: ByteOp[] }): Uint8Array {
  return mutateDer(BASES[m.base]!.der, m.treeOps, m.byteOps);
}

// Random DER-ish trees with the tags a CSR is made of, and CSR-shaped random input.

const KNOWN_OIDS = [
  ...Object.values(OIDS),
  '1.2.840.10045.2.1', // ecPublicKey
  '1.2.840.113549.1.1.1', // rsaEncryption
  '1.2.840.113549.1.1.10', // RSASSA-PSS
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
  '1.3.101.110', // X25519
  '1.2.840.10040.4.1', // DSA
  '1.2.840.10046.2.1', // DH
  '1.2.840.10045.3.1.7', // P-256
  '1.3.132.0.34', // P-384
  '1.3.132.0.35', // P-521
  '1.3.132.0.10', // secp256k1
  '1.2.840.10045.4.3.2',
  '1.2.840.10045.4.3.3',
  '1.2.840.10045.4.3.4',
  '1.2.840.113549.1.1.11',
  '1.2.840.113549.1.1.5', // sha1WithRSA (refused)
  '1.2.840.113549.1.9.14', // extensionRequest
  '2.16.840.1.101.3.4.3.2', // dsa-with-sha256
];
const oidTlv = fc.oneof(
  fc.constantFrom(...KNOWN_OIDS).map(oid),
  smallBytes(20).map((b) => tlv(0x06, b)),
);

const leafArb = fc.oneof(
  fc.tuple(anyTag.filter((t) => !isConstructed(t)), smallBytes(200)).map(([t, b]) => tlv(t, b)),
  oidTlv,
  fc.constant(tlv(0x02, Uint8Array.of(0))),
  fc.constant(tlv(0x05)),
  smallBytes(150).map((b) => tlv(0x03, Uint8Array.of(0), b)),
  fc.string({ maxLength: 30 }).map(STRING.utf8),
);

const derTreeArb: fc.Arbitrary<Uint8Array> = fc.letrec<{ node: Uint8Array; cons: Uint8Array }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafArb, tie('cons')),
  cons: fc.tuple(constructedTag, fc.array(tie('node'), { maxLength: 5 })).map(([t, kids]) => tlv(t, ...kids)),
})).node;

const stringValueArb = fc
  .tuple(
    fc.constantFrom(0x0c, 0x13, 0x16, 0x14, 0x1e, 0x1c, 0x1a, 0x12, 0x04, 0x05, 0x30),
    fc.oneof(smallBytes(80), fc.string({ unit: 'binary', maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8')))),
  )
  .map(([t, b]) => tlv(t, b));
const nameArb = fc
  .array(fc.array(fc.tuple(oidTlv, stringValueArb).map(([o, v]) => seq(o, v)), { maxLength: 3 }).map((attrs) => set(...attrs)), { maxLength: 7 })
  .map((rdns) => seq(...rdns));
const keyBitsArb = fc.oneof(
  smallBytes(140).map((b) => tlv(0x03, Uint8Array.of(0), b)),
  fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => tlv(0x03, Uint8Array.of(0, 4), b)),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 520 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
    .map(([n, e]) => tlv(0x03, Uint8Array.of(0), seq(tlv(0x02, n), tlv(0x02, e)))),
);
const spkiArb = fc.oneof(
  fc.constantFrom(...BASES.map((b) => b.parsed.spkiDer)),
  fc
    .tuple(
      fc.constantFrom(...KNOWN_OIDS),
      fc.option(fc.oneof(fc.constantFrom('1.2.840.10045.3.1.7', '1.3.132.0.34', '1.3.132.0.10').map(oid), fc.constant(tlv(0x05)), derTreeArb)),
      keyBitsArb,
    )
    .map(([alg, params, key]) => seq(seq(oid(alg), ...(params ? [params] : [])), key)),
);
const csrShapedArb = fc
  .tuple(
    fc.oneof(nameArb, fc.constantFrom(...BASES.map((b) => b.parsed.subject.der))),
    spkiArb,
    fc.oneof(fc.constant(tlv(0xa0)), fc.array(derTreeArb, { maxLength: 3 }).map((a) => tlv(0xa0, ...a))),
    fc.oneof(
      fc.constantFrom(...KNOWN_OIDS).map((o) => seq(oid(o))),
      fc.constantFrom(...KNOWN_OIDS).map((o) => seq(oid(o), tlv(0x05))),
      derTreeArb,
    ),
    fc.oneof(smallBytes(600).map((b) => tlv(0x03, Uint8Array.of(0), b)), fc.constantFrom(...BASES.map((b) => tlv(0x03, Uint8Array.of(0), b.parsed.signature)))),
  )
  .map(([subjectDer, spki, attributes, alg, sig]) => seq(seq(tlv(0x02, Uint8Array.of(0)), subjectDer, spki, attributes), alg, sig));

/** Random bytes, 0 to 4 KiB, some of them made to get past the first checks. */
const randomBytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }),
  fc.uint8Array({ maxLength: 4096 }).map((b) => concat(Uint8Array.of(0x30), Uint8Array.from(minimalLength(b.length)), b)),
  fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((b) => {
    b[0] = 0x30;
    return b;
  }),
  derTreeArb,
  csrShapedArb,
);

/** A valid CSR with `payload` in place of one of its parts (lengths around it fixed up). */
function csrWith(where: 'root' | 'attributes' | 'subject' | 'rdn' | 'signatureAlgorithm', payload: Uint8Array): Uint8Array {
  if (where === 'root') return payload;
  const root = toTree(readSingle(BASES.find((b) => b.name === 'built p256')!.der));
  const info = root.kids![0] as Tlv;
  const raw: Raw = { kind: 'raw', bytes: payload };
  if (where === 'attributes') (info.kids![3] as Tlv).kids = [raw];
  if (where === 'subject') info.kids![1] = raw;
  if (where === 'rdn') ((info.kids![1] as Tlv).kids![0] as Tlv).kids = [raw];
  if (where === 'signatureAlgorithm') (root.kids![1] as Tlv).kids!.push(raw);
  return encode(root);
}

// ---------------------------------------------------------------------------
// PEM-ish text

const LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST', 'CERTIFICATE', 'PRIVATE KEY', 'PUBLIC KEY', 'certificate request', '', ' '];
const labelArb = fc.oneof(
  fc.constantFrom(...LABELS),
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -'), maxLength: 30 }),
  fc.string({ maxLength: 20 }),
);
const WHITESPACE = [' ', '\n', '\r\n', '\t', '\r', '\v', '\f', '\u00a0', '\u2028', '\ufeff'];
const GARBAGE = ['!', '=', '==', '-', '-----', '*', '\0', 'é', '😀', '\ud800', '%', '.', '_'];
const insertions = (chars: string[]) => fc.array(fc.record({ pos: fc.nat(), text: fc.constantFrom(...chars) }), { maxLength: 12 });
function insertAll(text: string, ins: Array<{ pos: number; text: string }>): string {
  let out = text;
  for (const { pos, text: t } of ins) {
    const p = pos % (out.length + 1);
    out = out.slice(0, p) + t + out.slice(p);
  }
  return out;
}

const bodyArb = fc
  .tuple(
    fc.oneof(
      fc.nat({ max: BASES.length - 1 }).map((i) => b64(BASES[i]!.der)),
      mutatedCsrArb.map((m) => b64(mutate(m))),
      fc.uint8Array({ maxLength: 1500 }).map(b64),
      fc.base64String({ maxLength: 400 }),
      fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    ),
    insertions(WHITESPACE),
    insertions(GARBAGE),
    fc.option(fc.nat()),
    fc.boolean(),
  )
  .map(([body, ws, garbage, cut, wrap64]) => {
    let text = wrap64 ? (body.match(/.{1,64}/g) ?? []).join('\n') : body;
    text = insertAll(insertAll(text, ws), garbage);
    return cut === null ? text : text.slice(0, cut % (text.length + 1));
  });
const blockArb = fc
  .record({
    begin: labelArb,
    end: fc.option(labelArb, { freq: 3 }),
    body: bodyArb,
    dashes: fc.constantFrom('-----', '-----', '-----', '----', '------'),
    sep: fc.constantFrom('\n', '\r\n', '', ' ', '\n\n'),
    end2: fc.constantFrom('full', 'full', 'full', 'none', 'truncated'),
  })
  .map(({ begin, end, body, dashes, sep, end2 }) => {
    const head = `${dashes}BEGIN ${begin}${dashes}${sep}${body}${sep}`;
    const tail = `${dashes}END ${end ?? begin}${dashes}\n`;
    return end2 === 'full' ? head + tail : end2 === 'none' ? head : head + tail.slice(0, tail.length >> 1);
  });
const junkArb = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('\n', 'Certificate Request:\n', '-----BEGIN', '-----END CERTIFICATE REQUEST-----'));
const pemDocArb = fc.array(fc.oneof({ arbitrary: blockArb, weight: 3 }, { arbitrary: junkArb, weight: 1 }), { maxLength: 4 }).map((parts) => parts.join(''));

// ---------------------------------------------------------------------------
// Properties

describe('Property: random bytes', () => {
  it(
    'parseCsr returns or throws CSR_MALFORMED, nothing else',
    () => {
      fc.assert(
        fc.property(randomBytesArb, (bytes) => {
          expectCode(attempt(() => parseCsr(bytes)), PARSE_CODES);
        }),
        runs(10_000),
      );
    },
    TIMEOUT,
  );

  it(
    'acceptRequest with the shipped policy returns or throws a PkiError of the checking pipeline',
    () => {
      fc.assert(
        fc.property(randomBytesArb, (bytes) => {
          const outcome = attempt(() => acceptRequest(bytes, policy));
          expectCode(outcome, ACCEPT_CODES);
          // Only a reassembly of a genuinely signed CSR of the corpus (CSR-shaped input picks
          // real subjects, keys and signatures) can pass: what verifies is what was signed.
          if (outcome.ok) {
            const info = hex(outcome.value.csr.infoDer);
            expect(BASES.some((b) => b.accepted && b.infoHex === info) ? 'a signed corpus CSR' : `accepted: ${hex(bytes)}`).toBe('a signed corpus CSR');
          }
        }),
        runs(5_000),
      );
    },
    TIMEOUT,
  );
});

describe('Property: mutated valid CSRs', () => {
  it('starts from a corpus of CSRs that parse (and mostly verify)', () => {
    expect(BASES.length).toBeGreaterThanOrEqual(25);
    expect(BASES.filter((b) => b.verifies).length).toBeGreaterThanOrEqual(20);
    expect(ACCEPTED_BASES.length).toBeGreaterThanOrEqual(5);
    // The tree model re-encodes every base exactly.
    for (const b of BASES) expect(hex(encode(toTree(readSingle(b.der))))).toBe(hex(b.der));
  });

  it(
    'only PkiErrors come out, and a mutated CSR that still verifies carries the signed CertificationRequestInfo unchanged',
    () => {
      let verified = 0;
      let accepted = 0;
      fc.assert(
        fc.property(mutatedCsrArb, (m) => {
          const base = BASES[m.base]!;
          const input = toInput(mutate(m), m.form);

          const parsed = attempt(() => parseCsr(input));
          expectCode(parsed, PARSE_CODES);
          if (parsed.ok) {
            const csr = parsed.value;
            const v = attempt(() => verifyCsr(csr));
            expectCode(v, VERIFY_CODES);
            if (v.ok) {
              verified++;
              // The signature check cannot be fooled: what verifies is what was signed.
              expect(base.verifies).toBe(true);
              expect(hex(csr.infoDer)).toBe(base.infoHex);
              expect(hex(csr.spkiDer)).toBe(hex(base.parsed.spkiDer));
              expect(hex(csr.subject.der)).toBe(hex(base.parsed.subject.der));
              expect(csr.subject.rdns).toEqual(base.parsed.subject.rdns);
              expect(csr.key).toEqual(base.parsed.key);
            }
          }

          const a = attempt(() => acceptRequest(input, policy));
          expectCode(a, ACCEPT_CODES);
          if (a.ok) {
            accepted++;
            expect(base.accepted).toBeDefined();
            expect(hex(a.value.csr.infoDer)).toBe(base.infoHex);
            expect(a.value.subject).toEqual(base.accepted!.subject);
          }
        }),
        runs(4_000),
      );
      // Sanity: the mutations are not all fatal (tree ops on the outer parts keep CSRs valid).
      expect(verified).toBeGreaterThan(0);
      expect(accepted).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'a length that can never be right (indefinite, 0x84 0xFF…, too many or padded octets) anywhere the walker reaches is CSR_MALFORMED, fast',
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: BASES.length - 1 }),
          fc.nat(),
          lenOverrideArb(BAD_LEN_STYLES),
          fc.boolean(),
          (baseIndex, at, len, fixParents) => {
            const der = BASES[baseIndex]!.der;
            let bytes: Uint8Array;
            if (fixParents) {
              const root = toTree(readSingle(der));
              const reachable = slotsOf(root).filter((s) => !s.node.opaque);
              pick(reachable, at)!.node.len = len;
              bytes = encode(root);
            } else {
              // In place, parents untouched: headersOf lists only elements checkStructure reaches.
              bytes = applyByteOp(der, { op: 'rawLength', at, len });
            }
            const outcome = quick('parseCsr', () => attempt(() => parseCsr(bytes)));
            expect(outcome.ok ? 'accepted' : outcome.code).toBe('CSR_MALFORMED');
            const accepted = quick('acceptRequest', () => attempt(() => acceptRequest(bytes, policy)));
            expect(accepted.ok ? 'accepted' : accepted.code).toBe('CSR_MALFORMED');
          },
        ),
        runs(2_000),
      );
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------
// SubjectPublicKeyInfo variants, each in a CSR that is properly signed for it

const SPKI_OIDS = { ecPublicKey: '1.2.840.10045.2.1', rsaEncryption: '1.2.840.113549.1.1.1', p256: '1.2.840.10045.3.1.7', p384: '1.3.132.0.34' };

/** An INTEGER of the non-negative number whose magnitude is `mag`, minimally encoded. */
function positiveInteger(mag: Uint8Array): Uint8Array {
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  const m = mag.subarray(i);
  return tlv(0x02, m[0]! & 0x80 ? concat(Uint8Array.of(0), m) : m);
}
const bitString = (unused: number, content: Uint8Array) => tlv(0x03, Uint8Array.of(unused), content);
const fromB64url = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'));

interface SpkiCase {
  spki: Uint8Array;
  /** The one encoding a CA may certify for this key material (null: there is none). */
  canonical: Uint8Array | null;
  /** Proof of possession for the key material can be made (by its private key, or trivially for e = 1). */
  signer: (info: Uint8Array) => Uint8Array;
  /** The key material is exactly the signing key's: the CSR should verify and pass. */
  sameKey: boolean;
  signatureAlgorithm: Uint8Array;
}

/** Counterexamples print as the variant's description, not as a dump of its bytes. */
const labelled = <T extends object>(value: T, label: string): T => Object.defineProperty(value, fc.toStringMethod, { value: () => label });

/** Public keys other than the signing keys, of the same curves. */
const OTHER_EC = {
  p256: createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).export({ format: 'jwk' }) as { x: string; y: string },
  p384: createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey).export({ format: 'jwk' }) as { x: string; y: string },
};
const bigEndian = (n: number) => Uint8Array.from(Buffer.from(n.toString(16).padStart(n.toString(16).length + (n.toString(16).length % 2), '0'), 'hex'));

const PARAM_VARIANTS = ['keep', 'keep', 'keep', 'absent', 'null', 'nullWithContent', 'junk', 'extraNull', 'extraJunk', 'otherOid'] as const;

const ecCaseArb: fc.Arbitrary<SpkiCase> = fc
  .record({
    key: fc.constantFrom('p256' as const, 'p384' as const),
    params: fc.constantFrom(...PARAM_VARIANTS),
    point: fc.constantFrom('keep', 'keep', 'keep', 'compressed', 'hybrid', 'truncated', 'extended', 'otherPoint'),
    unused: fc.constantFrom(0, 0, 0, 1),
    junk: derTreeArb,
  })
  .map(({ key, params, point, unused, junk }) => {
    const priv = KEYS[key];
    const jwk = createPublicKey(priv).export({ format: 'jwk' }) as { x: string; y: string };
    const x = fromB64url(jwk.x);
    const y = fromB64url(jwk.y);
    const curve = oid(SPKI_OIDS[key]);
    const alg = oid(SPKI_OIDS.ecPublicKey);
    const canonical = seq(seq(alg, curve), bitString(0, concat(Uint8Array.of(4), x, y)));
    const algId = {
      keep: seq(alg, curve),
      absent: seq(alg),
      null: seq(alg, tlv(0x05)),
      nullWithContent: seq(alg, tlv(0x05, Uint8Array.of(0))),
      junk: seq(alg, junk),
      extraNull: seq(alg, curve, tlv(0x05)),
      extraJunk: seq(alg, curve, junk),
      otherOid: seq(alg, oid(key === 'p256' ? SPKI_OIDS.p384 : SPKI_OIDS.p256)),
    }[params];
    const other = OTHER_EC[key];
    const pointBytes = {
      keep: concat(Uint8Array.of(4), x, y),
      compressed: concat(Uint8Array.of(2 + (y[y.length - 1]! & 1)), x),
      hybrid: concat(Uint8Array.of(6 + (y[y.length - 1]! & 1)), x, y),
      truncated: concat(Uint8Array.of(4), x, y.subarray(1)),
      extended: concat(Uint8Array.of(4), x, y, Uint8Array.of(0)),
      otherPoint: concat(Uint8Array.of(4), fromB64url(other.x), fromB64url(other.y)),
    }[point];
    const spki = seq(algId, bitString(unused, pointBytes));
    return labelled({
      spki,
      canonical,
      signer: (info: Uint8Array) => sign(key === 'p256' ? 'sha256' : 'sha384', info, priv),
      sameKey: point === 'keep',
      signatureAlgorithm: seq(oid(key === 'p256' ? '1.2.840.10045.4.3.2' : '1.2.840.10045.4.3.3')),
    }, `EC ${key} params=${params} point=${point} unusedBits=${unused}${params.includes('unk') ? ` junk=${hex(junk)}` : ''}`);
  });

/** EMSA-PKCS1-v1_5 of SHA-256: with e = 1 this is a valid signature, made without any private key. */
function pkcs1Sha256(info: Uint8Array, k: number): Uint8Array {
  const digestInfo = concat(Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(info).digest());
  return concat(Uint8Array.of(0, 1), new Uint8Array(k - 3 - digestInfo.length).fill(0xff), Uint8Array.of(0), digestInfo);
}

const rsaCaseArb: fc.Arbitrary<SpkiCase> = fc
  .record({
    params: fc.constantFrom(...PARAM_VARIANTS),
    n: fc.constantFrom('canonical', 'canonical', 'negative', 'padded'),
    e: fc.constantFrom<'keep' | number>('keep', 'keep', 1, 2, 3, 65536, 65537),
    extraField: fc.constantFrom(false, false, false, true),
    unused: fc.constantFrom(0, 0, 0, 1),
    junk: derTreeArb,
  })
  .map(({ params, n, e, extraField, unused, junk }) => {
    const jwk = createPublicKey(KEYS.rsa).export({ format: 'jwk' }) as { n: string; e: string };
    const modulus = fromB64url(jwk.n); // magnitude, top bit set (a 2048-bit key)
    const exponent = e === 'keep' ? fromB64url(jwk.e) : bigEndian(e);
    const alg = oid(SPKI_OIDS.rsaEncryption);
    const nTlv = { canonical: positiveInteger(modulus), negative: tlv(0x02, modulus), padded: tlv(0x02, concat(Uint8Array.of(0, 0), modulus)) }[n];
    const algId = {
      keep: seq(alg, tlv(0x05)),
      absent: seq(alg),
      null: seq(alg, tlv(0x05)),
      nullWithContent: seq(alg, tlv(0x05, Uint8Array.of(0))),
      junk: seq(alg, junk),
      extraNull: seq(alg, tlv(0x05), tlv(0x05)),
      extraJunk: seq(alg, tlv(0x05), junk),
      otherOid: seq(alg, oid(SPKI_OIDS.p256)),
    }[params];
    const rsaKey = seq(nTlv, positiveInteger(exponent), ...(extraField ? [tlv(0x02, Uint8Array.of(1))] : []));
    const spki = seq(algId, bitString(unused, rsaKey));
    const eValue = e === 'keep' ? 65537 : e;
    // RFC 8017: e odd and at least 3; the only encoding to certify is the canonical one.
    const canonical = eValue % 2 === 1 && eValue >= 3 ? seq(seq(alg, tlv(0x05)), bitString(0, seq(positiveInteger(modulus), positiveInteger(exponent)))) : null;
    const signer = eValue === 1 ? (info: Uint8Array) => pkcs1Sha256(info, modulus.length) : (info: Uint8Array) => sign('sha256', info, KEYS.rsa);
    return labelled(
      { spki, canonical, signer, sameKey: eValue === 65537, signatureAlgorithm: seq(oid('1.2.840.113549.1.1.11'), tlv(0x05)) },
      `RSA params=${params} n=${n} e=${eValue} extraField=${extraField} unusedBits=${unused}${params.includes('unk') ? ` junk=${hex(junk)}` : ''}`,
    );
  });

function csrForSpki(c: SpkiCase): Uint8Array {
  const info = seq(tlv(0x02, Uint8Array.of(0)), BASES.find((b) => b.name === 'built p256')!.parsed.subject.der, c.spki, tlv(0xa0));
  return seq(info, c.signatureAlgorithm, bitString(0, c.signer(info)));
}

describe('Property: the public key a CA certifies', () => {
  it(
    'a properly signed CSR is accepted only with the canonical SubjectPublicKeyInfo of an acceptable key (and is accepted with it)',
    () => {
      fc.assert(
        fc.property(fc.oneof(ecCaseArb, rsaCaseArb), (c) => {
          const der = csrForSpki(c);
          const a = attempt(() => acceptRequest(der, policy));
          expectCode(a, ACCEPT_CODES);
          const canonical = c.canonical !== null && hex(c.spki) === hex(c.canonical);
          if (a.ok) {
            // What the CA copies into the certificate is a well-formed key.
            expect(canonical ? 'canonical' : `not canonical: ${hex(c.spki)}`).toBe('canonical');
            expect(hex(a.value.csr.spkiDer)).toBe(hex(c.spki));
          }
          if (c.sameKey && canonical) expect(a.ok ? 'accepted' : a.code).toBe('accepted');
        }),
        runs(1_000),
      );
    },
    TIMEOUT,
  );
});

describe('Property: deep nesting and huge declared lengths', () => {
  it('10,000 nested SEQUENCE headers in every length style are CSR_MALFORMED within the time limit', () => {
    // Warm up the code paths once so the first timing is not the JIT's.
    attempt(() => parseCsr(buildCsrDer()));
    for (const style of ['definite', 'indefinite', 'huge', 'huge83', 'nonMinimal', 'mixed'] as const) {
      const der = nested(10_000, [0x30], style, tlv(0x05));
      for (const input of [der, pemOf(der), b64(der)]) {
        const outcome = quick(`parseCsr(${style})`, () => attempt(() => parseCsr(input)));
        expect(outcome.ok ? 'accepted' : outcome.code).toBe('CSR_MALFORMED');
        const accepted = quick(`acceptRequest(${style})`, () => attempt(() => acceptRequest(input, policy)));
        expect(accepted.ok ? 'accepted' : accepted.code).toBe('CSR_MALFORMED');
      }
    }
  });

  it(
    'nesting from 25 to 10,000 levels, anywhere in a CSR, is CSR_MALFORMED within the time limit',
    () => {
      attempt(() => parseCsr(buildCsrDer()));
      fc.assert(
        fc.property(
          fc.integer({ min: 25, max: 10_000 }),
          fc.array(constructedTag, { minLength: 1, maxLength: 4 }),
          fc.constantFrom<NestStyle>('definite', 'definite', 'indefinite', 'huge', 'huge83', 'nonMinimal', 'mixed'),
          fc.nat(),
          fc.constantFrom('root', 'attributes', 'subject', 'rdn', 'signatureAlgorithm') as fc.Arbitrary<Parameters<typeof csrWith>[0]>,
          fc.constantFrom<InputForm>('der', 'pem', 'base64'),
          fc.oneof(fc.constant(tlv(0x05)), fc.constant(new Uint8Array(0)), smallBytes(20)),
          (depth, tags, style, mix, where, form, inner) => {
            const input = toInput(csrWith(where, nested(depth, tags, style, inner, mix)), form);
            const outcome = quick('parseCsr', () => attempt(() => parseCsr(input)));
            expect(outcome.ok ? 'accepted' : outcome.code).toBe('CSR_MALFORMED');
            const accepted = quick('acceptRequest', () => attempt(() => acceptRequest(input, policy)));
            expect(accepted.ok ? 'accepted' : accepted.code).toBe('CSR_MALFORMED');
          },
        ),
        runs(500),
      );
    },
    TIMEOUT,
  );

  it('a huge declared length over a small input is CSR_MALFORMED at once', () => {
    for (const len of [[0x84, 0xff, 0xff, 0xff, 0xff], [0x84, 0x7f, 0xff, 0xff, 0xff], [0x83, 0xff, 0xff, 0xff], [0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0xff]]) {
      const input = Uint8Array.from([0x30, ...len, 0x05, 0x00]);
      const outcome = quick('parseCsr', () => attempt(() => parseCsr(input)));
      expect(outcome.ok ? 'accepted' : outcome.code).toBe('CSR_MALFORMED');
    }
  });

  it('a flat SEQUENCE of 16,384 empty elements (a 32 KiB body) is CSR_MALFORMED within the time limit', () => {
    // More elements than checkStructure allows (10,000); 0x05 0x00 is NULL.
    const body = new Uint8Array(2 * 16_384);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x05;
    const input = concat(Uint8Array.of(0x30), Uint8Array.from(minimalLength(body.length)), body);
    attempt(() => parseCsr(input));
    const outcome = quick('parseCsr', () => attempt(() => parseCsr(input)));
    expect(outcome.ok ? 'accepted' : outcome.code).toBe('CSR_MALFORMED');
  });
});

describe('Property: PEM-ish text', () => {
  it(
    'csrInputToDer and parseCsr return or throw CSR_MALFORMED for PEM-ish documents (labels, base64 with whitespace and garbage, several blocks)',
    () => {
      fc.assert(
        fc.property(pemDocArb, (text) => {
          expectCode(attempt(() => csrInputToDer(text)), PARSE_CODES);
          expectCode(attempt(() => parseCsr(text)), PARSE_CODES);
          expectCode(attempt(() => parseCsr(new Uint8Array(Buffer.from(text, 'utf8')))), PARSE_CODES);
        }),
        runs(4_000),
      );
    },
    TIMEOUT,
  );

  it(
    'csrInputToDer and parseCsr return or throw CSR_MALFORMED for arbitrary strings',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 2000 }), fc.string({ unit: 'grapheme', maxLength: 500 }), fc.base64String({ maxLength: 2000 })), (text) => {
          expectCode(attempt(() => csrInputToDer(text)), PARSE_CODES);
          expectCode(attempt(() => parseCsr(text)), PARSE_CODES);
        }),
        runs(3_000),
      );
    },
    TIMEOUT,
  );

  it(
    'a valid CSR survives ASCII whitespace in its base64 and text around its PEM block, and nothing else changes',
    () => {
      const around = fc.string({ unit: fc.constantFrom(...'abcXYZ 019:\n\t.é'), maxLength: 60 });
      fc.assert(
        fc.property(
          fc.nat({ max: BASES.length - 1 }),
          insertions([' ', '\n', '\r\n', '\t', '\r']),
          around,
          around,
          fc.constantFrom('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'),
          fc.boolean(),
          (i, ws, before, after, label, bare) => {
            const der = BASES[i]!.der;
            const body = insertAll(b64(der), ws);
            const text = bare ? body : `${before}-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n${after}`;
            expect(hex(csrInputToDer(text))).toBe(hex(der));
            expect(parseCsr(text).infoDer).toEqual(BASES[i]!.parsed.infoDer);
          },
        ),
        runs(1_000),
      );
    },
    TIMEOUT,
  );
});

describe('Property: the DER reader on random bytes', () => {
  const derInputArb = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }),
    fc.uint8Array({ maxLength: 512 }),
    derTreeArb,
    derTreeArb.chain((der) => fc.tuple(fc.constant(der), fc.array(byteOpArb, { minLength: 1, maxLength: 3 }))).map(([der, ops]) => ops.reduce(applyByteOp, der)),
    mutatedCsrArb.map(mutate),
  );

  it(
    'readSingle, readElement, childrenOf, checkStructure and the value readers throw only DerError, and what they accept is consistent',
    () => {
      fc.assert(
        fc.property(derInputArb, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 30 }), (bytes, a, b, maxDepth) => {
          const offset = a % (bytes.length + 1);
          const limit = offset + (b % (bytes.length - offset + 1));
          const any = derAttempt(() => readElement(bytes, offset, limit));
          if (!(any instanceof DerError)) {
            expect(any.start).toBe(offset);
            expect(any.valueStart).toBeGreaterThanOrEqual(offset + 2);
            expect(any.end).toBeGreaterThanOrEqual(any.valueStart);
            expect(any.end).toBeLessThanOrEqual(limit);
          }

          const el = derAttempt(() => readSingle(bytes));
          if (el instanceof DerError) return;
          expect(el.start).toBe(0);
          expect(el.end).toBe(bytes.length);
          expect(el.tag & 0x1f).not.toBe(0x1f);
          derAttempt(() => decodeOid(el));
          derAttempt(() => integerMagnitude(el));
          derAttempt(() => bitStringBytes(el));
          const kids = derAttempt(() => childrenOf(el));
          if (!(kids instanceof DerError)) {
            // The children tile the contents exactly.
            let p = el.valueStart;
            for (const k of kids) {
              expect(k.start).toBe(p);
              p = k.end;
            }
            expect(p).toBe(el.end);
          }
          const checked = derAttempt(() => checkStructure(el));
          derAttempt(() => checkStructure(el, maxDepth, 1 + (a % 200)));
          // Differential: a plain recursive strict-DER reader agrees on what is acceptable.
          expect(checked instanceof DerError ? 'refused' : 'accepted').toBe(referenceAccepts(bytes, 24) ? 'accepted' : 'refused');
        }),
        runs(10_000),
      );
    },
    TIMEOUT,
  );

  it(
    'well-formed random DER round-trips through readSingle/childrenOf and passes checkStructure',
    () => {
      type T = { tag: number; kids: T[] } | { tag: number; body: Uint8Array };
      const enc = (t: T): Uint8Array => ('kids' in t ? tlv(t.tag, ...t.kids.map(enc)) : tlv(t.tag, t.body));
      const dec = (el: DerElement): T => (isConstructed(el.tag) ? { tag: el.tag, kids: childrenOf(el).map(dec) } : { tag: el.tag, body: Uint8Array.from(valueOf(el)) });
      const treeArb = fc.letrec<{ t: T; c: T }>((tie) => ({
        t: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          fc.record({ tag: anyTag.filter((x) => !isConstructed(x) && (x & 0x1f) !== 0x1f), body: fc.uint8Array({ maxLength: 300 }) }),
          tie('c'),
        ),
        c: fc.record({ tag: constructedTag, kids: fc.array(tie('t'), { maxLength: 6 }) }),
      })).t;
      fc.assert(
        fc.property(treeArb, (t) => {
          const der = enc(t);
          const el = readSingle(der);
          checkStructure(el);
          expect(dec(el)).toEqual(t);
        }),
        runs(2_000),
      );
    },
    TIMEOUT,
  );
});

/** A recursive, obviously-correct strict DER check (only for inputs of bounded depth). */
function referenceAccepts(b: Uint8Array, maxDepth: number, maxElements = 10_000): boolean {
  let count = 0;
  const element = (off: number, lim: number, depth: number): number => {
    if (off >= lim) throw new Error('end');
    const tag = b[off]!;
    if ((tag & 0x1f) === 0x1f) throw new Error('high tag');
    if (off + 1 >= lim) throw new Error('no length');
    const first = b[off + 1]!;
    let len = first;
    let vs = off + 2;
    if (first >= 0x80) {
      const n = first - 0x80;
      if (n === 0 || n > 4 || vs + n > lim || b[vs] === 0) throw new Error('length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[vs + i]!;
      if (len < 0x80) throw new Error('length');
      vs += n;
    }
    const end = vs + len;
    if (end > lim) throw new Error('beyond');
    if (++count > maxElements) throw new Error('count');
    if (tag & 0x20) {
      if (depth >= maxDepth) throw new Error('depth');
      let p = vs;
      while (p < end) p = element(p, end, depth + 1);
    }
    return end;
  };
  try {
    return element(0, b.length, 0) === b.length;
  } catch {
    return false;
  }
}
