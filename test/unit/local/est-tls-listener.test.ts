import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { certificatesFromPem, toPem } from '../../../src/pki/pem.js';
import { estTlsCredentials, forwardedHeaders, startEstTlsListener, type EstTlsListener } from '../../../src/local/est-tls-listener.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { softwareCa } from '../../helpers/software-ca.js';

describe('Function: forwardedHeaders', () => {
  const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
  it('drops every client-sent certificate header, whatever its case, and sets the one TLS showed', () => {
    const out = forwardedHeaders({ 'x-est-client-cert': 'forged', 'content-type': 'application/pkcs10', host: 'localhost:8443' }, der, 3000);
    expect(out).toEqual({ 'content-type': 'application/pkcs10', host: '127.0.0.1:3000', 'x-est-client-cert': Buffer.from(toPem('CERTIFICATE', der)).toString('base64') });
  });
  it('sends no certificate header when the client presented none', () => {
    expect(forwardedHeaders({ 'X-Est-Client-Cert': 'forged' } as IncomingHttpHeaders, undefined, 3000)).toEqual({ host: '127.0.0.1:3000' });
  });
});

describe('Function: startEstTlsListener', () => {
  let api: Server;
  let listener: EstTlsListener;
  let root: string;
  const seen: IncomingHttpHeaders[] = [];
  beforeAll(async () => {
    const store = new MemoryStore();
    const { signerFactory } = await softwareCa(store, { activate: true });
    const ca = await new CaDirectory(store, signerFactory, () => new Date(), 0).activeIssuer();
    root = ca.rootCertificatePem;
    api = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`${req.method} ${req.url}`);
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
    const credentials = await estTlsCredentials(ca);
    // The listener's certificate: issued by the issuing CA, for localhost, serverAuth.
    const [leaf] = certificatesFromPem(credentials.cert).map((d) => new X509Certificate(Buffer.from(d)));
    expect(leaf!.checkIssued(new X509Certificate(ca.caCertificatePem))).toBe(true);
    expect(leaf!.checkHost('localhost')).toBe('localhost');
    expect(leaf!.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf!.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(leaf!.ca).toBe(false);
    listener = await startEstTlsListener(0, (api.address() as AddressInfo).port, credentials);
  });
  afterAll(async () => {
    await listener?.close();
    await new Promise<void>((r) => api.close(() => r()));
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: 'localhost', port: (listener.server.address() as AddressInfo).port, path, method: 'GET', ca: root, headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('is reached by name by a client trusting the root, and forwards EST requests without a certificate header it did not see', async () => {
    const res = await get('/.well-known/est/cacerts', { 'X-Est-Client-Cert': 'forged' });
    expect(res).toEqual({ status: 200, body: 'GET /.well-known/est/cacerts' });
    expect(seen.at(-1)!['x-est-client-cert']).toBeUndefined();
  });

  it('answers 404 for anything but EST, forwarding nothing', async () => {
    const before = seen.length;
    const res = await get('/certificates');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe('NOT_FOUND');
    expect(seen.length).toBe(before);
  });
});
