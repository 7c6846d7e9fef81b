import { describe, expect, it, jest } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { createIssuingCa, createRootCa } from '../../../src/service/ca-setup.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';
import { CaError } from '../../../src/pki/errors.js';
import type { CaRecord, CaStore, KeyReference, SignerFactory } from '../../../src/service/ports.js';

/** An in-memory CaStore, checked against the port it stands in for. */
class MemoryCaStore implements CaStore {
  cas = new Map<string, CaRecord>();
  active: string | undefined;
  reads = 0;
  async getCa(id: string) {
    this.reads++;
    return this.cas.get(id);
  }
  async putCa(r: CaRecord) {
    if (this.cas.has(r.id)) return false;
    this.cas.set(r.id, r);
    return true;
  }
  async getActiveIssuingCaId() {
    this.reads++;
    return this.active;
  }
  async setActiveIssuingCa(id: string, expected: string | undefined) {
    if (this.active !== expected) return false;
    this.active = id;
    return true;
  }
  async updateCa(r: CaRecord) {
    if (!this.cas.has(r.id)) throw new Error(`no CA ${r.id}`);
    this.cas.set(r.id, r);
  }
}

const key = (file: string): { ref: KeyReference; signer: Signer } => ({
  ref: { kind: 'software', file },
  signer: createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
});

async function hierarchy() {
  const store = new MemoryCaStore();
  const naming = { organization: 'Example Corp', country: 'US' };
  const clock = () => new Date();
  const rootKey = key('root');
  const root = await createRootCa(rootKey, naming, clock);
  const issuingKeys = [key('issuing-1'), key('issuing-2')];
  const issuing = await Promise.all(issuingKeys.map((k) => createIssuingCa(k, { record: root, signer: rootKey.signer }, naming, clock)));
  for (const r of [root, ...issuing]) await store.putCa(r);
  const signers = new Map(issuingKeys.map((k) => [(k.ref as { file: string }).file, k.signer]));
  const factory = jest.fn<SignerFactory>(async (ref) => signers.get((ref as { file: string }).file)!);
  return { store, root, issuing, factory, signers };
}

describe('Class: CaDirectory', () => {
  it('reports CA_NOT_READY until an issuing CA is active', async () => {
    const { store, factory } = await hierarchy();
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    await expect(cas.activeIssuer()).rejects.toMatchObject({ code: 'CA_NOT_READY', retryAfterSeconds: 60 });
  });

  it('refuses a CA record whose certificate is corrupt (INTERNAL) without building its signer', async () => {
    const { store, issuing, factory } = await hierarchy();
    store.active = issuing[0]!.id;
    store.cas.set(issuing[0]!.id, { ...issuing[0]!, certificatePem: 'not a certificate' });
    await expect(new CaDirectory(store, factory, () => new Date(), 60_000).activeIssuer()).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(factory).not.toHaveBeenCalled();
  });

  it('serves the active chain without building a signer (reading the CA needs no key access)', async () => {
    const { store, issuing, factory } = await hierarchy();
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    await expect(cas.activeChain()).rejects.toMatchObject({ code: 'CA_NOT_READY' });
    store.active = issuing[1]!.id;
    const chain = await cas.activeChain();
    expect(chain.record.id).toBe(issuing[1]!.id);
    expect(chain.chainPem).toBe(issuing[1]!.certificatePem + chain.rootCertificatePem);
    expect(factory).not.toHaveBeenCalled();
  });

  it('builds the active signer once and serves warm requests without reading the table', async () => {
    const { store, issuing, factory } = await hierarchy();
    store.active = issuing[0]!.id;
    const cas = new CaDirectory(store, factory, () => new Date(), 60_000);
    const first = await cas.activeIssuer();
    const reads = store.reads;
    for (let i = 0; i < 10; i++) expect(await cas.activeIssuer()).toBe(first);
    expect(store.reads).toBe(reads);
    expect(factory).toHaveBeenCalledTimes(1);
    expect(first.chainPem).toBe(issuing[0]!.certificatePem + first.rootCertificatePem);
  });

  it('picks up a new active CA once the cache expires', async () => {
    const { store, issuing, factory } = await hierarchy();
    let now = 0;
    store.active = issuing[0]!.id;
    const cas = new CaDirectory(store, factory, () => new Date(now), 60_000);
    expect((await cas.activeIssuer()).record.id).toBe(issuing[0]!.id);
    store.active = issuing[1]!.id;
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
    const { store, issuing, signers } = await hierarchy();
    store.active = issuing[0]!.id;
    const wrong: SignerFactory = async () => signers.get('issuing-2')!;
    const cas = new CaDirectory(store, wrong, () => new Date(), 60_000);
    const err = (await cas.activeIssuer().catch((e) => e)) as CaError;
    expect(err.code).toBe('INTERNAL');
    expect(err.logDetail).toMatch(/public key differs/);
  });
});
