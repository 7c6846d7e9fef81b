import { describe, expect, it } from '@jest/globals';
import { CaError } from '../../../src/service/errors.js';
import { rejectionOf } from '../../helpers/errors.js';
import { caRecord, certificate, claimFor } from '../../helpers/ledger-records.js';
import { MemoryStore } from '../../helpers/memory-store.js';

// What the store does is checked against DynamoStore in store-contract.test.ts; here, its fault injection.
describe('Class: MemoryStore (test helper)', () => {
  it('fails the next call of an operation before it changes anything, as DynamoStore fails a throttled request', async () => {
    const store = new MemoryStore().failNext('putCa');

    const error = await rejectionOf<CaError>(store.putCa(caRecord('issuing-1')));

    expect(error).toBeInstanceOf(CaError);
    expect([error.code, error.retryAfterSeconds]).toEqual(['STORE_UNAVAILABLE', 2]);
    expect(await store.getCa('issuing-1')).toBeUndefined();
    // Used once: the next call goes through.
    expect(await store.putCa(caRecord('issuing-1'))).toBe(true);
  });

  it('lets a write land and then fails the call (a timeout after the write was applied)', async () => {
    const lost = new Error('socket timeout');
    const store = new MemoryStore().failNext('putCertificate', { when: 'after', error: lost });
    const record = certificate();

    expect(await rejectionOf(store.putCertificate(record))).toBe(lost);

    expect(await store.getCertificate(record.serialNumber)).toStrictEqual(record);
  });

  it('lets `skip` calls through first, and uses the faults of one operation in the order given', async () => {
    const [first, second] = [new Error('first'), new Error('second')];
    const store = new MemoryStore().failNext('claim', { skip: 1, error: first }).failNext('claim', { error: second });

    expect(await store.claim(claimFor('CN#a', 'aa01'))).toBeUndefined();
    expect(await rejectionOf(store.claim(claimFor('CN#b', 'bb02')))).toBe(first);
    expect(await rejectionOf(store.claim(claimFor('CN#b', 'bb02')))).toBe(second);
    expect(await store.claim(claimFor('CN#b', 'bb02'))).toBeUndefined();
    // Other operations are not affected.
    expect(await store.getActiveIssuingCaId()).toBeUndefined();
  });

  it('lists every call in order, failed ones included', async () => {
    const store = new MemoryStore().failNext('getCa');

    await rejectionOf(store.getCa('root-1'));
    await store.getActiveIssuingCaId();
    await store.getCa('root-1');

    expect(store.calls).toEqual(['getCa', 'getActiveIssuingCaId', 'getCa']);
    expect([store.count('getCa'), store.count('putCa')]).toEqual([2, 0]);
  });
});
