import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../service/errors.js';
import { SIGNING_ALGORITHMS, signingAlgorithmOfKeySpec } from '../pki/algorithms.js';
import type { Signer } from '../pki/signer.js';

/** KMS errors become SIGNER_UNAVAILABLE; the cause is kept for the log only. */
export function signerError(e: unknown): CaError {
  const transient = isTransientAwsError(e);
  return new CaError('SIGNER_UNAVAILABLE', 'The signing service is unavailable; retry later', {
    cause: e,
    retryAfterSeconds: transient ? 2 : 30,
  });
}

/**
 * A signer whose key never leaves AWS KMS. The public key and key spec are read
 * once with GetPublicKey (a wrong or unusable key fails here, not at the first
 * signature); each signature is one Sign call over a locally computed digest
 * (MessageType DIGEST), so the TBSCertificate itself never travels.
 */
export async function createKmsSigner(
  client: KMSClient,
  keyId: string,
  /** Told each Sign call's duration and whether it succeeded (for metrics). */
  observe?: (durationMs: number, ok: boolean) => void,
): Promise<Signer> {
  let info;
  try {
    info = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
  } catch (e) {
    throw signerError(e);
  }
  const algorithm = signingAlgorithmOfKeySpec(info.KeySpec);
  if (!algorithm || info.KeyUsage !== 'SIGN_VERIFY' || !info.PublicKey || !info.SigningAlgorithms?.includes(algorithm)) {
    throw new CaError('INTERNAL', 'The CA key in KMS cannot sign certificates', {
      logDetail: `KMS key ${keyId}: spec ${info.KeySpec}, usage ${info.KeyUsage}`,
    });
  }
  const { hash } = SIGNING_ALGORITHMS[algorithm];
  const resolvedKeyId = info.KeyId ?? keyId;
  return {
    publicKey: new Uint8Array(info.PublicKey),
    algorithm,
    async sign(tbs) {
      const digest = createHash(hash).update(tbs).digest();
      let out;
      const t0 = performance.now();
      try {
        out = await client.send(
          new SignCommand({ KeyId: resolvedKeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: algorithm }),
        );
        observe?.(performance.now() - t0, true);
      } catch (e) {
        observe?.(performance.now() - t0, false);
        throw signerError(e);
      }
      if (!out.Signature) throw signerError(new Error('KMS Sign returned no signature'));
      return new Uint8Array(out.Signature);
    },
  };
}
