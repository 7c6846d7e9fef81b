import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleLotReport, formatLotReport, type LotReport } from '../../../src/log/lot-report.js';
import { signNote } from '../../../src/log/checkpoint.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { verifyReport } from '../../../tools/verify-report.mjs';
import { deviceCertificates, entries, lotLog, ORIGIN, TestLog, type DeviceCertificate, type LotLog } from './lot-log.js';

/**
 * tools/verify-report.mjs, the auditor's verifier of a lot report, on reports
 * built from a real log in memory: real certificates, real proofs, a real
 * P-256 checkpoint signature.
 */

let devices: DeviceCertificate[];
let closed: LotLog;
let closedText: string;

const reasonsOf = (text: string | Buffer, key = closed.log.publicKeyPem): string[] => {
  const v = verifyReport(Buffer.from(text), key);
  return v.ok ? [] : v.reasons;
};
const textOf = (report: LotReport) => formatLotReport(report);
const clone = (text = closedText): LotReport => JSON.parse(text) as LotReport;

beforeAll(async () => {
  devices = await deviceCertificates(6);
  closed = await lotLog({ devices, issue: 4, revoke: [1, 3], close: true });
  closedText = await closed.text();
});

describe('Function: verifyReport, a good report', () => {
  it('verifies a closed lot with the PEM key and says it is complete', () => {
    const v = verifyReport(Buffer.from(closedText), closed.log.publicKeyPem);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.summary).toEqual({ lotId: 'LOT-2026-11-A', product: 'sensor-x', quota: 10, certificates: 4, revoked: 2, treeSize: closed.log.size, closed: true });
    expect(v.lines.join('\n')).toContain('closed lot: its lot-closed entry states 4 certificates; the report is complete');
  });

  it('verifies with the verifier key string', () => {
    expect(closed.log.verifierKey).toMatch(/^factory-ca\/test\+[0-9a-f]{8}\+/);
    expect(reasonsOf(closedText, closed.log.verifierKey)).toEqual([]);
  });

  it('verifies an open lot, and says later issuance is not covered', async () => {
    const open = await lotLog({ devices, issue: 4, revoke: [], close: false });
    const v = verifyReport(Buffer.from(await open.text()), open.log.publicKeyPem);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.lines.join('\n')).toContain('open lot: certificates 1..4 proven; later issuance not covered');
  });

  it('verifies a report at an earlier checkpoint: the lot not closed yet, its later certificates not in it', async () => {
    const size = closed.certificates[2]!.index + 1;
    const v = verifyReport(Buffer.from(await closed.text(size)), closed.log.publicKeyPem);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.summary).toMatchObject({ certificates: 3, revoked: 0, treeSize: size, closed: false });
  });

  it("ignores another key's signature on the checkpoint (a witness's cosignature)", async () => {
    const witness = await lotLog({ devices, issue: 1, revoke: [] });
    const cosigned = (await witness.log.checkpoint()).replace(/^(— \S+ )/m, (line) => line.replace(/\S+ $/, 'witness.example ')) ;
    const r = clone();
    r.checkpoint = `${r.checkpoint}${cosigned.slice(cosigned.lastIndexOf('\n\n') + 2)}`;
    expect(r.checkpoint.match(/^— /gm)).toHaveLength(2);
    expect(reasonsOf(textOf(r))).toEqual([]);
  });

  it('verifies a lot with no certificate', async () => {
    const empty = await lotLog({ devices, issue: 0, revoke: [], close: true });
    expect(reasonsOf(await empty.text(), empty.log.publicKeyPem)).toEqual([]);
  });
});

describe('Function: verifyReport, a changed report', () => {
  it('fails for every single byte changed, anywhere in the file', async () => {
    // A closed lot of two certificates, one revoked: every kind of field, in a file small enough to try every byte.
    const small = await lotLog({ devices, issue: 2, revoke: [1], close: true });
    const bytes = Buffer.from(await small.text());
    expect(verifyReport(bytes, small.log.publicKeyPem).ok).toBe(true);
    const passed: string[] = [];
    for (let at = 0; at < bytes.length; at++) {
      for (const mask of at % 5 === 0 ? [0x01, 0x20, 0x80] : [0x01]) {
        const changed = Buffer.from(bytes);
        changed[at]! ^= mask;
        if (verifyReport(changed, small.log.publicKeyPem).ok) passed.push(`byte ${at} ^ 0x${mask.toString(16)}`);
      }
    }
    expect(bytes.length).toBeGreaterThan(2500);
    expect(passed).toEqual([]);
  });

  it('fails when the file is re-indented, even with the same content', () => {
    expect(reasonsOf(JSON.stringify(clone(), null, 1) + '\n')).toEqual([expect.stringContaining('not in its canonical form')]);
    expect(reasonsOf(closedText.trimEnd())).toEqual([expect.stringContaining('not in its canonical form')]);
  });

  it.each([
    ['a key added', (r: LotReport) => Object.assign(r, { note: 'x' }), 'does not have exactly format, checkpoint'],
    ['another format', (r: LotReport) => Object.assign(r, { format: 'factory-ca/lot-report/v2' }), 'format is "factory-ca/lot-report/v2"'],
    ['a certificate with a key more', (r: LotReport) => Object.assign(r.certificates[0]!, { note: 1 }), 'certificate 1: not exactly certificatePem, leafIndex, entry, auditPath, revocation?'],
    ['a lot that is not an object', (r: LotReport) => Object.assign(r, { lot: 'LOT-2026-11-A' }), 'lot: not exactly leafIndex, entry, auditPath'],
    ['certificates that are not a list', (r: LotReport) => Object.assign(r, { certificates: {} }), 'certificates (a list)'],
    ['a checkpoint that is not text', (r: LotReport) => Object.assign(r, { checkpoint: 7 }), 'the checkpoint is not a signed note text'],
    ['a certificate that is not a certificate', (r: LotReport) => (r.certificates[0]!.certificatePem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), 'certificate 1: certificatePem is not a certificate'],
    ['a leaf index that is not a whole number', (r: LotReport) => (r.certificates[0]!.leafIndex = 2.5), 'certificate 1: the leaf index, the base64 entry or the hex audit path is malformed'],
    ['an upper-case audit path', (r: LotReport) => (r.certificates[0]!.auditPath[0] = r.certificates[0]!.auditPath[0]!.toUpperCase()), 'certificate 1: the leaf index, the base64 entry or the hex audit path is malformed'],
  ])('fails with %s', (_, change, reason) => {
    const r = clone();
    change(r);
    expect(reasonsOf(textOf(r))).toContainEqual(expect.stringContaining(reason));
  });
});

describe('Function: verifyReport, certificates missing or added', () => {
  it('fails when a certificate in the middle is left out: a lotSeq gap', async () => {
    const r = await closed.report(undefined, (p) => p.certificates.splice(1, 1));
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual('certificate 2: its entry has lotSeq 3, not 2: a certificate of the lot is missing, added or out of order');
  });

  it('fails when the last certificate of a closed lot is left out: the count of the lot-closed entry', async () => {
    const r = await closed.report(undefined, (p) => p.certificates.pop());
    expect(reasonsOf(textOf(r))).toEqual(['closed: the lot-closed entry states 4 certificates, the report has 3: the report is not complete']);
  });

  it('fails when the last certificate of a closed lot is left out with the last revocation: the count, and a revocation missing', async () => {
    const lot = await lotLog({ devices, issue: 4, revoke: [3, 0], close: true });
    const r = await lot.report(undefined, (p) => p.certificates.pop());
    expect(reasonsOf(textOf(r), lot.log.publicKeyPem)).toEqual([
      'closed: the lot-closed entry states 4 certificates, the report has 3: the report is not complete',
      "the revocations' lotRevocationSeq are not 1..1: a revocation of the lot is missing",
    ]);
  });

  it('fails when a revocation is left out of a closed lot', async () => {
    const r = await closed.report(undefined, (p) => delete p.certificates[1]!.revocation);
    expect(reasonsOf(textOf(r))).toEqual(["the revocations' lotRevocationSeq are not 1..1: a revocation of the lot is missing"]);
  });

  it('fails when a certificate that is not in the log is added', async () => {
    const stranger = (await deviceCertificates(1))[0]!;
    const r = clone();
    r.certificates.push({ ...r.certificates[3]!, certificatePem: stranger.pem });
    delete r.certificates[4]!.revocation;
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual(expect.stringContaining('certificate 5: leaf'));
    expect(reasons).toContainEqual(expect.stringContaining("certificate 5: the certificate's serial number"));
  });

  it("fails when another lot's certificate is added, with its own entry and proof", async () => {
    const other = closed.strangers[0]!;
    const r = clone();
    r.certificates.push({ certificatePem: other.pem, ...(await closed.log.prove(other.index)) });
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual('certificate 5: its entry is of lot "LOT-OTHER", not "LOT-2026-11-A"');
    expect(reasons).toContainEqual('certificate 5: its entry has lotSeq 1, not 5: a certificate of the lot is missing, added or out of order');
  });

  it('fails when a certificate of no lot is added', async () => {
    const loose = closed.strangers[1]!;
    const r = clone();
    r.certificates.splice(2, 0, { certificatePem: loose.pem, ...(await closed.log.prove(loose.index)) });
    expect(reasonsOf(textOf(r))).toContainEqual('certificate 3: its entry is of lot undefined, not "LOT-2026-11-A"');
  });

  it('fails when a certificate is in the report twice', () => {
    const r = clone();
    r.certificates.splice(1, 0, r.certificates[0]!);
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual(expect.stringContaining('certificate 2: leaf'));
    expect(reasons).toContainEqual(expect.stringContaining('in the report twice'));
  });

  it('fails when the certificates are out of lotSeq order', () => {
    const r = clone();
    [r.certificates[0], r.certificates[1]] = [r.certificates[1]!, r.certificates[0]!];
    expect(reasonsOf(textOf(r))).toContainEqual(expect.stringContaining('certificate 1: its entry has lotSeq 2, not 1'));
  });
});

describe('Function: verifyReport, keys, quota and proofs', () => {
  it('fails with another key, PEM or verifier key', async () => {
    const otherPem = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).export({ format: 'pem', type: 'spki' }).toString();
    expect(reasonsOf(closedText, otherPem)).toEqual([expect.stringMatching(/^the checkpoint has no signature by the log key factory-ca\/test \(key ID [0-9a-f]{8}\)$/)]);
    const other = await lotLog({ devices, issue: 1, revoke: [] });
    expect(reasonsOf(closedText, other.log.verifierKey)).toEqual([expect.stringContaining('no signature by the log key')]);
    const renamed = closed.log.verifierKey.replace(/^factory-ca\/test/, 'someone-else');
    expect(reasonsOf(closedText, renamed)).toEqual([expect.stringContaining('no signature by the log key someone-else')]);
  });

  it('fails with a key that is not a P-256 key or not a key', () => {
    const ed = createPublicKey(generateKeyPairSync('ed25519').privateKey).export({ format: 'pem', type: 'spki' }).toString();
    expect(reasonsOf(closedText, ed)).toEqual(['the log key is not an ECDSA P-256 key']);
    expect(reasonsOf(closedText, 'nonsense')).toEqual([expect.stringContaining('neither a PEM public key nor a verifier key')]);
  });

  it('fails when the lot has more certificates than its quota', async () => {
    const over = await lotLog({ devices, quota: 3, issue: 4, revoke: [] });
    expect(reasonsOf(await over.text(), over.log.publicKeyPem)).toEqual(['the lot has 4 certificates, over its quota of 3']);
  });

  it("fails when two certificates' proofs are swapped", () => {
    const r = clone();
    const [a, b] = [r.certificates[0]!, r.certificates[2]!];
    [a.auditPath, b.auditPath] = [b.auditPath, a.auditPath];
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual(expect.stringContaining("certificate 1: the audit path of leaf"));
    expect(reasons).toContainEqual(expect.stringContaining("certificate 3: the audit path of leaf"));
  });

  it("fails when two certificates' PEMs are swapped, each keeping the other's entry and proof", () => {
    const r = clone();
    const [a, b] = [r.certificates[0]!, r.certificates[2]!];
    [a.certificatePem, b.certificatePem] = [b.certificatePem, a.certificatePem];
    const reasons = reasonsOf(textOf(r));
    expect(reasons).toContainEqual(expect.stringMatching(/^certificate 1: the certificate's serial number [0-9a-f]+ is not its entry's/));
    expect(reasons).toContainEqual("certificate 3: the certificate's SHA-256 is not its entry's certificateSha256");
  });

  it("fails when a certificate's revocation is another certificate's", () => {
    const r = clone();
    r.certificates[0]!.revocation = r.certificates[1]!.revocation;
    delete r.certificates[1]!.revocation;
    expect(reasonsOf(textOf(r))).toContainEqual('certificate 1 revocation: its entry is not of this certificate');
  });

  it('fails when the lot entry is not a lot-opened entry, or the closed entry is another lot\'s', async () => {
    const r = clone();
    r.lot = await closed.log.prove(closed.certificates[0]!.index);
    expect(reasonsOf(textOf(r))).toContainEqual('lot: the entry is not a v1 lot-opened entry');
    const s = clone();
    s.closed = await closed.log.prove(closed.log.size - 1);
    expect(reasonsOf(textOf(s))).toContainEqual(expect.stringContaining('closed: the lot-closed entry is of lot "LOT-OTHER"'));
  });

  it('fails for an entry that proves but is not in the form the log writes', async () => {
    const lot = await lotLog({ devices, issue: 0, revoke: [], close: false });
    const index = lot.log.append({ type: 'lot-opened', v: 1, lotId: 'L', product: 'p', quota: 1, closesAt: 'x', openedAt: 'y' });
    const r = await lot.report();
    r.lot = await lot.log.prove(index);
    expect(reasonsOf(textOf(r), lot.log.publicKeyPem)).toEqual(['lot: the entry is not in the form the log writes']);
  });
});

describe('tools/verify-report.mjs, the command', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'verify-report-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, ['tools/verify-report.mjs', ...args], { encoding: 'utf8' });

  it("is short enough to read, and needs nothing but Node's standard library", () => {
    const source = readFileSync('tools/verify-report.mjs', 'utf8');
    expect(source.split('\n').length - 1).toBeLessThan(200);
    expect([...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]).every((m) => m!.startsWith('node:'))).toBe(true);
  });

  it('prints the summary and exits 0; prints each reason and exits 1; a wrong command line exits 2', () => {
    writeFileSync(join(dir, 'report.json'), closedText);
    writeFileSync(join(dir, 'log.pem'), closed.log.publicKeyPem);
    const ok = run(join(dir, 'report.json'), '--log-key', join(dir, 'log.pem'));
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('OK lot LOT-2026-11-A: product sensor-x, quota 10');
    expect(ok.stdout).toContain('4 certificates (lotSeq 1..4), 2 revoked');
    expect(run(join(dir, 'report.json'), '--log-key', closed.log.verifierKey).status).toBe(0);
    writeFileSync(join(dir, 'log.vkey'), `${closed.log.verifierKey}\n`);
    expect(run(join(dir, 'report.json'), '--log-key', join(dir, 'log.vkey')).status).toBe(0);
    const r = clone();
    r.certificates.pop();
    writeFileSync(join(dir, 'short.json'), textOf(r));
    const bad = run(join(dir, 'short.json'), '--log-key', join(dir, 'log.pem'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('FAILED closed: the lot-closed entry states 4 certificates, the report has 3');
    expect(run(join(dir, 'report.json')).status).toBe(2);
  });
});

describe('Function: verifyReport, a log that breaks the lot rules', () => {
  /**
   * A report built, with real proofs and a real signature, from a log whose
   * entries are appended by `write`: it returns the lot-opened index, the
   * lot-closed index if any, and the lot's certificates in lotSeq order.
   */
  async function reportOf(write: (log: TestLog) => { opened: number; closed?: number; certificates: Array<{ device: DeviceCertificate; index: number; revocation?: number }> }) {
    const log = new TestLog();
    const { opened, closed: closedAt, certificates } = write(log);
    const report = assembleLotReport({
      checkpoint: await log.checkpoint(),
      lot: await log.prove(opened),
      ...(closedAt !== undefined ? { closed: await log.prove(closedAt) } : {}),
      certificates: await Promise.all(
        certificates.map(async (c) => ({ certificatePem: c.device.pem, issued: await log.prove(c.index), ...(c.revocation !== undefined ? { revocation: await log.prove(c.revocation) } : {}) })),
      ),
    });
    return reasonsOf(formatLotReport(report), log.publicKeyPem);
  }
  const L = 'LOT-RULES';

  it('refuses a certificate logged after the lot-closed entry', async () => {
    const reasons = await reportOf((log) => {
      const opened = log.append(entries.lotOpened(L, 5));
      const a = log.append(entries.issued(devices[0]!, L, 1));
      const closedAt = log.append(entries.lotClosed(L, 2));
      const b = log.append(entries.issued(devices[1]!, L, 2));
      return { opened, closed: closedAt, certificates: [{ device: devices[0]!, index: a }, { device: devices[1]!, index: b }] };
    });
    expect(reasons).toEqual(['certificate 2: logged after the lot-closed entry']);
  });

  it('refuses a revocation logged before the issuance it revokes', async () => {
    const reasons = await reportOf((log) => {
      const opened = log.append(entries.lotOpened(L, 5));
      const revocation = log.append(entries.revoked(devices[0]!, L, 1));
      const a = log.append(entries.issued(devices[0]!, L, 1));
      return { opened, certificates: [{ device: devices[0]!, index: a, revocation }] };
    });
    expect(reasons).toEqual(["certificate 1 revocation: logged before the certificate's issuance"]);
  });

  it('refuses two revocations with one lotRevocationSeq, and a revocation entry of another lot', async () => {
    const twice = await reportOf((log) => {
      const opened = log.append(entries.lotOpened(L, 5));
      const a = log.append(entries.issued(devices[0]!, L, 1));
      const b = log.append(entries.issued(devices[1]!, L, 2));
      return { opened, certificates: [
        { device: devices[0]!, index: a, revocation: log.append(entries.revoked(devices[0]!, L, 1)) },
        { device: devices[1]!, index: b, revocation: log.append(entries.revoked(devices[1]!, L, 1)) },
      ] };
    });
    expect(twice).toContain('two revocations have the same lotRevocationSeq');
    const other = await reportOf((log) => {
      const opened = log.append(entries.lotOpened(L, 5));
      const a = log.append(entries.issued(devices[0]!, L, 1));
      return { opened, certificates: [{ device: devices[0]!, index: a, revocation: log.append(entries.revoked(devices[0]!, 'LOT-OTHER', 1)) }] };
    });
    expect(other).toEqual(['certificate 1 revocation: its entry is of lot "LOT-OTHER"']);
  });

  it('verifies a checkpoint co-signed by the log key and its predecessor with either key, and with no other', async () => {
    const previous = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
    const r = clone();
    const text = r.checkpoint.slice(0, r.checkpoint.indexOf('\n\n') + 1);
    r.checkpoint = await signNote(text, [{ name: ORIGIN, signer: closed.log.signer }, { name: ORIGIN, signer: previous }]);
    expect(r.checkpoint.match(/^— /gm)).toHaveLength(2);
    const previousPem = createPublicKey({ key: Buffer.from(previous.publicKey), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
    expect(reasonsOf(textOf(r), closed.log.publicKeyPem)).toEqual([]);
    expect(reasonsOf(textOf(r), previousPem)).toEqual([]);
    const stranger = createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).export({ format: 'pem', type: 'spki' }).toString();
    expect(reasonsOf(textOf(r), stranger)).toEqual([expect.stringMatching(/^the checkpoint has no signature by the log key factory-ca\/test \(key ID [0-9a-f]{8}\)$/)]);
  });
});
