import { describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import {
  NoteError,
  SIGNATURE_TYPE,
  formatCheckpoint,
  formatVerifierKey,
  keyId,
  noteKey,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  verifyCheckpoint,
  verifyNote,
  type Checkpoint,
} from '../../../src/log/checkpoint.js';
import { sha256 } from '../../../src/log/merkle.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';

const p256 = () => createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const ORIGIN = 'ca.example.com/issuance-log';
const checkpoint: Checkpoint = { origin: ORIGIN, size: 1234, rootHash: sha256(new TextEncoder().encode('root')) };
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const key = (signer: Signer, name = ORIGIN) => ({ name, publicKey: signer.publicKey });

/** The note's signature line for `name`, its base64 bytes changed by `change`. */
function changeSignature(note: string, change: (bytes: Buffer) => void): string {
  const [text, line] = [note.slice(0, note.lastIndexOf('\n\n') + 2), note.slice(note.lastIndexOf('\n\n') + 2)];
  const [dash, name, b64] = line.trimEnd().split(' ');
  const bytes = Buffer.from(b64!, 'base64');
  change(bytes);
  return `${text}${dash} ${name} ${bytes.toString('base64')}\n`;
}

describe('Function: formatCheckpoint / parseCheckpoint', () => {
  it('writes origin, decimal size and base64 root hash, each on its line, and reads them back', () => {
    const text = formatCheckpoint(checkpoint);
    expect(text).toBe(`${ORIGIN}\n1234\n${Buffer.from(checkpoint.rootHash).toString('base64')}\n`);
    expect(parseCheckpoint(text)).toEqual(checkpoint);
    const withExtensions = { ...checkpoint, size: 0, extensions: ['ext one', 'two'] };
    expect(formatCheckpoint(withExtensions)).toMatch(/\n0\n.*=\next one\ntwo\n$/);
    expect(parseCheckpoint(formatCheckpoint(withExtensions))).toEqual(withExtensions);
  });

  it('reads the tlog-checkpoint specification example', () => {
    const cp = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
    expect(cp.origin).toBe('example.com/behind-the-sofa');
    expect(cp.size).toBe(20852163);
    expect(cp.rootHash).toHaveLength(32);
  });

  const root = Buffer.from(checkpoint.rootHash).toString('base64');
  it.each([
    ['no final newline', `o\n1\n${root}`],
    ['two lines', `o\n1\n`],
    ['an empty origin', `\n1\n${root}\n`],
    ['an empty extension line', `o\n1\n${root}\n\next\n`],
    ['a trailing empty line', `o\n1\n${root}\n\n`],
    ['a leading zero', `o\n01\n${root}\n`],
    ['a plus sign', `o\n+1\n${root}\n`],
    ['a minus sign', `o\n-1\n${root}\n`],
    ['a decimal point', `o\n1.0\n${root}\n`],
    ['an exponent', `o\n1e3\n${root}\n`],
    ['hexadecimal', `o\n0x10\n${root}\n`],
    ['a space in the size', `o\n 1\n${root}\n`],
    ['a size beyond 2^53 - 1', `o\n9007199254740992\n${root}\n`],
    ['a carriage return', `o\n1\r\n${root}\n`],
    ['a root of 31 bytes', `o\n1\n${Buffer.alloc(31).toString('base64')}\n`],
    ['a root of 33 bytes', `o\n1\n${Buffer.alloc(33).toString('base64')}\n`],
    ['a root without padding', `o\n1\n${root.replace(/=+$/, '')}\n`],
    ['a root in base64url', `o\n1\n${Buffer.from(Buffer.alloc(32, 0xfb)).toString('base64url')}=\n`],
    ['a root with non-zero trailing bits', `o\n1\n${root.slice(0, 42)}${B64[B64.indexOf(root[42]!) ^ 1]}=\n`],
  ])('refuses a checkpoint with %s', (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(NoteError);
  });

  it.each<[string, Checkpoint]>([
    ['an empty origin', { ...checkpoint, origin: '' }],
    ['an origin of two lines', { ...checkpoint, origin: 'a\nb' }],
    ['a negative size', { ...checkpoint, size: -1 }],
    ['a fractional size', { ...checkpoint, size: 1.5 }],
    ['an unsafe size', { ...checkpoint, size: 2 ** 53 }],
    ['a short root hash', { ...checkpoint, rootHash: new Uint8Array(31) }],
    ['an empty extension line', { ...checkpoint, extensions: [''] }],
    ['a tab in an extension line', { ...checkpoint, extensions: ['a\tb'] }],
  ])('refuses to write a checkpoint with %s', (_, cp) => {
    expect(() => formatCheckpoint(cp)).toThrow(NoteError);
  });
});

describe('Function: signNote / verifyNote (type 0x02, ECDSA P-256)', () => {
  const signer = p256();

  it('signs the text with a line "— <name> base64(key ID || DER signature)", the key ID the first 4 bytes of SHA-256(SPKI)', async () => {
    const note = await signCheckpoint(checkpoint, { name: ORIGIN, signer });
    const text = formatCheckpoint(checkpoint);
    expect(note.startsWith(`${text}\n\u2014 ${ORIGIN} `)).toBe(true);
    const { signatures } = parseNote(note);
    expect(signatures).toHaveLength(1);
    const k = noteKey(ORIGIN, signer.publicKey);
    expect(k.type).toBe(SIGNATURE_TYPE.ecdsa);
    expect(signatures[0]!.keyId).toBe(Buffer.from(sha256(signer.publicKey)).readUInt32BE(0));
    expect(signatures[0]!.keyId).toBe(k.keyId);
    expect(signatures[0]!.signature[0]).toBe(0x30); // DER SEQUENCE { r, s }
    expect(verifyCheckpoint(note, key(signer))).toEqual(checkpoint);
    expect(verifyCheckpoint(note, key(signer), { origin: ORIGIN })).toEqual(checkpoint);
  });

  it('takes the key as SPKI DER, PEM, a KeyObject, or its verifier key', async () => {
    const note = await signCheckpoint(checkpoint, { name: ORIGIN, signer });
    const object = createPublicKey({ key: Buffer.from(signer.publicKey), format: 'der', type: 'spki' });
    const pem = object.export({ format: 'pem', type: 'spki' }).toString();
    const vkey = formatVerifierKey(noteKey(ORIGIN, object));
    expect(vkey).toMatch(new RegExp(`^${ORIGIN}\\+[0-9a-f]{8}\\+Aj`)); // base64 of 0x02 || 0x30…
    for (const k of [key(signer), { name: ORIGIN, publicKey: pem }, { name: ORIGIN, publicKey: object }, vkey]) {
      expect(verifyCheckpoint(note, k)).toEqual(checkpoint);
    }
    expect(parseVerifierKey(vkey)).toMatchObject({ name: ORIGIN, type: 2, keyId: noteKey(ORIGIN, object).keyId });
  });

  it('ignores signatures by other keys, before or after its own, and verifies every one of its own', async () => {
    const other = p256();
    const byOther = await signCheckpoint(checkpoint, { name: 'witness.example/w1', signer: other });
    const byUs = await signCheckpoint(checkpoint, { name: ORIGIN, signer });
    const line = (note: string) => note.slice(note.lastIndexOf('\n\n') + 2);
    const both = `${formatCheckpoint(checkpoint)}\n${line(byOther)}${line(byUs)}`;
    expect(verifyCheckpoint(both, key(signer))).toEqual(checkpoint);
    expect(verifyCheckpoint(both, key(other, 'witness.example/w1'))).toEqual(checkpoint);
    const twice = `${formatCheckpoint(checkpoint)}\n${line(byUs)}${line(changeSignature(byUs, (b) => (b[b.length - 1]! ^= 1)))}`;
    expect(() => verifyCheckpoint(twice, key(signer))).toThrow(/does not verify/);
  });

  it('refuses an unknown key name, another key under the same name, a changed signature or text, another origin', async () => {
    const note = await signCheckpoint(checkpoint, { name: ORIGIN, signer });
    expect(() => verifyNote(note, key(signer, 'other.example/log'))).toThrow(/no signature by other\.example\/log/);
    expect(() => verifyNote(note, key(p256()))).toThrow(/has key ID [0-9a-f]{8}, not the key's/);
    expect(() => verifyNote(changeSignature(note, (b) => (b[0]! ^= 1)), key(signer))).toThrow(/key ID/);
    for (const at of [4, 10, 30]) expect(() => verifyNote(changeSignature(note, (b) => (b[at]! ^= 1)), key(signer))).toThrow(/does not verify/);
    expect(() => verifyNote(note.replace('1234', '1235'), key(signer))).toThrow(/does not verify/);
    expect(() => verifyCheckpoint(note, key(signer), { origin: 'x.example/log' })).toThrow(/origin/);
  });

  it('refuses a signed body that is not a checkpoint, or whose size is not canonical decimal', async () => {
    const notCheckpoint = await signNote('hello\n', { name: ORIGIN, signer });
    expect(verifyNote(notCheckpoint, key(signer))).toBe('hello\n');
    expect(() => verifyCheckpoint(notCheckpoint, key(signer))).toThrow(/at least 3 lines/);
    const root = Buffer.from(checkpoint.rootHash).toString('base64');
    const leadingZero = await signNote(`${ORIGIN}\n01234\n${root}\n`, { name: ORIGIN, signer });
    expect(() => verifyCheckpoint(leadingZero, key(signer))).toThrow(/leading zeros/);
  });

  it('signs only with ECDSA P-256 under a valid key name, and only text ending in a newline', async () => {
    const p384 = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    const rsa = createSoftwareSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    await expect(signNote('a\n', { name: ORIGIN, signer: p384 })).rejects.toThrow(/not ECDSA_SHA_384/);
    await expect(signNote('a\n', { name: ORIGIN, signer: rsa })).rejects.toThrow(/not RSASSA_PKCS1_V1_5_SHA_256/);
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u2003b']) await expect(signNote('a\n', { name, signer })).rejects.toThrow(/key name/);
    await expect(signNote('a', { name: ORIGIN, signer })).rejects.toThrow(/newline/);
    await expect(signNote('a\tb\n', { name: ORIGIN, signer })).rejects.toThrow(/control/);
    expect(() => noteKey(ORIGIN, p384.publicKey)).toThrow(/no note signature type/);
  });
});

describe('Function: parseNote (the signed-note format, strictly)', () => {
  const sig = Buffer.concat([Buffer.from([1, 2, 3, 4]), Buffer.alloc(8, 7)]).toString('base64');
  it('splits at the last blank line and reads name, key ID and signature', () => {
    const note = parseNote(`a\n\nb\n\n\u2014 k1 ${sig}\n\u2014 k2 ${sig}\n`);
    expect(note.text).toBe('a\n\nb\n');
    expect(note.signatures.map((s) => [s.name, s.keyId, s.signature.length])).toEqual([
      ['k1', 0x01020304, 8],
      ['k2', 0x01020304, 8],
    ]);
  });

  it.each([
    ['no blank line', `a\n\u2014 k ${sig}\n`],
    ['no final newline', `a\n\n\u2014 k ${sig}`],
    ['no signature line', `a\n\n`],
    ['a hyphen for the em dash', `a\n\n- k ${sig}\n`],
    ['no space after the dash', `a\n\n\u2014k ${sig}\n`],
    ['no signature', `a\n\n\u2014 k\n`],
    ['two spaces', `a\n\n\u2014 k  ${sig}\n`],
    ['a plus in the key name', `a\n\n\u2014 k+1 ${sig}\n`],
    ['a signature that is not base64', `a\n\n\u2014 k ${sig.slice(1)}\n`],
    ['a signature of 4 bytes, a key ID only', `a\n\n\u2014 k AQIDBA==\n`],
    ['a tab', `a\tb\n\n\u2014 k ${sig}\n`],
    ['a carriage return', `a\r\n\n\u2014 k ${sig}\n`],
    ['a NUL', `a\u0000\n\n\u2014 k ${sig}\n`],
    ['a lone surrogate', `a\ud800\n\n\u2014 k ${sig}\n`],
    ['101 signatures', `a\n\n${`\u2014 k ${sig}\n`.repeat(101)}`],
  ])('refuses a note with %s', (_, note) => {
    expect(() => parseNote(note)).toThrow(NoteError);
  });

  it('refuses bytes that are not UTF-8, and reads those that are', () => {
    const good = Buffer.from(`caf\u00e9\n\n\u2014 k ${sig}\n`, 'utf8');
    expect(parseNote(new Uint8Array(good)).text).toBe('caf\u00e9\n');
    const bad = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(`\n\n\u2014 k ${sig}\n`)]);
    expect(() => parseNote(new Uint8Array(bad))).toThrow(/UTF-8/);
  });

  it('accepts 16 signatures, as the specification requires', () => {
    expect(parseNote(`a\n\n${`\u2014 k ${sig}\n`.repeat(16)}`).signatures).toHaveLength(16);
  });
});

/*
 * Notes signed by others. The ECDSA ones are from the tests of
 * github.com/transparency-dev/witness (internal/note/note_verifier_test.go,
 * moved to github.com/transparency-dev/formats note/): checkpoints of the
 * Sigstore Rekor log and of the Pixel 6 transparency log with their verifier
 * keys. The Ed25519 one is the example of c2sp.org/signed-note.
 */
describe('Vectors: notes signed elsewhere', () => {
  const rekorKey = 'rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=';
  const rekorNote =
    'Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n\u2014 rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n';
  const pixelKey = 'pixel6_transparency_log+91c16e30+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=';
  const pixelNote =
    'DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n\u2014 pixel6_transparency_log kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHtoCIGD0cNe47dHWBoPwYdgBCepB06/+g5O1FmYjXl06owL4\n';

  it('verifies the Rekor and Pixel checkpoints (type 0x02: key ID = SHA-256(SPKI)[:4], DER ECDSA over SHA-256)', () => {
    const rekor = verifyCheckpoint(rekorNote, rekorKey);
    expect([rekor.origin, rekor.size]).toEqual(['Rekor', 798034]);
    const pixel = verifyCheckpoint(pixelNote, pixelKey);
    expect([pixel.origin, pixel.size]).toEqual(['DEFAULT', 10]);
    const spki = Buffer.from(rekorKey.slice('rekor.sigstore.dev+c0d23d6a+'.length), 'base64').subarray(1);
    expect(Buffer.from(sha256(spki)).subarray(0, 4).toString('hex')).toBe('c0d23d6a');
    expect(formatVerifierKey(parseVerifierKey(rekorKey))).toBe(rekorKey);
    expect(verifyCheckpoint(rekorNote, { name: 'rekor.sigstore.dev', publicKey: new Uint8Array(spki) }).size).toBe(798034);
  });

  it('refuses them under another name, with another key ID, or changed', () => {
    expect(() => verifyCheckpoint(rekorNote, pixelKey)).toThrow(/no signature by pixel6_transparency_log/);
    expect(() => parseVerifierKey(rekorKey.replace('c0d23d6a', '00000000'))).toThrow(/ID/);
    // The type 0x02 key ID hashes the key alone: another name keeps it, and the name must match the signature line.
    const renamed = rekorKey.replace('rekor.sigstore.dev', 'bananas.sigstore.dev');
    expect(parseVerifierKey(renamed).keyId).toBe(0xc0d23d6a);
    expect(() => verifyCheckpoint(rekorNote, renamed)).toThrow(/no signature by bananas\.sigstore\.dev/);
    expect(() => verifyCheckpoint(rekorNote.replace('798034', '798035'), rekorKey)).toThrow(/does not verify/);
    expect(() => parseVerifierKey('rekor.sigstore.dev+12345678+AwEB')).toThrow(NoteError);
  });

  it('verifies the signed-note example (Ed25519, key ID = SHA-256(name || 0x0A || 0x01 || key)[:4]) and refuses it as a checkpoint', () => {
    const vkey = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
    const note = 'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
    expect(verifyNote(note, vkey)).toBe('This is an example message.\n');
    const raw = Buffer.from(vkey.slice('example.com/foo+530d903a+'.length), 'base64').subarray(1);
    expect(keyId('example.com/foo', SIGNATURE_TYPE.ed25519, raw).toString(16)).toBe('530d903a');
    expect(formatVerifierKey(parseVerifierKey(vkey))).toBe(vkey);
    expect(() => verifyCheckpoint(note, vkey)).toThrow(/not a checkpoint|at least 3 lines/);
    expect(() => verifyNote(note.replace('example message', 'example massage'), vkey)).toThrow(/does not verify/);
  });

  it('verifies an Ed25519 note signed here, its key given as PEM', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const text = formatCheckpoint(checkpoint);
    const k = noteKey(ORIGIN, publicKey);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(k.keyId);
    const note = `${text}\n\u2014 ${ORIGIN} ${Buffer.concat([id, sign(null, Buffer.from(text), privateKey)]).toString('base64')}\n`;
    expect(verifyCheckpoint(note, { name: ORIGIN, publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString() })).toEqual(checkpoint);
  });
});
