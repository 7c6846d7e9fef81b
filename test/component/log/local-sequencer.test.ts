/**
 * Local mode's sequencer: it runs on its own, signs with a software log key
 * made under the state directory, and keeps each checkpoint as a file there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/config.js';
import { logKeyAlias } from '../../../src/compose/log.js';
import { verifyCheckpoint } from '../../../src/log/checkpoint.js';
import { softwareKeyFile } from '../../../src/local/software-keys.js';
import { ensureTable, startLocalSequencer } from '../../../src/local/local-stack.js';
import type { SequenceReport } from '../../../src/service/log-sequencer.js';
import { DynamoStore } from '../../../src/store/dynamo-store.js';
import { certificate } from '../../helpers/ledger-records.js';
import { memoryLogger, startTestLedger, type TestLedger } from '../../helpers/test-app.js';

let ledger: TestLedger;
let stateDir: string;
beforeAll(async () => {
  ledger = await startTestLedger();
  stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-log-'));
});
afterAll(async () => {
  await ledger.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('Function: startLocalSequencer', () => {
  it('sequences every few seconds and keeps each checkpoint under the state directory, signed by the local log key', async () => {
    // Prepare
    const tableName = `local-log-${process.pid}`;
    await ensureTable(ledger.client, tableName);
    const config = loadConfig({ TABLE_NAME: tableName, ALLOW_SOFTWARE_SIGNER: 'true', LOCAL_STATE_DIR: stateDir });
    const serialNumber = '6b01';
    await new DynamoStore(ledger.client, tableName).putCertificate(certificate({ serialNumber, certificateId: createHash('sha256').update(serialNumber).digest('hex') }));
    const reports: SequenceReport[] = [];
    const done = new Promise<void>((resolve) => {
      // Act
      const stop = startLocalSequencer(ledger.client, config, { logger: memoryLogger(), intervalMs: 20, onRun: (r) => (reports.push(r), r.size >= 1 && reports.length >= 2 && void stop().then(resolve)) });
    });
    await done;

    // Assess
    expect(config.log.origin).toBe('factory-ca/local');
    const note = readFileSync(join(stateDir, 'log', 'checkpoints', '1'), 'utf8');
    const key = readFileSync(join(stateDir, softwareKeyFile(logKeyAlias(config))), 'utf8');
    expect(verifyCheckpoint(note, { name: 'factory-ca/local', publicKey: key }, { origin: 'factory-ca/local' }).size).toBe(1);
    expect(reports[0]).toMatchObject({ sequenced: 1, size: 1 });
    expect(reports[1]).toMatchObject({ sequenced: 0, size: 1 });
  });
});
