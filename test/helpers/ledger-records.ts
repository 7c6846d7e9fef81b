/** Ledger records with plausible values, for store tests (nothing in them is checked as PKI). */
import type { CaRecord, CertificateFilters, CertificatePage, CertificateRecord, CertificateStore, Claim } from '../../src/service/ports.js';

let counter = 0;
/** A new serial number (hex) on every call. */
export const serial = (): string => `${(0x10 + ++counter).toString(16)}${'ab'.repeat(8)}`;

/** A certificate record; `commonName: undefined` makes one without a common name. */
export function certificate(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  const serialNumber = overrides.serialNumber ?? serial();
  const commonName = 'commonName' in overrides ? overrides.commonName : 'device-0001';
  const record: CertificateRecord = {
    serialNumber,
    certificateId: `${serialNumber}-id`,
    profile: 'device',
    subject: { C: 'US', O: 'Example Corp', ...(commonName !== undefined ? { CN: commonName } : {}) },
    subjectDn: `C=US, O=Example Corp${commonName !== undefined ? `, CN=${commonName}` : ''}`,
    issuingCaId: 'issuing-0a0b0c0d0e0f',
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2035-01-01T00:00:00.000Z',
    csrSha256: 'c'.repeat(64),
    publicKeySha256: 'd'.repeat(64),
    stationId: 'arn:aws:sts::111122223333:assumed-role/station/line-7',
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    status: 'ISSUED',
    issuedAt: '2025-01-01T00:05:00.000Z',
    ...overrides,
  };
  if (commonName === undefined) delete record.commonName;
  else record.commonName = commonName;
  return record;
}

export const claimFor = (key: string, serialNumber: string, leaseExpiresAt = 1_767_225_600_000, token = `token-${serialNumber}`): Claim => ({
  key,
  serialNumber,
  csrSha256: 'e'.repeat(64),
  leaseExpiresAt,
  token,
});

export function caRecord(id: string, overrides: Partial<CaRecord> = {}): CaRecord {
  return {
    id,
    role: 'issuing',
    parentId: 'root-010203040506',
    key: { kind: 'kms', keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
    fingerprintSha256: 'f'.repeat(64),
    subject: 'C=US, O=Example Corp, CN=Example Corp Issuing CA',
    keyIdentifier: '0123456789abcdef0123456789abcdef01234567',
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2045-01-01T00:00:00.000Z',
    status: 'ACTIVE',
    createdAt: '2025-01-01T00:00:00.000Z',
    activatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/**
 * Certificates for ledger queries: four common names (one of them none), two
 * issuing CAs, three stations, both statuses, issued over five days, five hours
 * apart; each with its own serial.
 */
export function ledgerSample(): CertificateRecord[] {
  const names = ['dev-a', 'dev-b', 'dev-c', undefined];
  const stations = ['line-1', 'line-2', 'arn:aws:sts::111122223333:assumed-role/station/line-7'];
  return Array.from({ length: 24 }, (_, i) =>
    certificate({
      commonName: names[i % 4],
      issuingCaId: i % 3 === 0 ? 'issuing-2' : 'issuing-1',
      stationId: stations[(i >> 1) % 3]!,
      status: i % 5 === 0 ? 'REVOKED' : 'ISSUED',
      ...(i % 5 === 0 ? { revokedAt: '2025-04-01T00:00:00.000Z', revocationReason: 'superseded' } : {}),
      issuedAt: new Date(Date.UTC(2025, 2, 1) + i * 5 * 3_600_000).toISOString(),
    }),
  );
}

/** What a ledger query must answer: the records that match every filter, in issue order. */
export function matching(records: CertificateRecord[], f: CertificateFilters): CertificateRecord[] {
  const order = (r: CertificateRecord) => `${r.issuedAt}#${r.serialNumber}`;
  return records
    .filter(
      (r) =>
        (f.commonName === undefined || r.commonName === f.commonName) &&
        (f.issuingCaId === undefined || r.issuingCaId === f.issuingCaId) &&
        (f.stationId === undefined || r.stationId === f.stationId) &&
        (f.status === undefined || r.status === f.status) &&
        (f.issuedAfter === undefined || r.issuedAt >= f.issuedAfter) &&
        (f.issuedBefore === undefined || r.issuedAt < f.issuedBefore),
    )
    .sort((a, b) => (order(a) < order(b) ? -1 : 1));
}

/** Every page of a query, following next to the end (at most 200 pages). */
export async function pagesOf(store: Pick<CertificateStore, 'listCertificates'>, filters: CertificateFilters, limit: number): Promise<CertificatePage[]> {
  const pages: CertificatePage[] = [];
  let next: string | undefined;
  do {
    const page = await store.listCertificates({ filters, limit, ...(next ? { next } : {}) });
    pages.push(page);
    next = page.next;
  } while (next && pages.length < 200);
  if (next) throw new Error('more than 200 pages');
  return pages;
}
