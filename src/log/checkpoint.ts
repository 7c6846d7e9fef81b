/**
 * Checkpoints of the issuance log (c2sp.org/tlog-checkpoint) as signed notes
 * (c2sp.org/signed-note).
 *
 * A checkpoint is the note text
 *
 *   <origin>\n<tree size, decimal, no leading zero>\n<base64 root hash>\n[<extension line>\n]*
 *
 * and a signed note is that text, a blank line, and signature lines
 * `— <key name> <base64(4-byte key ID || signature)>\n`.
 *
 * Signature type. The log signs with a KMS key, which cannot sign Ed25519 (the
 * note's own type 0x01), so it uses the type signed-note assigns to ECDSA:
 *
 *   0x02 — ECDSA signatures as implemented by github.com/transparency-dev/witness.
 *     The ECDSA curve MUST be one of NIST P-256, NIST P-384, or NIST P-521, and
 *     SHOULD be NIST P-256. Note that the key ID for these signatures is the
 *     truncated SHA-256 hash of the DER encoded public key in SPKI format.
 *
 * That implementation (transparency-dev/formats note.NewECDSAVerifier, from
 * the witness) verifies ecdsa.VerifyASN1(key, SHA-256(note text), signature):
 * the signature is the DER ECDSA-Sig-Value over the SHA-256 digest of the text,
 * exactly what KMS ECDSA_SHA_256 returns for a P-256 key, and the key ID is
 * SHA-256(SubjectPublicKeyInfo DER)[:4], without the key name or the type byte
 * that the note's general recommendation hashes. Its verifier key (vkey) is
 * `<name>+<hex key ID>+base64(0x02 || SPKI DER)`. Only P-256 keys sign here:
 * the type's digest is SHA-256 whatever the curve, and KMS signs with a P-384
 * key over SHA-384 only; RSA has no signed-note type at all.
 *
 * Verification also reads Ed25519 (0x01) notes, whose key ID is
 * SHA-256(key name || 0x0A || 0x01 || 32-byte key)[:4], as the note
 * specification defines it.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { Signer } from '../pki/signer.js';
import { HASH_SIZE, sha256 } from './merkle.js';

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoteError';
  }
}

/** Signature type identifier bytes (c2sp.org/signed-note, "Signature types"). */
export const SIGNATURE_TYPE = { ed25519: 0x01, ecdsa: 0x02 } as const;
export type SignatureType = (typeof SIGNATURE_TYPE)[keyof typeof SIGNATURE_TYPE];

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: string[];
}

/** Notes with more signatures are refused (the specification asks for at least 16). */
export const MAX_SIGNATURES = 100;

const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SIZE = /^(0|[1-9][0-9]*)$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const EM_DASH_SPACE = '\u2014 ';

/** Standard base64 in its one canonical form (padding, zero trailing bits), or undefined. */
export function decodeBase64Canonical(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : undefined;
}

const toBase64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** A signing key of a note: its key name and its signer (ECDSA P-256, SHA-256). */
export interface NoteSigningKey {
  name: string;
  signer: Signer;
}

/** A key name: non-empty, no Unicode space, no plus. */
export const isValidKeyName = (name: string): boolean => name !== '' && !/[\s\u0085+]/u.test(name);

/** The checkpoint's note text. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (origin === '' || origin.includes('\n') || CONTROL.test(origin)) throw new NoteError('a checkpoint origin is one non-empty line without control characters');
  if (!Number.isSafeInteger(size) || size < 0) throw new NoteError(`a tree size is a non-negative safe integer, not ${size}`);
  if (rootHash.length !== HASH_SIZE) throw new NoteError(`a root hash has ${HASH_SIZE} bytes, not ${rootHash.length}`);
  for (const line of extensions) {
    if (line === '' || line.includes('\n') || CONTROL.test(line)) throw new NoteError('an extension line is one non-empty line without control characters');
  }
  return [origin, String(size), toBase64(rootHash), ...extensions].map((l) => `${l}\n`).join('');
}

/** A checkpoint's note text, strictly: three non-empty lines and non-empty extension lines, each ending in a newline. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new NoteError('a checkpoint ends with a newline');
  if (CONTROL.test(text)) throw new NoteError('a checkpoint has no control characters but newlines');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteError(`a checkpoint has at least 3 lines, not ${lines.length}`);
  if (lines.some((l) => l === '')) throw new NoteError('a checkpoint has no empty line');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!SIZE.test(sizeText)) throw new NoteError(`the tree size ${JSON.stringify(sizeText)} is not a decimal number without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new NoteError(`the tree size ${sizeText} is beyond 2^53 - 1`);
  const rootHash = decodeBase64Canonical(rootText);
  if (!rootHash || rootHash.length !== HASH_SIZE) throw new NoteError(`the root hash is not the base64 of ${HASH_SIZE} bytes`);
  return extensions.length ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature, without the key ID. */
  signature: Uint8Array;
}

export interface Note {
  /** The signed text, with its final newline. */
  text: string;
  signatures: NoteSignature[];
}

/** A signed note's text and signature lines, strictly, before any signature is checked. */
export function parseNote(note: string | Uint8Array): Note {
  let message: string;
  if (typeof note === 'string') message = note;
  else {
    try {
      message = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      throw new NoteError('a note is valid UTF-8');
    }
  }
  if (LONE_SURROGATE.test(message)) throw new NoteError('a note is valid UTF-8');
  if (CONTROL.test(message)) throw new NoteError('a note has no control characters but newlines');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('a note has a blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw new NoteError('a note ends with signature lines, each ending in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`a note has at most ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    const where = `signature line ${i + 1}`;
    if (!line.startsWith(EM_DASH_SPACE)) throw new NoteError(`${where} does not start with an em dash and a space`);
    const rest = line.slice(EM_DASH_SPACE.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name)) throw new NoteError(`${where} has no valid key name`);
    const bytes = decodeBase64Canonical(encoded);
    if (!bytes || bytes.length < 5) throw new NoteError(`${where} has no base64 key ID and signature`);
    const keyId = Buffer.from(bytes).readUInt32BE(0);
    return { name, keyId, signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/** The key ID the note specification recommends: SHA-256(key name || 0x0A || type || public key)[:4], big-endian. */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  return Buffer.from(sha256(Buffer.from(`${name}\n`), Uint8Array.of(type), publicKey)).readUInt32BE(0);
}

/** A note key as the verifier knows it: a vkey string, or a key name and public key (PEM, SPKI DER, or KeyObject). */
export type NoteKeyInput = string | { name: string; publicKey: string | Uint8Array | KeyObject };

export interface NoteKey {
  name: string;
  type: SignatureType;
  keyId: number;
  publicKey: KeyObject;
}

const spkiOf = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: 'der', type: 'spki' }));

/** A public key's signature type, key ID and verifier key: P-256 is type 0x02, Ed25519 0x01. */
export function noteKey(name: string, publicKey: string | Uint8Array | KeyObject): NoteKey {
  if (!isValidKeyName(name)) throw new NoteError(`${JSON.stringify(name)} is not a valid key name`);
  let key: KeyObject;
  try {
    key =
      typeof publicKey === 'string'
        ? createPublicKey(publicKey)
        : publicKey instanceof Uint8Array
          ? createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' })
          : publicKey;
  } catch (cause) {
    throw new NoteError(`not a public key: ${(cause as Error).message}`);
  }
  if (key.type === 'private') key = createPublicKey(key);
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { name, type: SIGNATURE_TYPE.ecdsa, keyId: Buffer.from(sha256(spkiOf(key))).readUInt32BE(0), publicKey: key };
  }
  if (key.asymmetricKeyType === 'ed25519') {
    return { name, type: SIGNATURE_TYPE.ed25519, keyId: keyId(name, SIGNATURE_TYPE.ed25519, rawEd25519(key)), publicKey: key };
  }
  throw new NoteError(`no note signature type here for a ${key.asymmetricKeyType} key ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
}

const rawEd25519 = (key: KeyObject): Uint8Array => spkiOf(key).subarray(-32);

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

/** The verifier key text: `<name>+<hex key ID>+base64(type || public key)`. */
export function formatVerifierKey(key: NoteKey): string {
  const material = key.type === SIGNATURE_TYPE.ecdsa ? spkiOf(key.publicKey) : rawEd25519(key.publicKey);
  return `${key.name}+${hex8(key.keyId)}+${toBase64(Buffer.concat([Uint8Array.of(key.type), material]))}`;
}

/** A verifier key text, checked: its key ID must be the one its name and key give. */
export function parseVerifierKey(vkey: string): NoteKey {
  const m = /^([^+]*)\+([0-9a-f]{8})\+(.*)$/s.exec(vkey);
  if (!m) throw new NoteError('a verifier key is <name>+<8 hex digits>+<base64>');
  const [, name, id, encoded] = m as unknown as [string, string, string, string];
  const bytes = decodeBase64Canonical(encoded);
  if (!bytes || bytes.length < 2) throw new NoteError('a verifier key ends with base64 of a type and a key');
  const type = bytes[0]!;
  const material = bytes.subarray(1);
  let key: NoteKey;
  if (type === SIGNATURE_TYPE.ecdsa) key = noteKey(name, material);
  else if (type === SIGNATURE_TYPE.ed25519 && material.length === 32) {
    key = noteKey(name, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(material).toString('base64url') }, format: 'jwk' }));
  } else throw new NoteError(`no verifier key of type ${type} here`);
  if (key.type !== type) throw new NoteError(`the verifier key's type is ${type}, its key's ${key.type}`);
  if (hex8(key.keyId) !== id) throw new NoteError(`the verifier key's ID is ${id}, its name and key give ${hex8(key.keyId)}`);
  return key;
}

const resolveKey = (input: NoteKeyInput | NoteKey): NoteKey =>
  typeof input === 'string' ? parseVerifierKey(input) : 'keyId' in input ? input : noteKey(input.name, input.publicKey);

/**
 * Signs a note text with a P-256 signer (type 0x02: the DER ECDSA signature of
 * the text's SHA-256 digest), under the key name given.
 */
/**
 * Signs a note text with one key, or with several (a log key and, during a
 * rotation, its predecessor): one signature line each, in the order given.
 */
export async function signNote(text: string, keys: NoteSigningKey | readonly NoteSigningKey[]): Promise<string> {
  const all = Array.isArray(keys) ? (keys as readonly NoteSigningKey[]) : [keys as NoteSigningKey];
  if (all.length === 0 || all.length > MAX_SIGNATURES) throw new NoteError(`a note is signed by 1 to ${MAX_SIGNATURES} keys`);
  if (!text.endsWith('\n')) throw new NoteError('a note text ends with a newline');
  if (CONTROL.test(text) || LONE_SURROGATE.test(text)) throw new NoteError('a note text is UTF-8 without control characters but newlines');
  const data = new Uint8Array(Buffer.from(text, 'utf8'));
  const lines = await Promise.all(
    all.map(async ({ name, signer }) => {
      if (signer.algorithm !== 'ECDSA_SHA_256') throw new NoteError(`notes are signed with ECDSA P-256 and SHA-256, not ${signer.algorithm}`);
      const { keyId: id } = noteKey(name, signer.publicKey);
      const signature = await signer.sign(data);
      const idBytes = Buffer.alloc(4);
      idBytes.writeUInt32BE(id);
      return `${EM_DASH_SPACE}${name} ${toBase64(Buffer.concat([idBytes, signature]))}\n`;
    }),
  );
  return `${text}\n${lines.join('')}`;
}

function verifySignature(key: NoteKey, text: string, signature: Uint8Array): boolean {
  const data = Buffer.from(text, 'utf8');
  try {
    return key.type === SIGNATURE_TYPE.ecdsa
      ? cryptoVerify('sha256', data, { key: key.publicKey, dsaEncoding: 'der' }, signature)
      : cryptoVerify(null, data, key.publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Opens a signed note with one known key and returns its text. As the note
 * specification says, signatures by other keys (another name, or the same name
 * with another key ID) are ignored; every signature by the known key must
 * verify, and at least one must be there.
 */
export function verifyNote(note: string | Uint8Array, keyInput: NoteKeyInput | NoteKey): string {
  const key = resolveKey(keyInput);
  const { text, signatures } = parseNote(note);
  const known = signatures.filter((s) => s.name === key.name && s.keyId === key.keyId);
  if (known.length === 0) {
    const sameName = signatures.find((s) => s.name === key.name);
    throw new NoteError(
      sameName
        ? `the signature by ${key.name} has key ID ${hex8(sameName.keyId)}, not the key's ${hex8(key.keyId)}`
        : `no signature by ${key.name} (signed by ${[...new Set(signatures.map((s) => s.name))].join(', ')})`,
    );
  }
  for (const s of known) {
    if (!verifySignature(key, text, s.signature)) throw new NoteError(`the signature by ${key.name} (${hex8(key.keyId)}) does not verify`);
  }
  return text;
}

/** Formats and signs a checkpoint. */
export const signCheckpoint = (checkpoint: Checkpoint, keys: NoteSigningKey | readonly NoteSigningKey[]): Promise<string> =>
  signNote(formatCheckpoint(checkpoint), keys);

/** Verifies a signed checkpoint and parses it; with `origin`, its origin must be that one. */
export function verifyCheckpoint(note: string | Uint8Array, key: NoteKeyInput | NoteKey, options: { origin?: string } = {}): Checkpoint {
  const checkpoint = parseCheckpoint(verifyNote(note, key));
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new NoteError(`the checkpoint's origin is ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(options.origin)}`);
  }
  return checkpoint;
}
