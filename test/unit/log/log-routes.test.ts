/**
 * The issuance log's routes and sequencer job on the in-memory log ledger:
 * what a client reads, its status codes, and the job's metrics.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { LogReadingFunction } from '../../../src/compose/log.js';
import { getLogCheckpointRoute, getLogConsistencyRoute, getLogEntryRoute, getLogProofRoute } from '../../../src/http/log-routes.js';
import { logJob } from '../../../src/jobs/log-job.js';
import { noteKey, verifyCheckpoint } from '../../../src/log/checkpoint.js';
import { decodeEntry } from '../../../src/log/entries.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { sequenceLog, type LogSequencerDeps } from '../../../src/service/log-sequencer.js';
import type { CertificateRecord } from '../../../src/service/ports.js';
import { apiEvent, lambdaContext } from '../../helpers/api.js';
import { certificate } from '../../helpers/ledger-records.js';
import { MemoryLogStore } from '../../helpers/memory-log-store.js';
import { rfcLeafHash, rfcVerifyConsistency, rfcVerifyInclusion } from '../../helpers/rfc9162.js';
import { memoryLogger, memoryMetrics, type RouteHandler } from '../../helpers/test-app.js';

const ORIGIN = 'factory-ca/unit';
const signer = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
const KEY = noteKey(ORIGIN, signer.publicKey);

let ledger: MemoryLogStore;
let fn: LogReadingFunction;
let deps: LogSequencerDeps;
let n = 0;
const cert = (overrides: Partial<CertificateRecord> = {}): CertificateRecord => {
  const serialNumber = `5a${(++n).toString(16).padStart(6, '0')}`;
  return certificate({ serialNumber, certificateId: createHash('sha256').update(serialNumber).digest('hex'), ...overrides });
};

beforeEach(() => {
  ledger = new MemoryLogStore();
  fn = { obs: { logger: memoryLogger(), metrics: memoryMetrics() }, http: { maxBodyBytes: 65536, trustStationHeader: false, trustClientCertHeader: false }, guards: [], publicGuards: [], log: { ledger } };
  deps = { ledger, logSigner: async () => signer, origin: ORIGIN, clock: () => new Date('2026-03-01T00:00:00.000Z'), claimLeaseMs: 120_000 };
});

const call = async (route: RouteHandler, init: Parameters<typeof apiEvent>[0]) => {
  const res = await route(apiEvent(init), lambdaContext());
  return { ...res, json: String(res.headers?.['Content-Type'] ?? '').startsWith('application/json') ? (JSON.parse(res.body) as Record<string, any>) : undefined };
};
const hexes = (a: string[]) => a.map((h) => Buffer.from(h, 'hex'));

describe('Routes: the issuance log', () => {
  it('answers 503 CA_NOT_READY for the checkpoint before the first run, then the signed note', async () => {
    const route = getLogCheckpointRoute(fn) as unknown as RouteHandler;
    expect((await call(route, {})).json).toMatchObject({ error: { code: 'CA_NOT_READY' } });
    await sequenceLog(deps);
    const note = await call(route, {});
    expect(note.statusCode).toBe(200);
    expect(note.headers?.['Content-Type']).toMatch(/^text\/plain/);
    expect(verifyCheckpoint(note.body, KEY, { origin: ORIGIN }).size).toBe(0);
    const asJson = await call(route, { headers: { accept: 'application/json' } });
    expect(asJson.json).toStrictEqual({ checkpoint: note.body, treeSize: 0, rootHash: createHash('sha256').digest('hex') });
  });

  it('proves a certificate and its revocation against the latest checkpoint, and against an earlier one', async () => {
    // Prepare
    const records = [cert(), cert(), cert()];
    records.forEach((r) => ledger.putCertificate(r));
    await sequenceLog(deps);
    ledger.revoke(records[1]!.serialNumber, '2026-03-01T00:00:01.000Z', 'keyCompromise');
    ledger.putCertificate(cert());
    await sequenceLog(deps);
    const route = getLogProofRoute(fn) as unknown as RouteHandler;

    // Act
    const latest = await call(route, { pathParameters: { serialNumber: records[1]!.serialNumber } });
    const earlier = await call(route, { pathParameters: { serialNumber: records[1]!.serialNumber }, query: { treeSize: '3' } });

    // Assess
    expect(latest.statusCode).toBe(200);
    const cp = verifyCheckpoint(latest.json!.checkpoint, KEY);
    expect(latest.json).toMatchObject({ leafIndex: 1, treeSize: 5 });
    const entry = Buffer.from(latest.json!.entry, 'base64');
    expect(decodeEntry(entry)).toMatchObject({ type: 'issued', serialNumber: records[1]!.serialNumber });
    expect(latest.json!.leafHash).toBe(rfcLeafHash(entry).toString('hex'));
    expect(rfcVerifyInclusion(1, 5, rfcLeafHash(entry), hexes(latest.json!.auditPath), cp.rootHash)).toBe(true);
    const rev = latest.json!.revocation;
    expect(rev.leafIndex).toBe(3);
    expect(rfcVerifyInclusion(3, 5, rfcLeafHash(Buffer.from(rev.entry, 'base64')), hexes(rev.auditPath), cp.rootHash)).toBe(true);
    expect(earlier.json).toMatchObject({ leafIndex: 1, treeSize: 3 });
    expect(earlier.json!.revocation).toBeUndefined();
  });

  it.each([
    ['a serial not logged yet', { pathParameters: { serialNumber: 'abcd' } }, 404, 'LOG_ENTRY_NOT_SEQUENCED'],
    ['a tree size without a checkpoint', { pathParameters: { serialNumber: 'abcd' }, query: { treeSize: '7' } }, 404, 'NOT_FOUND'],
    ['a tree size that is not a number', { pathParameters: { serialNumber: 'abcd' }, query: { treeSize: '1e3' } }, 400, 'INVALID_REQUEST'],
    ['a serial that is not hex', { pathParameters: { serialNumber: 'zz' } }, 400, 'INVALID_REQUEST'],
  ])('refuses %s with %p %s', async (_name, init, status, code) => {
    await sequenceLog(deps);
    const res = await call(getLogProofRoute(fn) as unknown as RouteHandler, init);
    expect(res.statusCode).toBe(status);
    expect(res.json).toMatchObject({ error: { code } });
  });

  it('serves any entry by index, and refuses an index beyond the tree', async () => {
    ledger.putCertificate(cert());
    await sequenceLog(deps);
    const route = getLogEntryRoute(fn) as unknown as RouteHandler;
    expect((await call(route, { pathParameters: { index: '0' } })).json).toMatchObject({ leafIndex: 0, treeSize: 1, auditPath: [] });
    expect((await call(route, { pathParameters: { index: '1' } })).json).toMatchObject({ error: { code: 'LOG_ENTRY_NOT_SEQUENCED' } });
    expect((await call(route, { pathParameters: { index: '-1' } })).statusCode).toBe(400);
    expect((await call(route, { pathParameters: { index: '99999999999999999999' } })).statusCode).toBe(400);
  });

  it('proves consistency between two checkpoints, and refuses from > to', async () => {
    const roots = new Map<number, Uint8Array>();
    for (const k of [3, 4]) {
      for (let i = 0; i < k; i++) ledger.putCertificate(cert());
      await sequenceLog(deps);
      const cp = verifyCheckpoint(ledger.head!.checkpoint!, KEY);
      roots.set(cp.size, cp.rootHash);
    }
    const route = getLogConsistencyRoute(fn) as unknown as RouteHandler;
    const res = await call(route, { query: { from: '3', to: '7' } });
    expect(res.json).toMatchObject({ from: 3, to: 7 });
    expect(rfcVerifyConsistency(3, 7, roots.get(3)!, roots.get(7)!, hexes(res.json!.consistencyPath))).toBe(true);
    expect((await call(route, { query: { from: '7', to: '3' } })).json).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    expect((await call(route, { query: { from: '3' } })).statusCode).toBe(400);
    expect((await call(route, { query: { from: '1', to: '5' } })).json).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe('Job: logJob', () => {
  it('sequences, and counts what it appended, what stayed queued and the checkpoint age', async () => {
    ledger.putCertificate(cert());
    ledger.putCertificate(cert());
    const metrics = memoryMetrics();
    const job = logJob({ obs: { logger: memoryLogger(), metrics }, sequencer: deps });
    const report = await job({}, lambdaContext());
    expect(report).toMatchObject({ sequenced: 2, size: 2, queueDepth: 0, checkpointSize: 2, checkpointAgeSeconds: 0 });
    const names = metrics.entries.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['LogEntriesSequenced', 'LogQueueDepth', 'LogCheckpointAgeSeconds']));
  });
});
