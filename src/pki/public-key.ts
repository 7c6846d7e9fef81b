import { createHash } from 'node:crypto';
import { DerError, readSingle } from './der/reader.js';
import { describeSpki } from './keys.js';
import { PkiError } from './errors.js';
import { findPemBlocks } from './pem.js';

/**
 * The SHA-256 (hex) of a public key given as a PEM `PUBLIC KEY` block: the
 * SubjectPublicKeyInfo DER, checked by the same strict reader as a CSR's key
 * (canonical DER, an uncompressed EC point, NULL RSA parameters), so one key has
 * one hash, the one the key index records.
 */
export function spkiSha256OfPem(pem: string): string {
  const blocks = findPemBlocks(pem);
  const [block] = blocks;
  if (blocks.length !== 1 || !block || !('der' in block) || block.label !== 'PUBLIC KEY') {
    throw new PkiError('CSR_MALFORMED', 'publicKeyPem must hold exactly one PEM "PUBLIC KEY" block (a SubjectPublicKeyInfo)');
  }
  try {
    describeSpki(readSingle(block.der));
  } catch (e) {
    if (e instanceof DerError) throw new PkiError('CSR_MALFORMED', `The public key could not be read: ${e.message}`);
    throw e;
  }
  return createHash('sha256').update(block.der).digest('hex');
}
