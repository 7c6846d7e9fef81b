import { CaError } from './errors.js';
import { previewProvisioning, type ProvisioningPreview, type ProvisioningTemplate } from '../provisioning/template.js';
import type { CaChain, CaChains } from './ca-directory.js';
import type { CertificateRecord, CertificateStore } from './ports.js';

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

/** What reading the ledger needs: the records, the CA chains (never a key), the JITP template. */
export interface ReadDeps {
  store: Pick<CertificateStore, 'getCertificate' | 'listByCommonName'>;
  chains: Pick<CaChains, 'chain'>;
  template: ProvisioningTemplate;
}

export async function getCertificate(d: ReadDeps, serialNumber: string): Promise<CertificateDetails> {
  const record = await d.store.getCertificate(serialNumber);
  if (!record) throw new CaError('NOT_FOUND', `No certificate with serial number ${serialNumber}`);
  return describeCertificate(d.template, record, await d.chains.chain(record.issuingCaId));
}

/** Every certificate issued for a common name, oldest first. */
export async function listCertificates(d: ReadDeps, commonName: string): Promise<CertificateDetails[]> {
  const records = await d.store.listByCommonName(commonName);
  return Promise.all(records.map(async (r) => describeCertificate(d.template, r, await d.chains.chain(r.issuingCaId))));
}
