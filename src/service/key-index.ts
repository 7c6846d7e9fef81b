/**
 * The key index for a ledger that has certificates from before it: every ISSUED
 * certificate's key is taken for that certificate, every revoked certificate's
 * key blocked. Idempotent (a key already indexed for the same certificate is
 * left as it is) and resumable (each page reports where the next starts).
 */
import type { CaStore, CertificateScan, CertificateStore, Clock } from './ports.js';

/** The marker of a ledger whose key index covers every certificate: set at its creation, or when a re-index completes. */
export const KEY_INDEX_MARKER = 'keyIndexComplete';

export interface ReindexDeps {
  store: CertificateStore & CertificateScan & Pick<CaStore, 'putMarker'>;
  clock: Clock;
}

export interface ReindexReport {
  scanned: number;
  /** Keys of ISSUED certificates newly taken for them. */
  indexed: number;
  /** Keys of revoked certificates newly blocked. */
  blocked: number;
  /** Found indexed already (a rerun). */
  unchanged: number;
  /** What an operator must look at: an ISSUED certificate whose key is blocked, or two certificates sharing a key. */
  conflicts: Array<{ serialNumber: string; spkiSha256: string; problem: string }>;
  /** Where to resume; absent when the whole ledger was covered. */
  next?: string;
}

export async function reindexKeys(
  d: ReindexDeps,
  options: { after?: string; pageSize?: number; onPage?: (report: ReindexReport) => void } = {},
): Promise<ReindexReport> {
  const report: ReindexReport = { scanned: 0, indexed: 0, blocked: 0, unchanged: 0, conflicts: [] };
  let after = options.after;
  do {
    const page = await d.store.scanCertificates({ limit: options.pageSize ?? 100, ...(after ? { after } : {}) });
    for (const r of page.records) {
      report.scanned++;
      const spkiSha256 = r.publicKeySha256;
      if (r.status === 'REVOKED') {
        const { changed } = await d.store.blockKey(spkiSha256, { at: r.revokedAt ?? d.clock().toISOString(), reason: r.revocationReason ?? 'unspecified', serialNumber: r.serialNumber });
        if (changed) report.blocked++;
        else report.unchanged++;
        continue;
      }
      if (r.status !== 'ISSUED') continue;
      const token = `ledger:${r.serialNumber}`;
      const existing = await d.store.getKey(spkiSha256);
      if (existing?.status === 'IN_USE' && (existing.token === token || existing.serialNumber === r.serialNumber)) {
        report.unchanged++;
        continue;
      }
      const holder = existing ?? (await d.store.claimKey({ spkiSha256, status: 'IN_USE', token, serialNumber: r.serialNumber }));
      if (!holder) report.indexed++;
      else if (holder.status === 'BLOCKED') report.conflicts.push({ serialNumber: r.serialNumber, spkiSha256, problem: `ISSUED with a blocked key (${holder.blockedBySerial ? `revoked certificate ${holder.blockedBySerial}` : holder.blockedByEntry ?? 'block list'}): revoke it` });
      else if (holder.serialNumber && holder.serialNumber !== r.serialNumber) {
        report.conflicts.push({ serialNumber: r.serialNumber, spkiSha256, problem: `shares its key with certificate ${holder.serialNumber}: two devices, one key` });
      } else report.unchanged++;
    }
    after = page.next;
    report.next = page.next;
    options.onPage?.({ ...report });
  } while (after);
  delete report.next;
  await d.store.putMarker(KEY_INDEX_MARKER, d.clock().toISOString());
  return report;
}
