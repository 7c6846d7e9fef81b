/**
 * The lot report: what an auditor needs to check, offline and with the log's
 * public key only, which certificates the issuance log holds for one lot.
 *
 *   { "format": "factory-ca/lot-report/v1",
 *     "checkpoint": "<signed note text>",
 *     "lot":    { "leafIndex", "entry", "auditPath" },   the lot-opened entry
 *     "closed": { "leafIndex", "entry", "auditPath" },   the lot-closed entry, once sequenced
 *     "certificates": [ { "certificatePem", "leafIndex", "entry", "auditPath",
 *                         "revocation": { "leafIndex", "entry", "auditPath" } } ] }   in lotSeq order
 *
 * Entries are base64 of the logged bytes, audit paths lower-case hex, and
 * everything proves against the one checkpoint. The file is the report's
 * canonical form, JSON.stringify(report, null, 2) and a newline, so that a
 * changed byte shows. tools/verify-report.mjs checks it; this module only
 * assembles it (src/cli/lot-report.ts fetches the parts from the API).
 */
import { X509Certificate } from 'node:crypto';

export const LOT_REPORT_FORMAT = 'factory-ca/lot-report/v1';

/** One log entry with its inclusion proof, as the report carries it. */
export interface ProvenEntry {
  leafIndex: number;
  /** Base64 of the logged bytes. */
  entry: string;
  /** Lower-case hex hashes, from the leaf's sibling up. */
  auditPath: string[];
}

export interface ReportCertificate extends ProvenEntry {
  certificatePem: string;
  revocation?: ProvenEntry;
}

export interface LotReport {
  format: typeof LOT_REPORT_FORMAT;
  checkpoint: string;
  lot: ProvenEntry;
  closed?: ProvenEntry;
  certificates: ReportCertificate[];
}

/** A certificate of the lot: its PEM, its issued entry, and its revoked entry when that is in the checkpoint. */
export interface CertificateProof {
  certificatePem: string;
  issued: ProvenEntry;
  revocation?: ProvenEntry;
}

/** An entry's logged JSON. */
export function entryOf(proven: ProvenEntry): Record<string, unknown> {
  return JSON.parse(Buffer.from(proven.entry, 'base64').toString('utf8')) as Record<string, unknown>;
}

/** Only the keys the report has, in its order: a proof answer of the API carries more (leafHash, treeSize, …). */
const proven = (p: ProvenEntry): ProvenEntry => ({ leafIndex: p.leafIndex, entry: p.entry, auditPath: [...p.auditPath] });

/**
 * The report of a lot: the certificates ordered by the lotSeq of their issued
 * entries, each PEM in its canonical form (64-character lines, LF).
 */
export function assembleLotReport(parts: { checkpoint: string; lot: ProvenEntry; closed?: ProvenEntry; certificates: readonly CertificateProof[] }): LotReport {
  const seq = (c: CertificateProof) => Number(entryOf(c.issued).lotSeq);
  const certificates = [...parts.certificates]
    .sort((a, b) => seq(a) - seq(b))
    .map((c) => ({
      certificatePem: new X509Certificate(c.certificatePem).toString(),
      ...proven(c.issued),
      ...(c.revocation ? { revocation: proven(c.revocation) } : {}),
    }));
  return {
    format: LOT_REPORT_FORMAT,
    checkpoint: parts.checkpoint,
    lot: proven(parts.lot),
    ...(parts.closed ? { closed: proven(parts.closed) } : {}),
    certificates,
  };
}

/** The report's file: its canonical form. */
export const formatLotReport = (report: LotReport): string => `${JSON.stringify(report, null, 2)}\n`;
