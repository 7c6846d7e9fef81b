/**
 * The issuance log key's rotation: KMS faked with real keys, the log ledger in
 * memory, and the sequencer signing the checkpoints that an auditor verifies.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { noteKey, parseNote, verifyCheckpoint } from '../../../src/log/checkpoint.js';
import { caKeyPolicy } from '../../../src/kms/key-policy.js';
import { kmsKeyManager } from '../../../src/kms/kms-key-manager.js';
import { createKmsSigner } from '../../../src/kms/kms-signer.js';
import { ensureLogKey, rotateLogKey, type LogKeyDeps } from '../../../src/service/log-keys.js';
import { sequenceLog, type LogSequencerDeps } from '../../../src/service/log-sequencer.js';
import { logKeyAliasOf } from '../../../src/service/ports.js';
import { certificate } from '../../helpers/ledger-records.js';
import { FakeKms, kmsError } from '../../helpers/kms-fake.js';
import { MemoryLogStore } from '../../helpers/memory-log-store.js';

const DAY = 86_400_000;
const PREFIX = 'alias/factory-ca-unit';
const ORIGIN = 'factory-ca/unit';
const ROLE = (name: string) => `arn:aws:iam::111122223333:role/factory-ca-unit-${name}`;

function world() {
  const now = { t: Date.parse('2026-03-01T12:00:00.000Z') };
  const clock = () => new Date(now.t);
  const kms = new FakeKms();
  const client = kms.install().client;
  const ledger = new MemoryLogStore();
  const deps: LogKeyDeps = {
    keys: kmsKeyManager(client, {
      keySpec: 'ECC_NIST_P256',
      keyPolicy: (purpose) => caKeyPolicy({ purpose, issueRoleArn: ROLE('issue'), lifecycleRoleArn: ROLE('lifecycle'), logSequencerRoleArn: ROLE('log') }),
      tags: {},
    }),
    logKeys: ledger,
    keyAliasPrefix: PREFIX,
    clock,
    logKeyRotation: { periodDays: 365, cosignDays: 30 },
  };
  const sequencer: LogSequencerDeps = {
    ledger,
    logSigner: (generation) => createKmsSigner(client, logKeyAliasOf(PREFIX, generation)),
    origin: ORIGIN,
    clock,
    claimLeaseMs: 120_000,
  };
  let n = 0;
  const issue = () => {
    const serialNumber = `6b${(++n).toString(16).padStart(6, '0')}`;
    ledger.putCertificate(certificate({ serialNumber, certificateId: createHash('sha256').update(serialNumber).digest('hex'), issuedAt: clock().toISOString() }));
  };
  /** The log key of a generation as an auditor has it: the public key KMS gives. */
  const publicKey = (generation: number) => {
    const key = kms.keys.find((k) => k.aliases.includes(logKeyAliasOf(PREFIX, generation)));
    if (!key) throw new Error(`no log key ${generation}`);
    return noteKey(ORIGIN, key.publicKeyDer);
  };
  const checkpoint = () => ledger.head!.checkpoint!;
  const signatures = () => parseNote(checkpoint()).signatures.length;
  const aliases = () => kms.keys.flatMap((k) => k.aliases).sort();
  return { kms, ledger, deps, sequencer, issue, publicKey, checkpoint, signatures, aliases, advance: (days: number) => (now.t += days * DAY), now };
}

describe('Function: ensureLogKey', () => {
  it('creates the first log key and records it as the one that signs; a second run changes nothing', async () => {
    const w = world();
    expect(await ensureLogKey(w.deps)).toEqual([
      'recorded the issuance log key alias/factory-ca-unit-log-1 as the one that signs',
      'created the issuance log key alias/factory-ca-unit-log-1',
    ]);
    expect(await ensureLogKey(w.deps)).toEqual([]);
    expect(w.aliases()).toEqual([`${PREFIX}-log-1`]);
    expect(w.ledger.logKeys).toEqual({ generation: 1, since: '2026-03-01T12:00:00.000Z' });
  });
});

describe('Function: rotateLogKey', () => {
  it('does nothing before the rotation period, and says when the key is due', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.advance(364);
    expect(await rotateLogKey(w.deps)).toEqual({
      rotated: false,
      reason: 'not due',
      generation: 1,
      keyAlias: `${PREFIX}-log-1`,
      nextDueAt: '2027-03-01T12:00:00.000Z',
      actions: [],
    });
  });

  it('replaces a due key; the checkpoints of the transition carry both signatures, then the new key alone', async () => {
    // Prepare: a log of three entries, signed by key 1.
    const w = world();
    await ensureLogKey(w.deps);
    for (let i = 0; i < 3; i++) w.issue();
    await sequenceLog(w.sequencer);
    const key1 = w.publicKey(1);
    expect(verifyCheckpoint(w.checkpoint(), key1).size).toBe(3);

    // Act: a year later the scheduled rotation replaces it.
    w.advance(365);
    const report = await rotateLogKey(w.deps);

    // Assess: key 2 signs, key 1 co-signs for 30 days.
    expect(report).toEqual({
      rotated: true,
      reason: 'the issuance log key alias/factory-ca-unit-log-1 has signed for 365 days',
      generation: 2,
      keyAlias: `${PREFIX}-log-2`,
      previousGeneration: 1,
      cosignUntil: '2027-03-31T12:00:00.000Z',
      actions: [
        'created the issuance log key alias/factory-ca-unit-log-2',
        'checkpoints are now signed by alias/factory-ca-unit-log-2, co-signed by alias/factory-ca-unit-log-1 until 2027-03-31T12:00:00.000Z',
      ],
    });
    const key2 = w.publicKey(2);
    // The same tree is signed again at once, by both keys: an auditor holding either accepts it.
    await sequenceLog(w.sequencer);
    expect(w.signatures()).toBe(2);
    expect(verifyCheckpoint(w.checkpoint(), key1).size).toBe(3);
    expect(verifyCheckpoint(w.checkpoint(), key2).size).toBe(3);
    // The log grows during the transition: still both.
    w.issue();
    await sequenceLog(w.sequencer);
    expect(verifyCheckpoint(w.checkpoint(), key1).size).toBe(4);
    expect(verifyCheckpoint(w.checkpoint(), key2).size).toBe(4);
    expect(await w.ledger.getCheckpoint(4)).toBe(w.checkpoint());

    // After the transition the next run signs with key 2 alone, even with nothing new to log.
    w.advance(30);
    const run = await sequenceLog(w.sequencer);
    expect(run.checkpointSize).toBe(4);
    expect(w.signatures()).toBe(1);
    expect(verifyCheckpoint(w.checkpoint(), key2).size).toBe(4);
    expect(() => verifyCheckpoint(w.checkpoint(), key1)).toThrow(`the signature by ${ORIGIN} has key ID ${key2.keyId.toString(16).padStart(8, '0')}, not the key's ${key1.keyId.toString(16).padStart(8, '0')}`);
    // And once that is done, runs with nothing to log sign nothing.
    const note = w.checkpoint();
    expect((await sequenceLog(w.sequencer)).checkpointSize).toBeUndefined();
    expect(w.checkpoint()).toBe(note);
  });

  it('rotates a compromised key at once: it never co-signs again, and its KMS key is disabled', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.issue();
    await sequenceLog(w.sequencer);

    const report = await rotateLogKey(w.deps, { reason: 'keyCompromise' });

    expect(report).toMatchObject({ rotated: true, reason: 'the issuance log key alias/factory-ca-unit-log-1 is compromised', generation: 2 });
    expect(report.previousGeneration).toBeUndefined();
    expect(report.actions).toEqual([
      'created the issuance log key alias/factory-ca-unit-log-2',
      'checkpoints are now signed by alias/factory-ca-unit-log-2 alone (was alias/factory-ca-unit-log-1)',
      'disabled the compromised issuance log key alias/factory-ca-unit-log-1: it signs nothing more',
    ]);
    expect(w.kms.keys.find((k) => k.aliases.includes(`${PREFIX}-log-1`))!.state).toBe('Disabled');
    expect(w.ledger.logKeys).toEqual({
      generation: 2,
      since: '2026-03-01T12:00:00.000Z',
      compromised: [{ generation: 1, at: '2026-03-01T12:00:00.000Z', disabledAt: '2026-03-01T12:00:00.000Z' }],
    });
    // The tree is signed again by key 2 alone.
    await sequenceLog(w.sequencer);
    expect(w.signatures()).toBe(1);
    expect(verifyCheckpoint(w.checkpoint(), w.publicKey(2)).size).toBe(1);
  });

  it('finishes disabling a compromised key when the run that rotated failed before it could', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.kms.failNext('DisableKey', kmsError('KMSInternalException', 'internal'));

    await expect(rotateLogKey(w.deps, { reason: 'keyCompromise' })).rejects.toThrow();
    // The state moved (key 1 signs nothing for the log any more); its key is not disabled yet.
    expect(w.ledger.logKeys).toMatchObject({ generation: 2, compromised: [{ generation: 1 }] });
    expect(w.ledger.logKeys!.compromised![0]!.disabledAt).toBeUndefined();

    // The next run, scheduled and not due, disables it and rotates nothing more.
    const next = await rotateLogKey(w.deps);
    expect(next).toMatchObject({ rotated: false, generation: 2, actions: ['disabled the compromised issuance log key alias/factory-ca-unit-log-1: it signs nothing more'] });
    expect(w.kms.keys.find((k) => k.aliases.includes(`${PREFIX}-log-1`))!.state).toBe('Disabled');
    expect(w.ledger.logKeys!.compromised![0]!.disabledAt).toBe('2026-03-01T12:00:00.000Z');
  });

  it('moves the key once when two forced rotations race', async () => {
    const w = world();
    await ensureLogKey(w.deps);

    const reports = await Promise.all([rotateLogKey(w.deps, { force: true }), rotateLogKey(w.deps, { force: true })]);

    expect(reports.map((r) => r.rotated).sort()).toEqual([false, true]);
    expect(reports.find((r) => !r.rotated)!.reason).toBe('another run moved the issuance log key to alias/factory-ca-unit-log-2');
    expect(w.ledger.logKeys!.generation).toBe(2);
    expect(w.aliases()).toEqual([`${PREFIX}-log-1`, `${PREFIX}-log-2`]);
  });

  it('starts counting the key age from the first rotation run on a ledger made before the key state existed', async () => {
    const w = world();
    await w.deps.keys.createKey(`${PREFIX}-log-1`, 'log');

    expect(await rotateLogKey(w.deps)).toMatchObject({
      rotated: false,
      generation: 1,
      nextDueAt: '2027-03-01T12:00:00.000Z',
      actions: ['recorded the issuance log key alias/factory-ca-unit-log-1 as the one that signs'],
    });
  });
});
