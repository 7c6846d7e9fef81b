import { describe, expect, it } from '@jest/globals';
import { blockKeys, getBlockedKey } from '../../../src/service/blocked-keys.js';
import { systemClock } from '../../../src/service/ports.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const hash = (n: number) => n.toString(16).padStart(64, '0');

describe('Use case: blockKeys (the operators\' block list)', () => {
  it('imports 10,000 keys, and importing them again changes nothing (the first block stands)', async () => {
    const store = new MemoryStore();
    const d = { store, clock: systemClock };
    const list = Array.from({ length: 10_000 }, (_, i) => ({ spkiSha256: hash(i), reason: 'keyCompromise', entry: 'vendor list 2026-11' }));
    const first = await blockKeys(d, list);
    expect(first.filter((r) => r.changed)).toHaveLength(10_000);
    const again = await blockKeys(d, list.map((r) => ({ ...r, reason: 'unspecified', entry: 'a later list' })));
    expect(again.filter((r) => r.changed)).toHaveLength(0);
    expect(await getBlockedKey(d, hash(9_999))).toMatchObject({ status: 'BLOCKED', reason: 'keyCompromise', blockedByEntry: 'vendor list 2026-11' });
  });

  it('answers NOT_FOUND for a key that is not blocked', async () => {
    const d = { store: new MemoryStore(), clock: systemClock };
    await expect(getBlockedKey(d, hash(1))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
