/**
 * The operators' block list: public keys that must never be certified, such as
 * keys a secure-element vendor reports as leaked. Blocking is final and
 * idempotent (a key blocked twice keeps its first time, reason and entry).
 */
import { CaError } from './errors.js';
import type { CertificateStore, Clock, KeyEntry } from './ports.js';

export interface BlockDeps {
  store: Pick<CertificateStore, 'blockKey' | 'getKey'>;
  clock: Clock;
}

export interface BlockRequest {
  spkiSha256: string;
  /** An RFC 5280 reason name. */
  reason: string;
  /** Where the entry comes from (an incident id, a vendor's list), recorded with it. */
  entry: string;
}

export async function blockKeys(d: BlockDeps, requests: BlockRequest[]): Promise<Array<{ entry: KeyEntry; changed: boolean }>> {
  const at = d.clock().toISOString();
  const out: Array<{ entry: KeyEntry; changed: boolean }> = [];
  for (const r of requests) out.push(await d.store.blockKey(r.spkiSha256, { at, reason: r.reason, entry: r.entry }));
  return out;
}

/** A blocked key's entry; NOT_FOUND when the key is not blocked (unknown, or certified and in use). */
export async function getBlockedKey(d: BlockDeps, spkiSha256: string): Promise<KeyEntry> {
  const entry = await d.store.getKey(spkiSha256);
  if (entry?.status !== 'BLOCKED') throw new CaError('NOT_FOUND', `The key ${spkiSha256} is not blocked`);
  return entry;
}
