/**
 * A CA hierarchy made in memory with software keys (the project's own CA
 * builders), recorded in a CaStore: what a use case needs of a CA without
 * KMS, AWS IoT or the lifecycle.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createSoftwareSigner, type Signer } from '../../src/pki/signer.js';
import { createIssuingCa, createRootCa } from '../../src/service/ca-setup.js';
import type { CaRecord, CaStore, Clock, KeyReference, SignerFactory } from '../../src/service/ports.js';
import { NAMING } from './shipped-config.js';

export interface SoftwareCa {
  root: CaRecord;
  /** issuing-1, issuing-2, … all signed by the root. */
  issuing: CaRecord[];
  /** The signers by key file name: `root`, `issuing-1`, … */
  signers: Map<string, Signer>;
  /** Finds a signer by its software key reference; an unknown key is refused. */
  signerFactory: SignerFactory;
}

const softwareKey = (file: string): { ref: KeyReference; signer: Signer } => ({
  ref: { kind: 'software', file },
  signer: createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
});

/** A root and `issuing` issuing CAs in `store`; with `activate`, issuance points at issuing-1. */
export async function softwareCa(store: CaStore, options: { issuing?: number; activate?: boolean; clock?: Clock } = {}): Promise<SoftwareCa> {
  const clock = options.clock ?? (() => new Date());
  const rootKey = softwareKey('root');
  const root = await createRootCa(rootKey, NAMING, clock, undefined, { id: 'root-1' });
  const keys = Array.from({ length: options.issuing ?? 1 }, (_, i) => softwareKey(`issuing-${i + 1}`));
  const issuing = await Promise.all(
    keys.map((k, i) => createIssuingCa(k, { record: root, signer: rootKey.signer }, NAMING, clock, undefined, { id: `issuing-${i + 1}`, generation: i + 1 })),
  );
  for (const r of [root, ...issuing]) await store.putCa(r);
  if (options.activate) await store.setActiveIssuingCa(issuing[0]!.id, undefined);
  const signers = new Map([rootKey, ...keys].map((k) => [(k.ref as { file: string }).file, k.signer]));
  const signerFactory: SignerFactory = async (ref) => {
    const signer = ref.kind === 'software' ? signers.get(ref.file) : undefined;
    if (!signer) throw new Error(`no software key ${JSON.stringify(ref)}`);
    return signer;
  };
  return { root, issuing, signers, signerFactory };
}
