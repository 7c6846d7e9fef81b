#!/usr/bin/env node
// Verifies the issuance log's signed checkpoints and inclusion proofs, on its
// own: Node.js 20 or later and its standard library, nothing else.
//
//   node verify-log-proof.mjs --key log.pem [--name NAME] --checkpoint cp.txt
//   node verify-log-proof.mjs --key log.pem [--name NAME] --checkpoint cp.txt \
//        --index N --entry BASE64 --proof HEX,HEX,...
//   node verify-log-proof.mjs [--key log.pem] [--name NAME] --report report.json
//
// The checkpoint (c2sp.org/tlog-checkpoint) is a signed note (c2sp.org/signed-note):
// the lines origin, tree size and base64 root hash (and optional extension lines),
// a blank line, then lines "— <key name> <base64(4-byte key ID || signature)>".
// The log's key is an ECDSA P-256 key, note signature type 0x02: the signature is
// the DER ECDSA signature of the SHA-256 digest of the note text, and the key ID
// is the first 4 bytes of SHA-256(SubjectPublicKeyInfo DER). Ed25519 keys (type
// 0x01, key ID SHA-256(name || 0x0A || 0x01 || key)[:4]) are read too. The key
// name defaults to the checkpoint's origin. Signatures by other keys are ignored.
//
// An entry's leaf hash is SHA-256(0x00 || entry); interior nodes are
// SHA-256(0x01 || left || right); the audit path is verified as RFC 9162
// §2.1.3.2 says, against the checkpoint's tree size and root hash.
//
// The report file is JSON:
//   { "version": 1,
//     "origin": "<the log's origin, the checkpoint's first line>",
//     "checkpoint": "<the signed checkpoint note, as text>",
//     "publicKeyPem": "<optional: the log's public key, PEM>",
//     "entries": [ { "leafIndex": <number>, "entry": "<base64 of the logged entry>",
//                    "auditPath": ["<hex of a 32-byte hash>", ...] }, ... ],
//     "meta": { ...anything, not checked... } }
// --key overrides publicKeyPem; a key taken from the report itself only shows the
// report is consistent with it, so compare the printed key ID with the published one.
//
// It prints what it checked; on any failure it prints the reason and exits 1
// (2 for a wrong command line).
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

class Failure extends Error {}
const fail = (reason) => { throw new Failure(reason); };
const sha256 = (...parts) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };
const leafHash = (entry) => sha256(Buffer.of(0), entry);
const nodeHash = (left, right) => sha256(Buffer.of(1), left, right);

// Standard base64 in its one canonical form, or undefined.
function base64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

// The key's note signature type and key ID.
function noteKey(pem, name) {
  let key;
  try { key = createPublicKey(pem); } catch (e) { fail(`the public key is not readable: ${e.message}`); }
  const spki = key.export({ format: 'der', type: 'spki' });
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails.namedCurve === 'prime256v1') {
    return { name, key, type: 2, id: sha256(spki).readUInt32BE(0) };
  }
  if (key.asymmetricKeyType === 'ed25519') {
    return { name, key, type: 1, id: sha256(Buffer.from(`${name}\n`), Buffer.of(1), spki.subarray(-32)).readUInt32BE(0) };
  }
  fail(`the public key is neither ECDSA P-256 nor Ed25519`);
}
const hex8 = (id) => id.toString(16).padStart(8, '0');

// The signed note's text, once a signature by the known key verifies.
function verifyNote(note, known) {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) fail('the note has a control character');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('the note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) fail('the note does not end with signature lines');
  let verified = 0;
  for (const line of block.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    const sig = m && base64(m[2]);
    if (!m || m[1].includes('+') || !sig || sig.length < 5) fail(`malformed signature line: ${line}`);
    if (m[1] !== known.name) continue; // another key's signature: ignored
    const id = sig.readUInt32BE(0);
    if (id !== known.id) { console.log(`  (ignored: a signature by ${m[1]} with key ID ${hex8(id)})`); continue; }
    let ok = false;
    try {
      ok = known.type === 2
        ? verify('sha256', Buffer.from(text), { key: known.key, dsaEncoding: 'der' }, sig.subarray(4))
        : verify(null, Buffer.from(text), known.key, sig.subarray(4));
    } catch { /* a signature that does not even parse does not verify */ }
    if (!ok) fail(`the signature by ${known.name} (key ID ${hex8(known.id)}) does not verify`);
    verified++;
  }
  if (verified === 0) fail(`no signature by ${known.name} with key ID ${hex8(known.id)}`);
  return text;
}

// The checkpoint's lines: origin, tree size, root hash, extension lines.
function parseCheckpoint(text) {
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l === '')) fail('the note is not a checkpoint (origin, size, root hash lines)');
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) fail(`the tree size ${JSON.stringify(sizeText)} is not a decimal number`);
  const root = base64(rootText);
  if (!root || root.length !== 32) fail('the root hash is not the base64 of 32 bytes');
  return { origin, size: Number(sizeText), root };
}

// RFC 9162 §2.1.3.2: does the audit path lead from the leaf hash to the root?
function verifyInclusion(leaf, index, size, path, root) {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) return `leaf index ${index} is not in a tree of ${size}`;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return 'the audit path is too long';
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return 'the audit path is too short';
  return r.equals(root) ? undefined : 'the audit path does not lead to the checkpoint root hash';
}

function auditPath(list) {
  if (!Array.isArray(list)) fail('no audit path');
  return list.map((h) => (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? Buffer.from(h, 'hex') : fail(`audit path element ${JSON.stringify(h)} is not 64 hex digits`)));
}

function checkCheckpoint(note, pem, name, origin) {
  const firstLine = note.slice(0, note.indexOf('\n'));
  const known = noteKey(pem, name ?? origin ?? firstLine);
  const checkpoint = parseCheckpoint(verifyNote(note, known));
  if (origin !== undefined && checkpoint.origin !== origin) fail(`the checkpoint's origin is ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(origin)}`);
  console.log(`OK checkpoint: origin ${checkpoint.origin}, tree size ${checkpoint.size}, root ${checkpoint.root.toString('hex')}`);
  console.log(`   signed by ${known.name}, key ID ${hex8(known.id)} (${known.type === 2 ? 'ECDSA P-256, type 0x02' : 'Ed25519, type 0x01'})`);
  return checkpoint;
}

function checkEntry(checkpoint, label, index, entryBase64, path) {
  const entry = base64(entryBase64);
  if (!entry) fail(`${label}: the entry is not base64`);
  const leaf = leafHash(entry);
  const reason = verifyInclusion(leaf, index, checkpoint.size, path, checkpoint.root);
  if (reason) fail(`${label}: ${reason}`);
  console.log(`OK ${label}: leaf ${index} of ${checkpoint.size}, leaf hash ${leaf.toString('hex')}`);
}

function checkReport(file, pem, name) {
  let report;
  try { report = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { fail(`the report is not readable JSON: ${e.message}`); }
  if (report?.version !== 1) fail(`the report's version is ${JSON.stringify(report?.version)}, not 1`);
  if (typeof report.origin !== 'string' || typeof report.checkpoint !== 'string') fail('the report has no origin or checkpoint');
  if (!pem) {
    if (typeof report.publicKeyPem !== 'string') fail('no --key, and the report has no publicKeyPem');
    console.log('NOTE the key is the report\'s own publicKeyPem: compare its key ID with the log\'s published one');
    pem = report.publicKeyPem;
  }
  const checkpoint = checkCheckpoint(report.checkpoint, pem, name, report.origin);
  if (!Array.isArray(report.entries) || report.entries.length === 0) fail('the report has no entries');
  const seen = new Set();
  report.entries.forEach((e, i) => {
    const label = `entry ${i}`;
    if (!Number.isSafeInteger(e?.leafIndex)) fail(`${label}: no leafIndex`);
    if (seen.has(e.leafIndex)) fail(`${label}: leaf ${e.leafIndex} is in the report twice`);
    seen.add(e.leafIndex);
    if (e.auditPath === undefined) fail(`${label}: no auditPath`);
    checkEntry(checkpoint, label, e.leafIndex, e.entry, auditPath(e.auditPath));
  });
  console.log(`OK all ${report.entries.length} entries are in the log at tree size ${checkpoint.size}`);
}

function main() {
  const { values: o } = parseArgs({
    options: Object.fromEntries(['key', 'name', 'checkpoint', 'index', 'entry', 'proof', 'report'].map((k) => [k, { type: 'string' }])),
  });
  const pem = o.key === undefined ? undefined : readFileSync(o.key, 'utf8');
  if (o.report !== undefined) return checkReport(o.report, pem, o.name);
  if (o.checkpoint === undefined || pem === undefined) throw new TypeError('give --report FILE, or --key FILE.pem and --checkpoint FILE');
  const checkpoint = checkCheckpoint(readFileSync(o.checkpoint, 'utf8'), pem, o.name, undefined);
  if (o.entry === undefined && o.index === undefined && o.proof === undefined) return;
  if (o.entry === undefined || o.index === undefined || !/^(0|[1-9][0-9]*)$/.test(o.index)) throw new TypeError('an inclusion check takes --index N --entry BASE64 --proof HEX,... (an empty --proof for a tree of one)');
  if (o.proof === undefined) fail('entry: no audit path (--proof)');
  checkEntry(checkpoint, 'entry', Number(o.index), o.entry, auditPath(o.proof === '' ? [] : o.proof.split(',')));
}

try {
  main();
} catch (e) {
  console.error(e instanceof Failure ? `FAILED ${e.message}` : `usage error: ${e.message}`);
  process.exit(e instanceof Failure ? 1 : 2);
}
