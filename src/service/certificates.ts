import { CaError } from './errors.js';
import { previewProvisioning, type ProvisioningPreview, type ProvisioningTemplate } from '../provisioning/template.js';
import type { CaChain, CaChains } from './ca-directory.js';
import type { CertificateQuery, CertificateRecord, CertificateStore, Clock } from './ports.js';

/** A certificate as the service describes it: its record, its CA chain, and what JITP will make of it. */
export interface CertificateDetails {
  record: CertificateRecord;
  chain: CaChain;
  provisioning: ProvisioningPreview;
}

/**
 * What AWS IoT's just-in-time provisioning will do with a certificate under the
 * registered template. A revoked certificate is never provisioned: AWS IoT
 * refuses its connections, so the preview says so.
 */
export function describeCertificate(template: ProvisioningTemplate, record: CertificateRecord, chain: CaChain): CertificateDetails {
  const preview = previewProvisioning(template, record.subject, record.certificateId);
  const provisioning =
    record.status === 'REVOKED'
      ? { ...preview, certificateStatus: 'REVOKED', problems: [...preview.problems, 'the certificate is revoked: AWS IoT refuses its connections'] }
      : preview;
  return { record, chain, provisioning };
}

/** What reading the ledger needs: the records, the CA chains (never a key), the JITP template, the time. */
export interface ReadDeps {
  store: Pick<CertificateStore, 'getCertificate' | 'listCertificates'>;
  chains: Pick<CaChains, 'chain'>;
  template: ProvisioningTemplate;
  clock: Clock;
}

export async function getCertificate(d: ReadDeps, serialNumber: string): Promise<CertificateDetails> {
  const record = await d.store.getCertificate(serialNumber);
  if (!record) throw new CaError('NOT_FOUND', `No certificate with serial number ${serialNumber}`);
  return describeCertificate(d.template, record, await d.chains.chain(record.issuingCaId));
}

/** A page of the ledger, and the token of the next one while there may be more. */
export interface CertificateList {
  items: CertificateDetails[];
  next?: string;
}

/**
 * One page of the certificates that match every filter, in issue order. A query
 * by time alone ends now when it names no end.
 */
export async function listCertificates(d: ReadDeps, query: CertificateQuery): Promise<CertificateList> {
  const { filters } = query;
  const byTimeAlone = filters.commonName === undefined && filters.issuingCaId === undefined && filters.stationId === undefined && filters.status === undefined;
  let bounded = filters;
  if (byTimeAlone && filters.issuedAfter !== undefined && filters.issuedBefore === undefined) {
    const now = d.clock().toISOString();
    // Nothing is issued in the future.
    if (filters.issuedAfter >= now) return { items: [] };
    bounded = { ...filters, issuedBefore: now };
  }
  const page = await d.store.listCertificates({ ...query, filters: bounded });
  const items = await Promise.all(page.records.map(async (r) => describeCertificate(d.template, r, await d.chains.chain(r.issuingCaId))));
  return { items, ...(page.next !== undefined ? { next: page.next } : {}) };
}
