import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCheckpoint } from '../../../src/log/checkpoint.js';
import { MemoryTree, inclusionProof } from '../../../src/log/merkle.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';

/**
 * tools/verify-log-proof.mjs, run as an auditor runs it: a separate Node
 * process with nothing but the files given to it.
 */

const ORIGIN = 'ca.example.com/issuance-log';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let dir: string;
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['tools/verify-log-proof.mjs', ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
};

const keyPair = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
  return { signer: createSoftwareSigner(privateKey), pem };
};
const log = keyPair();
const entries = Array.from({ length: 13 }, (_, i) => new TextEncoder().encode(JSON.stringify({ serial: `0a${i}`, device: `dev-${i}` })));
const tree = new MemoryTree();
for (const e of entries) tree.appendEntry(e);

interface Report {
  version: number;
  origin: string;
  checkpoint: string;
  publicKeyPem?: string;
  entries: Array<{ leafIndex: number; entry: string; auditPath?: string[] }>;
  meta: Record<string, unknown>;
}
let checkpoint: string;
let report: Report;
const reportFile = (r: unknown) => file(`report-${Math.random().toString(36).slice(2)}.json`, JSON.stringify(r, null, 2));
const clone = (): Report => JSON.parse(JSON.stringify(report));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'log-verify-'));
  checkpoint = await signCheckpoint({ origin: ORIGIN, size: tree.size, rootHash: tree.root() }, { name: ORIGIN, signer: log.signer });
  const pick = [0, 4, 7, 12];
  report = {
    version: 1,
    origin: ORIGIN,
    checkpoint,
    entries: await Promise.all(
      pick.map(async (i) => ({
        leafIndex: i,
        entry: Buffer.from(entries[i]!).toString('base64'),
        auditPath: (await inclusionProof(i, tree.size, tree)).map(hex),
      })),
    ),
    meta: { batch: 'B-17', station: 'line-3' },
  };
  file('log.pem', log.pem);
  file('other.pem', keyPair().pem);
  file('checkpoint.txt', checkpoint);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tools/verify-log-proof.mjs: reports', () => {
  it('verifies the checkpoint and every entry of a good report, and says what it checked', () => {
    const r = run('--report', reportFile(report), '--key', join(dir, 'log.pem'));
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toContain(`OK checkpoint: origin ${ORIGIN}, tree size 13, root ${hex(tree.root())}`);
    expect(r.out).toMatch(/signed by ca\.example\.com\/issuance-log, key ID [0-9a-f]{8} \(ECDSA P-256, type 0x02\)/);
    for (const i of [0, 4, 7, 12]) expect(r.out).toContain(`: leaf ${i} of 13`);
    expect(r.out).toContain('OK all 4 entries are in the log at tree size 13');
  });

  it("takes the report's own key when no --key is given, and says so", () => {
    const r = run('--report', reportFile({ ...report, publicKeyPem: log.pem }));
    expect(r.status).toBe(0);
    expect(r.out).toContain("NOTE the key is the report's own publicKeyPem");
  });

  const failures: Array<[string, (r: Report) => unknown, RegExp]> = [
    [
      'a changed entry byte',
      (r) => {
        const bytes = Buffer.from(r.entries[1]!.entry, 'base64');
        bytes[5]! ^= 0x01;
        r.entries[1]!.entry = bytes.toString('base64');
      },
      /FAILED entry 1: the audit path does not lead to the checkpoint root hash/,
    ],
    ['a removed proof', (r) => delete r.entries[2]!.auditPath, /FAILED entry 2: no auditPath/],
    ['a shortened proof', (r) => r.entries[2]!.auditPath!.pop(), /FAILED entry 2: the audit path is too short/],
    ['a changed proof byte', (r) => (r.entries[0]!.auditPath![1] = `f${r.entries[0]!.auditPath![1]!.slice(1)}`), /FAILED entry 0: the audit path does not lead/],
    [
      'an extra entry, not in the log, with another entry’s proof',
      (r) => r.entries.push({ ...r.entries[2]!, leafIndex: 11, entry: Buffer.from('{"serial":"ff"}').toString('base64') }),
      /FAILED entry 4: the audit path does not lead/,
    ],
    ['an entry at another index', (r) => (r.entries[1]!.leafIndex = 5), /FAILED entry 1: the audit path does not lead/],
    ['an index beyond the tree', (r) => (r.entries[3]!.leafIndex = 13), /FAILED entry 3: leaf index 13 is not in a tree of 13/],
    ['an entry twice', (r) => r.entries.push(r.entries[0]!), /FAILED entry 4: leaf 0 is in the report twice/],
    ['no entries', (r) => (r.entries = []), /FAILED the report has no entries/],
    ['another version', (r) => (r.version = 2), /FAILED the report's version is 2, not 1/],
    ['another origin', (r) => (r.origin = 'other.example/log'), /FAILED no signature by other\.example\/log/],
    [
      'a wrong checkpoint signature',
      (r) => {
        const at = r.checkpoint.lastIndexOf(' ') + 1;
        const sig = Buffer.from(r.checkpoint.slice(at).trimEnd(), 'base64');
        sig[20]! ^= 0x01;
        r.checkpoint = `${r.checkpoint.slice(0, at)}${sig.toString('base64')}\n`;
      },
      /FAILED the signature by ca\.example\.com\/issuance-log \(key ID [0-9a-f]{8}\) does not verify/,
    ],
    ['a changed tree size', (r) => (r.checkpoint = r.checkpoint.replace('\n13\n', '\n14\n')), /FAILED the signature .* does not verify/],
    ['an unsigned checkpoint', (r) => (r.checkpoint = r.checkpoint.slice(0, r.checkpoint.lastIndexOf('\n\n') + 1)), /FAILED the note has no blank line/],
  ];
  it.each(failures)('fails with the reason on %s', (_, change, reason) => {
    const r2 = clone();
    change(r2);
    const r = run('--report', reportFile(r2), '--key', join(dir, 'log.pem'));
    expect(r.status).toBe(1);
    expect(r.err).toMatch(reason);
  });

  it('fails on a wrong key, naming the key ID it looked for', () => {
    const r = run('--report', reportFile(report), '--key', join(dir, 'other.pem'));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/ignored: a signature by ca\.example\.com\/issuance-log with key ID/);
    expect(r.err).toMatch(/FAILED no signature by ca\.example\.com\/issuance-log with key ID [0-9a-f]{8}/);
  });

  it('fails on a file that is not JSON, and on a report without a key', () => {
    expect(run('--report', file('bad.json', '{"version":'), '--key', join(dir, 'log.pem')).err).toMatch(/FAILED the report is not readable JSON/);
    const r = run('--report', reportFile(report));
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/no --key, and the report has no publicKeyPem/);
  });
});

describe('tools/verify-log-proof.mjs: a checkpoint and one entry', () => {
  const key = () => join(dir, 'log.pem');
  const proofOf = async (i: number) => (await inclusionProof(i, tree.size, tree)).map(hex).join(',');

  it('verifies a checkpoint alone, its key name the origin unless --name says otherwise', () => {
    expect(run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key()).status).toBe(0);
    const r = run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--name', 'other.example/log');
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/no signature by other\.example\/log/);
  });

  it('verifies an entry at its index, and fails at another index, with a changed entry or without a proof', async () => {
    const entry = Buffer.from(entries[9]!).toString('base64');
    const proof = await proofOf(9);
    const ok = run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--index', '9', '--entry', entry, '--proof', proof);
    expect(ok.status).toBe(0);
    expect(ok.out).toContain('OK entry: leaf 9 of 13');
    expect(run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--index', '8', '--entry', entry, '--proof', proof).err).toMatch(/FAILED entry: the audit path does not lead/);
    const changed = Buffer.from(entries[9]!);
    changed[0]! ^= 1;
    expect(run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--index', '9', '--entry', changed.toString('base64'), '--proof', proof).status).toBe(1);
    expect(run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--index', '9', '--entry', entry).err).toMatch(/FAILED entry: no audit path/);
  });

  it('verifies a checkpoint of another log: Rekor, ECDSA P-256 type 0x02', () => {
    const spki = Buffer.from('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==', 'base64');
    const pem = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
    const note =
      'Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n\u2014 rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n';
    const r = run('--checkpoint', file('rekor.txt', note), '--key', file('rekor.pem', pem), '--name', 'rekor.sigstore.dev');
    expect(r.status).toBe(0);
    expect(r.out).toContain('key ID c0d23d6a');
  });

  it('exits 2 on a wrong command line', () => {
    expect(run().status).toBe(2);
    expect(run('--checkpoint', join(dir, 'checkpoint.txt'), '--key', key(), '--index', '01', '--entry', 'AA==').status).toBe(2);
    expect(run('--bogus').status).toBe(2);
  });
});
