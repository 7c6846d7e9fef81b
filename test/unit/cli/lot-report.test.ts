import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';
import { verifyReport } from '../../../tools/verify-report.mjs';
import { deviceCertificates, lotLog, type DeviceCertificate, type LotLog } from '../log/lot-log.js';
import { captureIo } from './cli-io.js';
import { startLogApi, type LogApi, type LogApiOptions } from './log-api.js';

/**
 * `factory-ca lot report` against a stand-in of the API's log routes, answering
 * from a real log in memory; `factory-ca verify-report` on what it writes.
 */

const noSleep = { sleep: async () => {}, random: () => 0.5 };
let dir: string;
let devices: DeviceCertificate[];
let closed: LotLog;
let api: LogApi | undefined;

async function run(argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, { io, retry: noSleep });
  return { code, out: io.stdoutText(), err: io.stderrText() };
}

async function report(lot: LotLog, options: LogApiOptions = {}, extra: string[] = []) {
  api = await startLogApi(lot, options);
  const file = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  const r = await run(['lot', 'report', lot.lotId, '--url', api.url, '--out', file, ...extra]);
  return { ...r, file };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lot-report-'));
  devices = await deviceCertificates(7);
  closed = await lotLog({ devices, issue: 5, revoke: [1, 4], close: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('factory-ca lot report', () => {
  it('writes the report the log itself gives, byte for byte, and the verifier accepts it', async () => {
    const r = await report(closed, { pageSize: 2 });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote ${r.file}: lot LOT-2026-11-A, 5 certificates (2 revoked), tree size ${closed.log.size}, closed`);
    expect(r.out).toContain(`factory-ca verify-report ${r.file} --log-key`);
    const text = readFileSync(r.file, 'utf8');
    expect(text).toBe(await closed.text());
    expect(verifyReport(Buffer.from(text), closed.log.publicKeyPem).ok).toBe(true);
    // Every page of the list, every certificate's proof at the one tree size.
    expect(api!.seen.filter((s) => s.startsWith('/certificates'))).toHaveLength(3);
    expect(api!.seen.filter((s) => s.startsWith('/log/proof/') && s.endsWith(`?treeSize=${closed.log.size}`))).toHaveLength(5);
  });

  it('proves against an earlier checkpoint with --tree-size: the lot still open there, later revocations left out', async () => {
    const size = closed.certificates[4]!.index + 1;
    const r = await report(closed, { published: [size, closed.log.size] }, ['--tree-size', String(size)]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`5 certificates (0 revoked), tree size ${size}, open`);
    expect(readFileSync(r.file, 'utf8')).toBe(await closed.text(size));
  });

  it('refuses when a certificate of the lot is not in the checkpoint yet', async () => {
    const size = closed.certificates[3]!.index + 1;
    const r = await report(closed, { published: [size] });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`certificate ${closed.certificates[4]!.serialNumber} of lot LOT-2026-11-A is not sequenced in the log's checkpoint of size ${size} yet`);
  });

  it('refuses when the lot-opened entry is not in the checkpoint yet', async () => {
    const r = await report(closed, { published: [closed.openedIndex] });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`the lot-opened entry of lot LOT-2026-11-A is not sequenced in the log's checkpoint of size ${closed.openedIndex} yet`);
  });

  it('refuses when the list leaves out a certificate of the lot', async () => {
    const r = await report(closed, { unlisted: [closed.certificates[2]!.serialNumber] });
    expect(r.code).toBe(1);
    expect(r.err).toContain('the API listed 4 certificates of lot LOT-2026-11-A, but not the one of lotSeq 3');
  });

  it('refuses a --tree-size beyond the latest checkpoint, and says what the API answers for an unknown lot', async () => {
    const beyond = await report(closed, {}, ['--tree-size', String(closed.log.size + 5)]);
    expect(beyond.code).toBe(1);
    expect(beyond.err).toContain(`the log's latest checkpoint has size ${closed.log.size}, not ${closed.log.size + 5}`);
    await api!.close();
    api = await startLogApi(closed);
    const unknown = await run(['lot', 'report', 'NO-SUCH-LOT', '--url', api.url, '--out', join(dir, 'x.json')]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('NOT_FOUND (HTTP 404): no such lot');
  });

  it('needs --out', async () => {
    const r = await run(['lot', 'report', 'L', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("required option '--out <file>' not specified");
  });
});

describe('factory-ca verify-report', () => {
  it('prints the summary and exits 0 for a good report; every reason and 1 for a changed one', async () => {
    const file = join(dir, 'good.json');
    const key = join(dir, 'log.pem');
    writeFileSync(file, await closed.text());
    writeFileSync(key, closed.log.publicKeyPem);
    const ok = await run(['verify-report', file, '--log-key', key]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('OK lot LOT-2026-11-A: product sensor-x, quota 10');
    expect(ok.out).toContain('closed lot: its lot-closed entry states 5 certificates; the report is complete');
    expect((await run(['verify-report', file, '--log-key', closed.log.verifierKey])).code).toBe(0);

    const changed = JSON.parse(readFileSync(file, 'utf8')) as { certificates: unknown[] };
    changed.certificates.splice(1, 1);
    writeFileSync(join(dir, 'bad.json'), `${JSON.stringify(changed, null, 2)}\n`);
    const bad = await run(['verify-report', join(dir, 'bad.json'), '--log-key', key]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('FAILED certificate 2: its entry has lotSeq 3, not 2');
    expect(bad.err).toContain('FAILED closed: the lot-closed entry states 5 certificates, the report has 4');
  });

  it('says when the report cannot be read, and needs --log-key', async () => {
    const missing = await run(['verify-report', join(dir, 'none.json'), '--log-key', 'k']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read');
    const noKey = await run(['verify-report', join(dir, 'none.json')]);
    expect(noKey.code).toBe(1);
    expect(noKey.err).toContain("required option '--log-key <key>' not specified");
  });
});
