/**
 * A stand-in for the factory-ca API on a local port, for the command line's
 * tests: it issues real certificates (a throwaway root and issuing CA), answers
 * a repeated CSR with the same certificate (200), checks AWS Signature V4 by
 * recomputing it with the SDK's signer, pages the list as the API documents it,
 * counts what it issues, and answers what a test plans for a request
 * (429, 503 with Retry-After, …).
 */
import 'reflect-metadata';
import { Sha256 } from '@aws-crypto/sha256-js';
import * as x509 from '@peculiar/x509';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface Planned {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Whether the SigV4 signature checked out (undefined when not required). */
  signatureValid?: boolean;
}

export interface FakeApiOptions {
  /** Require SigV4 with these credentials (service execute-api, this region). */
  sigv4?: { accessKeyId: string; secretAccessKey: string; region: string };
  /** An answer to give instead of the real one (called for every request; undefined: the real one). */
  plan?: (req: Seen, n: number) => Planned | undefined;
  /** Filter the list by commonName only, ignoring the other filters (as the API did before it had them). */
  commonNameOnly?: boolean;
  /** Called after each certificate is issued (201), with the count so far. */
  onIssued?: (count: number) => void;
}

interface Record_ {
  serialNumber: string;
  certificatePem: string;
  subject: { CN: string; O?: string; C?: string };
  issuingCaId: string;
  notBefore: string;
  notAfter: string;
  status: 'ISSUED' | 'REVOKED';
  issuedAt: string;
  stationId: string;
  revokedAt?: string;
  revocationReason?: string;
  csrHash: string;
}

export interface FakeApi {
  url: string;
  seen: Seen[];
  /** How many times each CSR (by SHA-256 of its DER) was issued anew. */
  issuedPerCsr: Map<string, number>;
  records: Record_[];
  rootPem: string;
  issuingPem: string;
  close(): Promise<void>;
  /** Adds ledger records for the list tests. */
  seed(n: number, over?: (i: number) => Partial<Record_>): void;
}

const pemOf = (c: x509.X509Certificate) => c.toString('pem').replace(/\r\n/g, '\n') + '\n';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const error = (code: string, message: string, details?: unknown[]) => ({ error: { code, message, ...(details ? { details } : {}) } });

/** Recomputes the request's signature with the SDK's signer and compares. */
async function checkSignature(seen: Seen, creds: NonNullable<FakeApiOptions['sigv4']>): Promise<boolean> {
  const auth = String(seen.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m || m[1] !== creds.accessKeyId || m[3] !== creds.region || m[4] !== 'execute-api') return false;
  const amzDate = String(seen.headers['x-amz-date'] ?? '');
  const when = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (Number.isNaN(when.getTime()) || Math.abs(Date.now() - when.getTime()) > 5 * 60_000) return false;
  const headers: Record<string, string> = {};
  for (const h of m[5]!.split(';')) headers[h] = String(seen.headers[h] ?? '');
  const query: Record<string, string> = {};
  for (const [k, v] of seen.query) query[k] = v;
  const signer = new SignatureV4({ service: 'execute-api', region: creds.region, credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }, sha256: Sha256, applyChecksum: false });
  const request = new HttpRequest({ method: seen.method, protocol: 'http:', hostname: headers.host ?? '', path: seen.path, query, headers, body: seen.body });
  const signed = await signer.sign(request, { signingDate: when });
  return signed.headers.authorization === auth;
}

export async function startFakeApi(options: FakeApiOptions = {}): Promise<FakeApi> {
  const now = Date.now();
  const rootKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const issuingKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caExtensions = (pathLen: number) => [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  const notBefore = new Date(now - 3600_000);
  const root = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'C=US, O=Example Corp, CN=Test Root', notBefore, notAfter: new Date(now + 20 * 365 * 86400_000), keys: rootKeys, signingAlgorithm: ALG, extensions: [...caExtensions(1), await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey)] });
  const issuing = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'C=US, O=Example Corp, CN=Test Issuing CA G1',
    issuer: root.subject,
    notBefore,
    notAfter: new Date(now + 10 * 365 * 86400_000),
    publicKey: issuingKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [...caExtensions(0), await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey), await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey)],
  });
  const rootPem = pemOf(root);
  const issuingPem = pemOf(issuing);

  const seen: Seen[] = [];
  const records: Record_[] = [];
  const byCsr = new Map<string, Record_>();
  const issuedPerCsr = new Map<string, number>();
  let issuedCount = 0;

  const view = (r: Record_) => {
    const { csrHash: _h, ...rest } = r;
    return { ...rest, certificateId: createHash('sha256').update(r.serialNumber).digest('hex'), certificateChainPem: r.certificatePem + issuingPem, caCertificatePem: issuingPem, rootCertificatePem: rootPem };
  };

  async function issue(seen: Seen, res: ServerResponse) {
    const type = String(seen.headers['content-type'] ?? '').split(';')[0];
    if (type !== 'application/pkcs10') return send(res, 415, error('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type} is not supported`));
    let der: Buffer;
    if (seen.body[0] === 0x30) der = seen.body;
    else {
      const m = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]+?)-----END CERTIFICATE REQUEST-----/.exec(seen.body.toString('utf8'));
      if (!m) return send(res, 400, error('CSR_MALFORMED', 'not a PKCS#10 request'));
      der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
    }
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
    } catch {
      return send(res, 400, error('CSR_MALFORMED', 'not a PKCS#10 request'));
    }
    if (!(await csr.verify())) return send(res, 400, error('CSR_SIGNATURE_INVALID', 'the CSR signature does not verify'));
    const hash = createHash('sha256').update(der).digest('hex');
    const before = byCsr.get(hash);
    if (before) return send(res, 200, view(before), { location: `/certificates/${before.serialNumber}` });
    const cn = csr.subjectName.getField('CN')[0] ?? '';
    const holder = records.find((r) => r.subject.CN === cn && r.status === 'ISSUED');
    if (holder) return send(res, 409, error('DUPLICATE_COMMON_NAME', `Common name ${cn} already has an issued certificate`, [{ field: 'CN', reason: 'already issued', serialNumber: holder.serialNumber }]));
    const serialNumber = '4' + randomBytes(16).toString('hex').slice(1); // 32 hex digits, as the API's serials
    const notAfter = new Date(now + 365 * 86400_000);
    const cert = await x509.X509CertificateGenerator.create({ serialNumber, subject: csr.subject, issuer: issuing.subject, notBefore, notAfter, publicKey: csr.publicKey, signingKey: issuingKeys.privateKey, signingAlgorithm: ALG, extensions: [new x509.BasicConstraintsExtension(false, undefined, true)] });
    const record: Record_ = {
      serialNumber,
      certificatePem: pemOf(cert),
      subject: { C: 'US', O: 'Example Corp', CN: cn },
      issuingCaId: 'issuing-1',
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      status: 'ISSUED',
      issuedAt: new Date().toISOString(),
      stationId: String(seen.headers['x-station-id'] ?? 'local'),
      csrHash: hash,
    };
    records.push(record);
    byCsr.set(hash, record);
    issuedPerCsr.set(hash, (issuedPerCsr.get(hash) ?? 0) + 1);
    send(res, 201, view(record), { location: `/certificates/${serialNumber}` });
    options.onIssued?.(++issuedCount);
  }

  function list(seen: Seen, res: ServerResponse) {
    const q = seen.query;
    const limit = q.has('limit') ? Number(q.get('limit')) : 100;
    if (!(limit >= 1 && limit <= 1000)) return send(res, 400, error('INVALID_REQUEST', 'limit must be 1-1000'));
    const matches = records.filter(
      (r) =>
        (!q.has('commonName') || r.subject.CN === q.get('commonName')) &&
        (options.commonNameOnly ||
          ((!q.has('issuingCaId') || r.issuingCaId === q.get('issuingCaId')) &&
          (!q.has('status') || r.status === q.get('status')) &&
          (!q.has('stationId') || r.stationId === q.get('stationId')) &&
          (!q.has('issuedAfter') || r.issuedAt >= q.get('issuedAfter')!) &&
          (!q.has('issuedBefore') || r.issuedAt < q.get('issuedBefore')!))),
    );
    const start = q.has('next') ? Number(Buffer.from(q.get('next')!, 'base64url').toString()) : 0;
    const items = matches.slice(start, start + limit).map(view);
    const next = start + limit < matches.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
    send(res, 200, { items, ...(next ? { next } : {}) });
  }

  async function route(seen: Seen, res: ServerResponse) {
    const { method, path } = seen;
    if (method === 'POST' && path === '/certificates') return issue(seen, res);
    if (method === 'GET' && path === '/certificates') return list(seen, res);
    if (method === 'GET' && path === '/ca') return send(res, 200, { id: 'issuing-1', certificatePem: issuingPem, notBefore: notBefore.toISOString(), notAfter: issuing.notAfter.toISOString(), rootCertificatePem: rootPem, chainPem: issuingPem + rootPem });
    if (method === 'POST' && path === '/ca/rotate') {
      const { force = false, key } = seen.body.length ? (JSON.parse(seen.body.toString()) as { force?: boolean; key?: string }) : {};
      const logKey =
        force && key === 'log'
          ? { rotated: true, reason: 'forced', generation: 2, keyAlias: 'alias/factory-ca-test-log-2', previousGeneration: 1, cosignUntil: '2030-02-01T00:00:00.000Z', actions: ['created alias/factory-ca-test-log-2'] }
          : { rotated: false, reason: 'not due', generation: 1, keyAlias: 'alias/factory-ca-test-log-1', nextDueAt: '2031-01-01T00:00:00.000Z', actions: [] };
      const ca =
        force && key !== 'log'
          ? { rotated: true, reason: 'forced', activeIssuingCaId: 'issuing-2', previousIssuingCaId: 'issuing-1', actions: ['created issuing-2'], cas: [] }
          : { rotated: false, reason: 'not due', activeIssuingCaId: 'issuing-1', nextDueAt: '2030-01-01T00:00:00.000Z', actions: [], cas: [] };
      return send(res, 200, { ...ca, logKey });
    }
    const one = /^\/certificates\/([0-9a-f]+)(\/revoke)?$/.exec(path);
    const record = one && records.find((r) => r.serialNumber === one[1]);
    if (one && !record) return send(res, 404, error('NOT_FOUND', `No certificate with serial number ${one[1]}`));
    if (one && method === 'GET' && !one[2]) return send(res, 200, view(record!));
    if (one && method === 'POST' && one[2]) {
      const { reason = 'unspecified' } = seen.body.length ? (JSON.parse(seen.body.toString()) as { reason?: string }) : {};
      const already = record!.status === 'REVOKED';
      if (!already) Object.assign(record!, { status: 'REVOKED', revokedAt: new Date().toISOString(), revocationReason: reason });
      return send(res, 200, { serialNumber: record!.serialNumber, status: 'REVOKED', revokedAt: record!.revokedAt, revocationReason: record!.revocationReason, alreadyRevoked: already, iot: { certificateId: 'abc', outcome: 'DRY_RUN', wasRegistered: false } });
    }
    send(res, 404, error('NOT_FOUND', 'no such route'));
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const u = new URL(req.url ?? '/', 'http://localhost');
        const s: Seen = { method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
        seen.push(s);
        if (options.sigv4) {
          s.signatureValid = await checkSignature(s, options.sigv4);
          if (!s.signatureValid) return send(res, 403, error('ACCESS_DENIED', 'The request signature is missing, wrong or stale'));
        }
        const planned = options.plan?.(s, seen.length);
        if (planned) return send(res, planned.status, planned.body ?? error(planned.status === 429 ? 'THROTTLED' : 'SIGNER_UNAVAILABLE', 'try later'), planned.headers);
        await route(s, res);
      })().catch((e: Error) => send(res, 500, error('INTERNAL', e.message)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    issuedPerCsr,
    records,
    rootPem,
    issuingPem,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    seed(n, over) {
      for (let i = 0; i < n; i++) {
        const serialNumber = (0x1000 + i).toString(16);
        records.push({ serialNumber, certificatePem: '', subject: { CN: `seed-${i}` }, issuingCaId: 'issuing-1', notBefore: '', notAfter: '', status: 'ISSUED', issuedAt: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(), stationId: 'station-a', csrHash: `seed${i}`, ...over?.(i) });
      }
    },
  };
}
