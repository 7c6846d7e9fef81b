import { describe, expect, it, jest } from '@jest/globals';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { CaError } from '../../../src/service/errors.js';
import type { SignerFactory } from '../../../src/service/ports.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { softwareCa } from '../../helpers/software-ca.js';

async function hierarchy() {
  const store = new MemoryStore();
  const { root, issuing, signers, signerFactory } = await softwareCa(store, { issuing: 2 });
  const factory = jest.fn<SignerFactory>(signerFactory);
  /** Points issuance at `id`, whatever it pointed at. */
  const activate = async (id: string) => expect(await store.setActiveIssuingCa(id, await store.getActiveIssuingCaId())).toBe(true);
  /** Table reads so far. */
  const reads = () => store.count('getCa') + store.count('getActiveIssuingCaId');
  return { store, root, issuing, factory, signers, activate, reads };
}

describe('Class: CaDirectory', () => {
  it('reports CA_NOT_READY until an issuing CA is active', async () => {
    const { store, factory } = await hierarchy();
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    await expect(cas.activeIssuer()).rejects.toMatchObject({ code: 'CA_NOT_READY', retryAfterSeconds: 60 });
  });

  it('refuses a CA record whose certificate is corrupt (INTERNAL) without building its signer', async () => {
    const { store, issuing, factory, activate } = await hierarchy();
    await activate(issuing[0]!.id);
    await store.updateCa({ ...issuing[0]!, certificatePem: 'not a certificate' });
    await expect(new CaDirectory(store, factory, () => new Date(), 60_000).activeIssuer()).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(factory).not.toHaveBeenCalled();
  });

  it('serves the active chain without building a signer (reading the CA needs no key access)', async () => {
    const { store, issuing, factory, activate } = await hierarchy();
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    await expect(cas.activeChain()).rejects.toMatchObject({ code: 'CA_NOT_READY' });
    await activate(issuing[1]!.id);
    const chain = await cas.activeChain();
    expect(chain.record.id).toBe(issuing[1]!.id);
    expect(chain.chainPem).toBe(issuing[1]!.certificatePem + chain.rootCertificatePem);
    expect(factory).not.toHaveBeenCalled();
  });

  it('builds the active signer once and serves warm requests without reading the table', async () => {
    const { store, issuing, factory, activate, reads } = await hierarchy();
    await activate(issuing[0]!.id);
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    const first = await cas.activeIssuer();
    const before = reads();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect(await cas.activeIssuer()).toBe(first);
    expect(reads()).toBe(before);
    expect(factory).toHaveBeenCalledTimes(1);
    expect(first.chainPem).toBe(issuing[0]!.certificatePem + first.rootCertificatePem);
  });

  it('picks up a new active CA once the cache expires', async () => {
    const { store, issuing, factory, activate } = await hierarchy();
    let now = 0;
    await activate(issuing[0]!.id);
    const cas = new CaDirectory(store, factory, () => new Date(now), 60_000);
    expect((await cas.activeIssuer()).record.id).toBe(issuing[0]!.id);
    await activate(issuing[1]!.id);
    now = 59_000;
    expect((await cas.activeIssuer()).record.id).toBe(issuing[0]!.id);
    now = 60_001;
    expect((await cas.activeIssuer()).record.id).toBe(issuing[1]!.id);
  });

  it('serves the chain of any CA without touching its key', async () => {
    const { store, issuing, factory } = await hierarchy();
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    const chain = await cas.chain(issuing[1]!.id);
    expect(chain.caCertificatePem).toBe(issuing[1]!.certificatePem);
    expect(factory).not.toHaveBeenCalled();
  });

  it('refuses a key that does not match the CA certificate', async () => {
    const { store, issuing, signers, activate } = await hierarchy();
    await activate(issuing[0]!.id);
    const wrong: SignerFactory = async () => signers.get('issuing-2')!;
    const cas = new CaDirectory(store, wrong, () => new Date(), 60_000);
    const err = (await cas.activeIssuer().catch((e) => e)) as CaError;
    expect(err.code).toBe('INTERNAL');
    expect(err.logDetail).toMatch(/public key differs/);
  });
});
