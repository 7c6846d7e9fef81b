/**
 * In-process measurements of the issuance pipeline (no database, no network):
 * the fast path, the reference path (@peculiar/x509), and the cryptographic floor
 * — the three operations no implementation can avoid: load the CSR's public key,
 * verify the CSR with it (its first use), sign the certificate — measured on the
 * same CSRs in the same run.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { acceptRequest } from '../src/pki/request.js';
import { certificateDer, deviceTbsCertificate, fastDeviceCertificate } from '../src/pki/fast-certificate.js';
import { evaluateSubject } from '../src/pki/policy.js';
import { isAllowedKeyType } from '../src/pki/keys.js';
import { subjectObject } from '../src/pki/names.js';
import { deviceValidity, type Issuer } from '../src/pki/profile.js';
import { parseCsr, publicKeyOf, verifyKeyOf } from '../src/pki/csr.js';
import { newSerial } from '../src/pki/serial.js';
import { toPem } from '../src/pki/pem.js';
import type { Policy } from '../src/pki/policy.js';
import { referenceDeviceCertificate } from '../test/helpers/reference-device-certificate.js';

export interface Stats {
  /** Microseconds per certificate: median over rounds, and the range. */
  median: number;
  min: number;
  max: number;
}

export const stats = (samples: number[]): Stats => {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
};

/** Runs `fn` over every input, `rounds` times (after a warm-up round); µs per item per round. */
async function rounds(inputs: string[], count: number, fn: (input: string) => unknown): Promise<number[]> {
  for (const input of inputs.slice(0, Math.min(200, inputs.length))) await fn(input);
  const out: number[] = [];
  for (let r = 0; r < count; r++) {
    const t0 = performance.now();
    for (const input of inputs) await fn(input);
    out.push(((performance.now() - t0) * 1000) / inputs.length);
  }
  return out;
}

export interface PipelineResult {
  /** The fast pipeline: parse, verify, policy, build, sign (software signer), PEM. */
  fast: Stats;
  /** The reference pipeline: the same checks, the certificate built by @peculiar/x509 (the differential test's reference). */
  reference: Stats;
  /** Load the public key + verify the CSR with it + sign a TBSCertificate-sized message, in one pass per CSR. */
  floor: Stats;
  /** fast / floor, per pair of rounds run one after the other. */
  ratio: Stats;
  /**
   * The floor's parts. `loadAndVerify` loads each CSR's key afresh and verifies
   * with it once, as any issuer must: OpenSSL 3 prepares a key on its first use
   * (about 20 µs for P-256), so verifying again with an already used key would
   * make the floor look cheaper than it is. `verifyWarm` is that repeat, shown
   * for comparison only.
   */
  loadKey: Stats;
  loadAndVerify: Stats;
  verifyWarm: Stats;
  signOnly: Stats;
  /** CPU (user + system, all threads) per certificate of the fast pipeline, µs. */
  fastCpu: number;
  /**
   * The fast pipeline with the three cryptographic operations taken out (a
   * fixed signature instead of signing; the key neither loaded nor used):
   * PEM/DER in, parse, policy, serial, validity, TBSCertificate (its SHA-1 key
   * identifier included), Certificate, PEM out.
   */
  nonCrypto: Stats;
}

export async function measurePipeline(csrs: string[], policy: Policy, issuer: Issuer, caKey: KeyObject, roundCount = 5): Promise<PipelineResult> {
  const validity = () => deviceValidity(new Date(), policy.validityDays, policy.backdateSeconds, issuer.notAfter);
  const parsed = new Map(csrs.map((c) => [c, parseCsr(c)]));
  const tbsLike = Buffer.alloc(420, 7); // a TBSCertificate is about 420 bytes for P-256

  const fastRun = async (csr: string) => {
    const { csr: p } = acceptRequest(csr, policy);
    const built = await fastDeviceCertificate(p, issuer, newSerial(), validity());
    return toPem('CERTIFICATE', built.der);
  };
  const floorRun = (csr: string) => {
    const p = parsed.get(csr)!;
    if (!verify('sha256', p.infoDer, verifyKeyOf(p), p.signature)) throw new Error('bad CSR signature');
    return sign('sha256', tbsLike, { key: caKey, dsaEncoding: 'der' });
  };
  // The fast path and the floor alternate round by round, so that a shared
  // machine's drift touches both alike; the ratio is taken per pair of rounds.
  const fast: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < roundCount + 2; r++) {
    fast.push(...(await rounds(csrs, 1, fastRun)));
    floor.push(...(await rounds(csrs, 1, floorRun)));
  }
  const ratio = fast.map((v, i) => v / floor[i]!);
  const cpu0 = process.cpuUsage();
  for (const csr of csrs) await fastRun(csr);
  const cpu = process.cpuUsage(cpu0);
  const fastCpu = (cpu.user + cpu.system) / csrs.length;

  const reference = await rounds(csrs.slice(0, Math.min(csrs.length, 400)), Math.min(roundCount, 3), async (csr) => {
    const { csr: p } = acceptRequest(csr, policy);
    const built = await referenceDeviceCertificate(p, issuer, newSerial(), validity());
    return toPem('CERTIFICATE', built.der);
  });

  const fixedSignature = sign('sha256', tbsLike, { key: caKey, dsaEncoding: 'der' });
  const nonCrypto = await rounds(csrs, roundCount, (csr) => {
    const p = parseCsr(csr);
    if (!isAllowedKeyType(p.key.keyType, policy.keyTypes) || evaluateSubject(policy, p.subject).length) throw new Error('refused');
    subjectObject(p.subject);
    const tbs = deviceTbsCertificate(p, issuer, newSerial(), validity());
    return toPem('CERTIFICATE', certificateDer(tbs, issuer.signer.algorithm, fixedSignature));
  });

  const loadKey = await rounds(csrs, roundCount, (csr) => publicKeyOf(parsed.get(csr)!));
  const loadAndVerify = await rounds(csrs, roundCount, (csr) => {
    const p = parsed.get(csr)!;
    if (!verify('sha256', p.infoDer, verifyKeyOf(p), p.signature)) throw new Error('bad CSR signature');
  });
  const keys = new Map(csrs.map((c) => [c, publicKeyOf(parsed.get(c)!)]));
  const verifyWarm = await rounds(csrs, roundCount, (csr) => {
    const p = parsed.get(csr)!;
    return verify('sha256', p.infoDer, keys.get(csr)!, p.signature);
  });
  const signOnly = await rounds(csrs, roundCount, () => sign('sha256', tbsLike, { key: caKey, dsaEncoding: 'der' }));

  return {
    fast: stats(fast),
    ratio: stats(ratio),
    reference: stats(reference),
    floor: stats(floor),
    loadKey: stats(loadKey),
    loadAndVerify: stats(loadAndVerify),
    verifyWarm: stats(verifyWarm),
    signOnly: stats(signOnly),
    fastCpu,
    nonCrypto: stats(nonCrypto),
  };
}
