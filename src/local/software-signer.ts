import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { CaError } from '../service/errors.js';
import { createSoftwareSigner } from '../pki/signer.js';
import type { KeyReference, SignerFactory } from '../service/ports.js';

type SoftwareKey = Extract<KeyReference, { kind: 'software' }>;

/**
 * Local mode's signers: a CA key is a PKCS#8 file under the state directory.
 * A key file named outside that directory is refused, whatever the CA record says.
 */
export function softwareSigners(stateDir: string): (key: SoftwareKey) => ReturnType<SignerFactory> {
  return async (key) => {
    const file = resolve(stateDir, key.file);
    const rel = relative(stateDir, file);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new CaError('INTERNAL', 'CA key is not usable', { logDetail: `key file ${key.file} is outside the state directory` });
    }
    return createSoftwareSigner(readFileSync(file, 'utf8'));
  };
}

/** Outside local mode a software key is never used: its CA record is wrong, not the request. */
export const refuseSoftwareKeys = async (): ReturnType<SignerFactory> => {
  throw new CaError('INTERNAL', 'CA key is not usable', { logDetail: 'software CA key found, but ALLOW_SOFTWARE_SIGNER is off' });
};
