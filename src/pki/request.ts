import { CaError } from './errors.js';
import { parseCsr, verifyCsr, type ParsedCsr } from './csr.js';
import { isAllowedKeyType } from './keys.js';
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
 * possession, before anything else) → key type → subject policy.
 */
export function acceptRequest(input: string | Uint8Array, policy: Policy, timings: StageTimings = {}): AcceptedRequest {
  const csr = timed(timings, 'parse', () => parseCsr(input));
  timed(timings, 'verify', () => verifyCsr(csr));
  return timed(timings, 'policy', () => {
    if (!isAllowedKeyType(csr.key.keyType, policy.keyTypes)) {
      throw new CaError('KEY_NOT_ALLOWED', `Key type ${csr.key.keyType} is not allowed`, {
        details: [{ field: 'publicKey', reason: `${csr.key.keyType} is not one of ${policy.keyTypes.join(', ')}` }],
      });
    }
    const violations = evaluateSubject(policy, csr.subject);
    if (violations.length > 0) {
      throw new CaError('POLICY_VIOLATION', 'The CSR subject does not satisfy the issuance policy', { details: violations });
    }
    const subject = subjectObject(csr.subject);
    return { csr, subject, commonName: subject.CN };
  });
}
