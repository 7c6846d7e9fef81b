#!/usr/bin/env node
// Verifies a lot report of factory-ca's issuance log, on its own: Node.js 20 or
// later and its standard library, nothing else.
//
//   node verify-report.mjs REPORT.json --log-key PUBKEY
//
// PUBKEY: a PEM file of the log's P-256 public key (SPKI; its key name is the
// checkpoint's origin) or a signed-note verifier key name+hex key ID+base64
// (as is, or in a file). The report (`factory-ca lot report`) is a checkpoint
// signed by the log (c2sp.org/tlog-checkpoint, note signature type 0x02) and
// log entries, each with its leaf index and RFC 9162 audit path to it. Every
// check is in verifyReport, in order. Exit status: 0 verified (a summary is
// printed), 1 not (every reason is printed), 2 a wrong command line.
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const FORMAT = 'factory-ca/lot-report/v1';
const sha256 = (...parts) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };
const nodeHash = (left, right) => sha256(Buffer.of(1), left, right);
const hex8 = (id) => id.toString(16).padStart(8, '0');
const isObject = (o) => typeof o === 'object' && o !== null && !Array.isArray(o);
const isCount = (n) => Number.isSafeInteger(n) && n >= 0;
class Failure extends Error {}

// Standard base64 in its one canonical form, or undefined.
function base64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

// Exactly these keys, in this order ("k?" when optional).
function hasKeys(o, keys) {
  const want = isObject(o) && keys.filter((k) => !k.endsWith('?') || k.slice(0, -1) in o).map((k) => k.replace('?', ''));
  return want && JSON.stringify(Object.keys(o)) === JSON.stringify(want);
}

// The log key (ECDSA P-256): a PEM public key under the name `origin`, or a verifier key.
function logKey(text, origin) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim());
  const [name, id, material] = m ? [m[1], m[2], base64(m[3])] : [origin];
  let key;
  if (m && material?.[0] !== 2) throw new Failure('the verifier key is not of an ECDSA key (type 0x02)');
  try {
    key = m ? createPublicKey({ key: material.subarray(1), format: 'der', type: 'spki' }) : createPublicKey(text);
  } catch (e) { throw new Failure(`the log key is neither a PEM public key nor a verifier key name+hex+base64: ${e.message}`); }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails.namedCurve !== 'prime256v1') throw new Failure('the log key is not an ECDSA P-256 key');
  const keyId = sha256(key.export({ format: 'der', type: 'spki' })).readUInt32BE(0);
  if (id !== undefined && id !== hex8(keyId)) throw new Failure(`the verifier key's ID ${id} is not its key's ${hex8(keyId)}`);
  return { name, key, id: keyId };
}

// The checkpoint's size and root hash, once a signature by the log key verifies (other keys' are ignored).
function openCheckpoint(note, keyText) {
  if (typeof note !== 'string' || /[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new Failure('the checkpoint is not a signed note text');
  const split = note.lastIndexOf('\n\n');
  const [text, block] = [note.slice(0, split + 1), note.slice(split + 2)];
  if (split < 0 || !block.endsWith('\n')) throw new Failure('the checkpoint is not a text, a blank line, and signature lines');
  const lines = text.slice(0, -1).split('\n');
  const known = logKey(keyText, lines[0]);
  let verified = 0;
  for (const line of block.slice(0, -1).split('\n')) {
    const m = /^\u2014 ([^+\s]+) (\S+)$/u.exec(line);
    const sig = m && base64(m[2]);
    if (!sig || sig.length < 5) throw new Failure(`the checkpoint has a malformed signature line: ${line}`);
    if (m[1] !== known.name || sig.readUInt32BE(0) !== known.id) continue;
    let ok = false;
    try { ok = verify('sha256', Buffer.from(text), { key: known.key, dsaEncoding: 'der' }, sig.subarray(4)); } catch { /* does not verify */ }
    if (!ok) throw new Failure(`the checkpoint signature by ${known.name} (key ID ${hex8(known.id)}) does not verify`);
    verified++;
  }
  if (!verified) throw new Failure(`the checkpoint has no signature by the log key ${known.name} (key ID ${hex8(known.id)})`);
  const root = base64(lines[2]);
  if (lines.length < 3 || lines.includes('') || !/^(0|[1-9][0-9]*)$/.test(lines[1]) || !isCount(Number(lines[1])) || !root || root.length !== 32) throw new Failure('the signed note is not a checkpoint');
  return { origin: lines[0], size: Number(lines[1]), root, signer: `${known.name} (key ID ${hex8(known.id)})` };
}

// RFC 9162 §2.1.3.2: the audit path leads from the leaf hash to the root.
function included(leaf, index, size, path, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// Every entry's keys, in the order the log writes them.
const ENTRY_KEYS = {
  'lot-opened': ['v', 'type', 'lotId', 'product', 'quota', 'commonNamePattern?', 'stations?', 'closesAt', 'openedAt'],
  issued: ['v', 'type', 'serialNumber', 'certificateSha256', 'issuingCaId', 'commonName?', 'stationId', 'issuedAt', 'lotId?', 'lotSeq?', 'replaces?'],
  revoked: ['v', 'type', 'serialNumber', 'certificateSha256', 'issuingCaId', 'reason', 'revokedAt', 'lotId?', 'lotRevocationSeq?'],
  'lot-closed': ['v', 'type', 'lotId', 'closedAt', 'issued'],
};

/** Checks a report's bytes against the log key (PEM text or verifier key); returns the reasons it fails, or its summary. */
export function verifyReport(bytes, keyText) {
  const reasons = [];
  const fail = (reason) => void reasons.push(reason);
  let report;
  try { report = JSON.parse(Buffer.from(bytes).toString('utf8')); } catch (e) { return { ok: false, reasons: [`the report is not JSON: ${e.message}`] }; }
  if (!Buffer.from(`${JSON.stringify(report, null, 2)}\n`).equals(Buffer.from(bytes))) fail('the report is not in its canonical form (JSON.stringify(report, null, 2) and a newline): it was changed after it was written');
  if (!hasKeys(report, ['format', 'checkpoint', 'lot', 'closed?', 'certificates']) || !Array.isArray(report.certificates)) {
    return { ok: false, reasons: [...reasons, 'the report does not have exactly format, checkpoint, lot, closed (optional) and certificates (a list)'] };
  }
  if (report.format !== FORMAT) fail(`the report's format is ${JSON.stringify(report.format)}, not ${FORMAT}`);
  let checkpoint;
  try { checkpoint = openCheckpoint(report.checkpoint, keyText); } catch (e) { if (e instanceof Failure) fail(e.message); else throw e; }
  const leaves = new Set();

  // One proven entry: its shape, its exact logged form, its audit path; the parsed entry, or undefined.
  function proven(item, where, type, keys = ['leafIndex', 'entry', 'auditPath']) {
    if (!hasKeys(item, keys)) return fail(`${where}: not exactly ${keys.join(', ')}`);
    const entry = base64(item.entry);
    const path = Array.isArray(item.auditPath) && item.auditPath.every((h) => /^[0-9a-f]{64}$/.test(h)) ? item.auditPath.map((h) => Buffer.from(h, 'hex')) : undefined;
    if (!isCount(item.leafIndex) || !entry || !path) return fail(`${where}: the leaf index, the base64 entry or the hex audit path is malformed`);
    if (leaves.has(item.leafIndex)) fail(`${where}: leaf ${item.leafIndex} is in the report twice`);
    leaves.add(item.leafIndex);
    if (checkpoint && !included(sha256(Buffer.of(0), entry), item.leafIndex, checkpoint.size, path, checkpoint.root)) fail(`${where}: the audit path of leaf ${item.leafIndex} does not lead to the checkpoint's root (tree size ${checkpoint.size})`);
    let e;
    try { e = JSON.parse(entry.toString('utf8')); } catch { return fail(`${where}: the entry is not JSON`); }
    if (!isObject(e) || e.type !== type || e.v !== 1) return fail(`${where}: the entry is not a v1 ${type} entry`);
    if (!hasKeys(e, ENTRY_KEYS[type]) || JSON.stringify(e) !== entry.toString('utf8')) return fail(`${where}: the entry is not in the form the log writes`);
    return e;
  }

  const lot = proven(report.lot, 'lot', 'lot-opened');
  const lotId = lot?.lotId;
  if (lot && (typeof lotId !== 'string' || !isCount(lot.quota))) fail('lot: the lot-opened entry has no lot id or quota');
  const serials = new Set();
  const revocationSeqs = [];
  let revoked = 0;
  report.certificates.forEach((c, i) => {
    const where = `certificate ${i + 1}`;
    const e = proven(c, where, 'issued', ['certificatePem', 'leafIndex', 'entry', 'auditPath', 'revocation?']);
    if (!e) return;
    if (e.lotId !== lotId) fail(`${where}: its entry is of lot ${JSON.stringify(e.lotId)}, not ${JSON.stringify(lotId)}`);
    if (e.lotSeq !== i + 1) fail(`${where}: its entry has lotSeq ${e.lotSeq}, not ${i + 1}: a certificate of the lot is missing, added or out of order`);
    if (serials.has(e.serialNumber)) fail(`${where}: serial number ${e.serialNumber} is in the report twice`);
    serials.add(e.serialNumber);
    let cert;
    try { cert = new X509Certificate(c.certificatePem); } catch { fail(`${where}: certificatePem is not a certificate`); }
    if (cert && cert.toString() !== c.certificatePem) fail(`${where}: certificatePem is not in its canonical PEM form`);
    if (cert && cert.serialNumber.toLowerCase() !== e.serialNumber) fail(`${where}: the certificate's serial number ${cert.serialNumber.toLowerCase()} is not its entry's ${e.serialNumber}`);
    if (cert && sha256(cert.raw).toString('hex') !== e.certificateSha256) fail(`${where}: the certificate's SHA-256 is not its entry's certificateSha256`);
    if (report.closed && c.leafIndex > report.closed.leafIndex) fail(`${where}: logged after the lot-closed entry`);
    if (!('revocation' in c)) return;
    const r = proven(c.revocation, `${where} revocation`, 'revoked');
    if (!r) return;
    revoked++;
    if (r.serialNumber !== e.serialNumber || r.certificateSha256 !== e.certificateSha256 || r.issuingCaId !== e.issuingCaId) fail(`${where} revocation: its entry is not of this certificate`);
    if (r.lotId !== undefined && r.lotId !== lotId) fail(`${where} revocation: its entry is of lot ${JSON.stringify(r.lotId)}`);
    if (c.revocation.leafIndex < c.leafIndex) fail(`${where} revocation: logged before the certificate's issuance`);
    if (r.lotRevocationSeq !== undefined) revocationSeqs.push(r.lotRevocationSeq);
  });
  const count = report.certificates.length;
  if (lot && isCount(lot.quota) && count > lot.quota) fail(`the lot has ${count} certificates, over its quota of ${lot.quota}`);
  if (new Set(revocationSeqs).size !== revocationSeqs.length) fail('two revocations have the same lotRevocationSeq');
  const closed = 'closed' in report ? proven(report.closed, 'closed', 'lot-closed') : undefined;
  if (closed && closed.lotId !== lotId) fail(`closed: the lot-closed entry is of lot ${JSON.stringify(closed.lotId)}, not ${JSON.stringify(lotId)}`);
  if (closed && closed.issued !== count) fail(`closed: the lot-closed entry states ${closed.issued} certificates, the report has ${count}: the report is not complete`);
  if (closed && revocationSeqs.some((s) => !isCount(s) || s < 1 || s > revocationSeqs.length)) fail(`the revocations' lotRevocationSeq are not 1..${revocationSeqs.length}: a revocation of the lot is missing`);
  if (reasons.length || !lot || !checkpoint) return { ok: false, reasons: reasons.length ? reasons : ['the report does not verify'] };
  return {
    ok: true,
    reasons: [],
    summary: { lotId, product: lot.product, quota: lot.quota, certificates: count, revoked, treeSize: checkpoint.size, closed: Boolean(closed) },
    lines: [
      `OK lot ${lotId}: product ${lot.product}, quota ${lot.quota}`,
      `   ${count} certificates (lotSeq 1..${count}), ${revoked} revoked, all in the log`,
      `   checkpoint: ${checkpoint.origin}, tree size ${checkpoint.size}, signed by ${checkpoint.signer}`,
      closed ? `   closed lot: its lot-closed entry states ${count} certificates; the report is complete`
        : `   open lot: certificates 1..${count} proven; later issuance not covered`,
    ],
  };
}

/** The --log-key argument's text: the file's content when it names a file, else the argument (a verifier key). */
export const readLogKeyArgument = (arg) => (existsSync(arg) ? readFileSync(arg, 'utf8') : arg);

function main() {
  const { values, positionals } = parseArgs({ options: { 'log-key': { type: 'string' } }, allowPositionals: true });
  if (positionals.length !== 1 || !values['log-key']) throw new TypeError('node verify-report.mjs REPORT.json --log-key PUBKEY (a PEM file or a verifier key)');
  const result = verifyReport(readFileSync(positionals[0]), readLogKeyArgument(values['log-key']));
  for (const line of result.ok ? result.lines : result.reasons.map((r) => `FAILED ${r}`)) (result.ok ? console.log : console.error)(line);
  return result.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try { process.exitCode = main(); } catch (e) { console.error(`usage error: ${e.message}`); process.exitCode = 2; }
}
