import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SIGNING_ALGORITHMS, signingAlgorithmOfKey, type SigningAlgorithm } from './algorithms.js';

/**
 * The signer port: a CA private key that can sign but never be read. `sign`
 * receives the bytes to be signed (a TBSCertificate) and returns the signature
 * exactly as X.509 carries it (DER ECDSA-Sig-Value for ECDSA keys).
 */
export interface Signer {
  /** SubjectPublicKeyInfo DER of the key. */
  readonly publicKey: Uint8Array;
  readonly algorithm: SigningAlgorithm;
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** The signing algorithm a CA key of this type uses (P-256 → SHA-256, P-384 → SHA-384, RSA → SHA-256). */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm {
  const algorithm = signingAlgorithmOfKey(key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve);
  if (algorithm) return algorithm;
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
}

export class SoftwareSignerRefused extends Error {
  constructor() {
    super('The software signer is for local mode and tests only; it refuses to run in a deployed Lambda function');
    this.name = 'SoftwareSignerRefused';
  }
}

/** True inside a deployed Lambda function (serverless-offline sets IS_OFFLINE=true). */
export const isDeployedLambda = (env: NodeJS.ProcessEnv): boolean =>
  Boolean(env.AWS_LAMBDA_FUNCTION_NAME) && env.IS_OFFLINE !== 'true';

/**
 * A signer over a PKCS#8 private key held in memory. For local mode and tests
 * only: it refuses to be created in a deployed Lambda function.
 */
export function createSoftwareSigner(pkcs8: string | Uint8Array | KeyObject, env: NodeJS.ProcessEnv = process.env): Signer {
  if (isDeployedLambda(env)) throw new SoftwareSignerRefused();
  const privateKey =
    typeof pkcs8 === 'string'
      ? createPrivateKey(pkcs8)
      : pkcs8 instanceof Uint8Array
        ? createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
        : pkcs8;
  const algorithm = signingAlgorithmFor(privateKey);
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const { hash } = SIGNING_ALGORITHMS[algorithm];
  return {
    publicKey,
    algorithm,
    sign: async (tbs) => new Uint8Array(cryptoSign(hash, tbs, { key: privateKey, dsaEncoding: 'der' })),
  };
}
