import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import type { CaKeySpec } from '../config/config.js';
import type { KeyManager, KeyReference } from '../service/ports.js';

/** The key file (relative to the state directory) that stands for a KMS alias in local mode. */
export const softwareKeyFile = (alias: string) => join('ca', `${alias.replace(/^alias\//, '').replace(/[^A-Za-z0-9_-]/g, '_')}.key`);

function generate(spec: CaKeySpec): string {
  const { privateKey } = spec.startsWith('RSA_')
    ? generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) })
    : generateKeyPairSync('ec', { namedCurve: spec === 'ECC_NIST_P384' ? 'P-384' : 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/**
 * Local mode's stand-in for KMS: one PKCS#8 file (mode 0600) per alias under
 * `<stateDir>/ca/`. A file is created exclusively, so two runs never replace a key.
 */
export function softwareKeyManager(stateDir: string, spec: CaKeySpec): KeyManager {
  const ref = (alias: string): KeyReference => ({ kind: 'software', file: softwareKeyFile(alias) });
  return {
    async findKey(alias) {
      return existsSync(join(stateDir, softwareKeyFile(alias))) ? ref(alias) : undefined;
    },
    async createKey(alias, purpose) {
      mkdirSync(join(stateDir, 'ca'), { recursive: true, mode: 0o700 });
      try {
        // The log key signs notes of type 0x02: P-256 whatever the CA keys are.
        writeFileSync(join(stateDir, softwareKeyFile(alias)), generate(purpose === 'log' ? 'ECC_NIST_P256' : spec), { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      return ref(alias);
    },
    async disableKey(key) {
      // The file is moved aside: no signer can load it, and an operator can still inspect it.
      if (key.kind !== 'software') throw new Error(`not a software key: ${JSON.stringify(key)}`);
      const file = join(stateDir, key.file);
      if (existsSync(file)) renameSync(file, `${file}.disabled`);
    },
  };
}
