import { KeyError, PolicyError, type ErrorDetail } from './errors.js';
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
  timed(timings, 'verify', () => {
    try {
      verifyCsr(csr);
    } catch (e) {
      // A key it cannot even check (Ed448, RSA-PSS…) is refused as the policy refuses a key type: naming those allowed.
      throw e instanceof KeyError ? keyTypeNotAllowed(csr.key.keyType, policy, e) : e;
    }
  });
  return timed(timings, 'policy', () => {
    if (!isAllowedKeyType(csr.key.keyType, policy.keyTypes)) throw keyTypeNotAllowed(csr.key.keyType, policy);
    if (csr.key.rsa) refuseWeakRsaKey(csr.key.rsa, policy);
    const violations = evaluateSubject(policy, csr.subject);
    if (violations.length > 0) throw new PolicyError(policyMessage(violations), { details: violations });
    const subject = subjectObject(csr.subject);
    return { csr, subject, commonName: subject.CN };
  });
}

function keyTypeNotAllowed(keyType: string, policy: Policy, cause?: unknown): KeyError {
  return new KeyError(`Key type ${keyType} is not allowed; make the device key one of ${policy.keyTypes.join(', ')}`, {
    details: [{ field: 'publicKey', reason: `${keyType} is not one of ${policy.keyTypes.join(', ')}` }],
    ...(cause ? { cause } : {}),
  });
}

/** The refusal in one line a station can show: the first violations, each field with its reason; the rest in details. */
function policyMessage(violations: ErrorDetail[]): string {
  const shown = violations.slice(0, 3).map((v) => `${v.field} ${v.reason}`);
  const more = violations.length - shown.length;
  return `The CSR subject does not satisfy the issuance policy: ${shown.join('; ')}${more > 0 ? `; and ${more} more (see details)` : ''}`;
}

/** An RSA key of a known weak class (rsa-key-quality.ts) is refused like a disallowed key type. */
function refuseWeakRsaKey(rsa: NonNullable<KeyDescription['rsa']>, policy: Policy): void {
  const refusal = rsaKeyRefusal(rsa.modulus, rsa.exponent, { allowedExponents: policy.rsaPublicExponents });
  if (refusal) {
    throw new KeyError(`The RSA key is weak: ${refusal.reason}; make a new key pair for the device`, {
      details: [{ field: 'publicKey', reason: refusal.reason, check: refusal.id }],
    });
  }
}
