import { KeyError, PolicyError } from './errors.js';
import { parseCsr, verifyCsr, type ParsedCsr } from './csr.js';
import { isAllowedKeyType, type KeyDescription } from './keys.js';
import { rsaKeyRefusal } from './rsa-key-quality.js';
import { evaluateSubject, type Policy } from './policy.js';
import { subjectObject } from './names.js';

/** A CSR that passed every check: it may be turned into a certificate. */
export interface AcceptedRequest {
  csr: ParsedCsr;
  subject: Record<string, string>;
  commonName: string | undefined;
}

/** Per-stage timings in milliseconds, for the request log. */
export type StageTimings = Record<string, number>;

export function timed<T>(timings: StageTimings, stage: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    timings[stage] = (timings[stage] ?? 0) + performance.now() - t0;
  }
}

/**
 * The checking half of the issuance pipeline: parse → verify (proof of
 * possession, before anything else) → key type → RSA weak-key tests → subject policy.
 */
export function acceptRequest(input: string | Uint8Array, policy: Policy, timings: StageTimings = {}): AcceptedRequest {
  const csr = timed(timings, 'parse', () => parseCsr(input));
  timed(timings, 'verify', () => verifyCsr(csr));
  return timed(timings, 'policy', () => {
    if (!isAllowedKeyType(csr.key.keyType, policy.keyTypes)) {
      throw new KeyError(`Key type ${csr.key.keyType} is not allowed`, {
        details: [{ field: 'publicKey', reason: `${csr.key.keyType} is not one of ${policy.keyTypes.join(', ')}` }],
      });
    }
    if (csr.key.rsa) refuseWeakRsaKey(csr.key.rsa, policy);
    const violations = evaluateSubject(policy, csr.subject);
    if (violations.length > 0) {
      throw new PolicyError('The CSR subject does not satisfy the issuance policy', { details: violations });
    }
    const subject = subjectObject(csr.subject);
    return { csr, subject, commonName: subject.CN };
  });
}

/** An RSA key of a known weak class (rsa-key-quality.ts) is refused like a disallowed key type. */
function refuseWeakRsaKey(rsa: NonNullable<KeyDescription['rsa']>, policy: Policy): void {
  const refusal = rsaKeyRefusal(rsa.modulus, rsa.exponent, { allowedExponents: policy.rsaPublicExponents });
  if (refusal) {
    throw new KeyError(`The RSA key is weak: ${refusal.reason}`, {
      details: [{ field: 'publicKey', reason: refusal.reason, check: refusal.id }],
    });
  }
}
