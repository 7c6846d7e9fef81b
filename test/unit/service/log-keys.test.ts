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
import { didWork, sequenceLog, type LogSequencerDeps } from '../../../src/service/log-sequencer.js';
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
  const kmsKey = (generation: number) => kms.keys.find((k) => k.aliases.includes(logKeyAliasOf(PREFIX, generation)))!;
  /** The generations whose keys signed the latest checkpoint. */
  const signedBy = () => parseNote(checkpoint()).signatures.map((sig) => [1, 2, 3, 4].find((g) => kms.keys.some((k) => k.aliases.includes(logKeyAliasOf(PREFIX, g))) && publicKey(g).keyId === sig.keyId));
  return { kms, ledger, deps, sequencer, issue, publicKey, checkpoint, signatures, aliases, kmsKey, signedBy, advance: (days: number) => (now.t += days * DAY), now };
}

describe('Function: ensureLogKey', () => {
  it('creates the first log key and records it, with its KMS key, as the one that signs; a second run changes nothing', async () => {
    const w = world();
    expect(await ensureLogKey(w.deps)).toEqual([
      'recorded the issuance log key alias/factory-ca-unit-log-1 as the one that signs',
      'created the issuance log key alias/factory-ca-unit-log-1',
    ]);
    expect(await ensureLogKey(w.deps)).toEqual([]);
    expect(w.aliases()).toEqual([`${PREFIX}-log-1`]);
    expect(w.ledger.logKeys).toEqual({ version: 2, generation: 1, since: '2026-03-01T12:00:00.000Z', key: { kind: 'kms', keyId: w.kmsKey(1).arn } });
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

  it('replaces a due key; the checkpoints of the transition carry both signatures, then the new key alone, and the old key is disabled', async () => {
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
    expect(w.signedBy()).toEqual([2, 1]);
    expect(verifyCheckpoint(w.checkpoint(), key1).size).toBe(3);
    expect(verifyCheckpoint(w.checkpoint(), key2).size).toBe(3);
    // The log grows during the transition: still both.
    w.issue();
    await sequenceLog(w.sequencer);
    expect(verifyCheckpoint(w.checkpoint(), key1).size).toBe(4);
    expect(verifyCheckpoint(w.checkpoint(), key2).size).toBe(4);
    expect(await w.ledger.getCheckpoint(4)).toBe(w.checkpoint());

    // After the transition the next run signs with key 2 alone, even with nothing new to log: a run worth its log line.
    w.advance(30);
    const run = await sequenceLog(w.sequencer);
    expect([run.sequenced, run.checkpointSize, didWork(run)]).toEqual([0, 4, true]);
    expect(w.signedBy()).toEqual([2]);
    expect(() => verifyCheckpoint(w.checkpoint(), key1)).toThrow(`the signature by ${ORIGIN} has key ID ${key2.keyId.toString(16).padStart(8, '0')}, not the key's ${key1.keyId.toString(16).padStart(8, '0')}`);
    const note = w.checkpoint();
    const idle = await sequenceLog(w.sequencer);
    expect([idle.checkpointSize, didWork(idle)]).toEqual([undefined, false]);
    expect(w.checkpoint()).toBe(note);
    // The daily rotation retires key 1 and disables it: nothing can sign with it any more.
    expect(await rotateLogKey(w.deps)).toMatchObject({ rotated: false, generation: 2, actions: ['disabled the retired issuance log key alias/factory-ca-unit-log-1: it signs nothing more'] });
    expect([w.kmsKey(1).state, w.kmsKey(2).state]).toEqual(['Disabled', 'Enabled']);
    expect(w.ledger.logKeys!.retired).toEqual([{ generation: 1, key: { kind: 'kms', keyId: w.kmsKey(1).arn }, reason: 'superseded', at: '2027-03-31T12:00:00.000Z', disabledAt: '2027-03-31T12:00:00.000Z' }]);
    expect((await rotateLogKey(w.deps)).actions).toEqual([]);
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
      'checkpoints are now signed by alias/factory-ca-unit-log-2; alias/factory-ca-unit-log-1 signs no more',
      'disabled the compromised issuance log key alias/factory-ca-unit-log-1: it signs nothing more',
    ]);
    expect(w.kmsKey(1).state).toBe('Disabled');
    expect(w.ledger.logKeys).toMatchObject({
      generation: 2,
      retired: [{ generation: 1, key: { kind: 'kms', keyId: w.kmsKey(1).arn }, reason: 'keyCompromise', at: '2026-03-01T12:00:00.000Z', disabledAt: '2026-03-01T12:00:00.000Z' }],
    });
    // The tree is signed again by key 2 alone.
    await sequenceLog(w.sequencer);
    expect(w.signedBy()).toEqual([2]);
    // Asked again: nothing more happens.
    expect(await rotateLogKey(w.deps, { reason: 'keyCompromise', generation: 1 })).toMatchObject({ rotated: false, generation: 2, reason: 'the issuance log key alias/factory-ca-unit-log-1 is compromised (marked before)', actions: [] });
  });

  it('disables a compromised key an operator had already disabled by hand, and one whose disabling was cut short', async () => {
    // By hand first: KMS disables a disabled key again without error.
    const w = world();
    await ensureLogKey(w.deps);
    w.kmsKey(1).state = 'Disabled';
    expect(await rotateLogKey(w.deps, { reason: 'keyCompromise' })).toMatchObject({ rotated: true, generation: 2 });
    expect(w.ledger.logKeys!.retired![0]!.disabledAt).toBe('2026-03-01T12:00:00.000Z');

    // Cut short: DisableKey fails once; the state has moved, and the next run (any) disables the key.
    const v = world();
    await ensureLogKey(v.deps);
    v.kms.failNext('DisableKey', kmsError('KMSInternalException', 'internal'));
    await expect(rotateLogKey(v.deps, { reason: 'keyCompromise' })).rejects.toThrow();
    expect(v.ledger.logKeys).toMatchObject({ generation: 2, retired: [{ generation: 1, reason: 'keyCompromise' }] });
    expect(v.ledger.logKeys!.retired![0]!.disabledAt).toBeUndefined();
    const next = await rotateLogKey(v.deps);
    expect(next).toMatchObject({ rotated: false, generation: 2, actions: ['disabled the compromised issuance log key alias/factory-ca-unit-log-1: it signs nothing more'] });
    expect(v.kmsKey(1).state).toBe('Disabled');
    // A key pending deletion already signs nothing: disabling it is done.
    v.kmsKey(2).state = 'PendingDeletion';
    expect(await rotateLogKey(v.deps, { reason: 'keyCompromise' })).toMatchObject({ rotated: true, generation: 3 });
    expect(v.ledger.logKeys!.retired!.map((r) => [r.generation, Boolean(r.disabledAt)])).toEqual([[1, true], [2, true]]);
  });

  it('marks the co-signing key compromised without touching the one that signs', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.issue();
    await rotateLogKey(w.deps, { force: true });
    await sequenceLog(w.sequencer);
    expect(w.signedBy()).toEqual([2, 1]);

    const report = await rotateLogKey(w.deps, { reason: 'keyCompromise', generation: 1 });

    expect(report).toMatchObject({ rotated: false, generation: 2, reason: 'the issuance log key alias/factory-ca-unit-log-1 is compromised' });
    expect(report.previousGeneration).toBeUndefined();
    expect([w.kmsKey(1).state, w.kmsKey(2).state]).toEqual(['Disabled', 'Enabled']);
    await sequenceLog(w.sequencer);
    expect(w.signedBy()).toEqual([2]);
    await expect(rotateLogKey(w.deps, { reason: 'keyCompromise', generation: 3 })).rejects.toThrow('The issuance log has no key of generation 3 (the one that signs is 2)');
  });

  it('applies a compromise that a forced rotation overtook to what that rotation left: the compromised key neither signs nor co-signs', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.issue();
    // The compromise reads the state (generation 1); a forced rotation writes first; then the compromise writes.
    let overtaken = false;
    const racing: LogKeyDeps = {
      ...w.deps,
      logKeys: {
        getLogKeys: () => w.ledger.getLogKeys(),
        putLogKeys: async (next, expected) => {
          if (!overtaken) {
            overtaken = true;
            expect(await rotateLogKey(w.deps, { force: true })).toMatchObject({ rotated: true, generation: 2, previousGeneration: 1 });
          }
          return w.ledger.putLogKeys(next, expected);
        },
      },
    };

    const compromised = await rotateLogKey(racing, { reason: 'keyCompromise' });

    // Generation 1 was compromised; generation 2 (the key the compromise made first, which the forced rotation found and took) signs alone.
    expect(compromised).toMatchObject({ rotated: false, generation: 2, reason: 'the issuance log key alias/factory-ca-unit-log-1 is compromised', actions: [
      'created the issuance log key alias/factory-ca-unit-log-2',
      'alias/factory-ca-unit-log-1 co-signs no more',
      'disabled the compromised issuance log key alias/factory-ca-unit-log-1: it signs nothing more',
    ] });
    expect(compromised.previousGeneration).toBeUndefined();
    expect(w.ledger.logKeys!.retired).toEqual([expect.objectContaining({ generation: 1, reason: 'keyCompromise', disabledAt: '2026-03-01T12:00:00.000Z' })]);
    expect([w.kmsKey(1).state, w.kmsKey(2).state]).toEqual(['Disabled', 'Enabled']);
    expect(w.aliases()).toEqual([`${PREFIX}-log-1`, `${PREFIX}-log-2`]);
    await sequenceLog(w.sequencer);
    expect(w.signedBy()).toEqual([2]);
  });

  it('retires the co-signing key at once when another rotation comes within its transition', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    await rotateLogKey(w.deps, { force: true });

    const second = await rotateLogKey(w.deps, { force: true });

    expect(second).toMatchObject({ rotated: true, generation: 3, previousGeneration: 2 });
    expect(second.actions).toEqual([
      'created the issuance log key alias/factory-ca-unit-log-3',
      'checkpoints are now signed by alias/factory-ca-unit-log-3, co-signed by alias/factory-ca-unit-log-2 until 2026-03-31T12:00:00.000Z',
      'disabled the retired issuance log key alias/factory-ca-unit-log-1: it signs nothing more',
    ]);
    expect(w.ledger.logKeys!.retired).toEqual([expect.objectContaining({ generation: 1, reason: 'superseded', disabledAt: '2026-03-01T12:00:00.000Z' })]);
    expect([w.kmsKey(1).state, w.kmsKey(2).state, w.kmsKey(3).state]).toEqual(['Disabled', 'Enabled', 'Enabled']);
    w.issue();
    await sequenceLog(w.sequencer);
    expect(w.signedBy()).toEqual([3, 2]);
  });

  it('reuses the key a rotation made when the state could not be written, and a compromise sent twice without its generation replaces the new key too', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.ledger.failNext('putLogKeys');
    await expect(rotateLogKey(w.deps, { force: true })).rejects.toThrow('injected fault in putLogKeys');
    expect([w.ledger.logKeys!.generation, w.aliases()]).toEqual([1, [`${PREFIX}-log-1`, `${PREFIX}-log-2`]]);
    expect(await rotateLogKey(w.deps, { force: true })).toMatchObject({ rotated: true, generation: 2 });
    expect(w.aliases()).toEqual([`${PREFIX}-log-1`, `${PREFIX}-log-2`]);

    // "The key that signs is compromised", said twice, is two compromises: name the generation to make a repeat safe.
    await rotateLogKey(w.deps, { reason: 'keyCompromise' });
    expect(await rotateLogKey(w.deps, { reason: 'keyCompromise', generation: 2 })).toMatchObject({ rotated: false, generation: 3 });
    expect(await rotateLogKey(w.deps, { reason: 'keyCompromise' })).toMatchObject({ rotated: true, generation: 4 });
    expect(w.kmsKey(3).state).toBe('Disabled');
  });

  it('signs the tree again at once when a compromise rotation lands while a run signs with the compromised key', async () => {
    const w = world();
    await ensureLogKey(w.deps);
    w.issue();
    let rotated = false;
    const sequencer = {
      ...w.sequencer,
      logSigner: async (generation: number) => {
        const signer = await w.sequencer.logSigner(generation);
        return {
          ...signer,
          sign: async (data: Uint8Array) => {
            const signature = await signer.sign(data);
            // The operator's compromise rotation lands just after key 1 signed, before the checkpoint is recorded.
            if (generation === 1 && !rotated) {
              rotated = true;
              await rotateLogKey(w.deps, { reason: 'keyCompromise' });
            }
            return signature;
          },
        };
      },
    };

    await sequenceLog(sequencer);

    expect(rotated).toBe(true);
    expect(w.signedBy()).toEqual([2]);
    expect(await w.ledger.getCheckpoint(1)).toBe(w.checkpoint());
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
