import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useLocalStack } from '../helpers/local-stack-fixture.js';
import { localLogPublicKeyPem } from '../helpers/local-stack-process.js';
import { csrFixture } from '../helpers/fixtures.js';
import { opensslVerify } from '../helpers/openssl.js';
import { expectConforms } from '../helpers/openapi.js';


const local = useLocalStack('it');
const { stateDir, work } = local;

/** A key and CSR made by openssl, as a station would make them. */
function opensslCsr(name: string, subject: string, keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']): string {
  const csr = join(work, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', join(work, `${name}.key`), '-subj', subject, '-out', csr], { stdio: 'ignore' });
  return readFileSync(csr, 'utf8');
}

/** A request over HTTP whose answer must match openapi.yaml. */
async function request(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${local.stack.baseUrl}${path}`, { method, ...init });
  const text = await res.text();
  let json: Record<string, any>;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    throw new Error(`${method} ${path}: ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => (headers[key] = value));
  expectConforms(method, path, res.status, json, headers);
  return { status: res.status, headers: res.headers, json };
}
const post = (body: string, contentType = 'application/pkcs10', headers: Record<string, string> = {}) =>
  request('POST', '/certificates', { body, headers: { 'Content-Type': contentType, ...headers } });
const get = (path: string) => request('GET', path);

/** A raw HTTP request, with any Host and Origin (fetch would not let a test set Host). */
function raw(method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: local.stack.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('The local stack refuses web pages (no authentication locally)', () => {
  const corsHeaders = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k.startsWith('access-control-'));

  it('refuses a cross-origin POST /ca/rotate from a page: 403 FORBIDDEN_ORIGIN, no CORS headers, nothing rotated', async () => {
    const before = (await get('/ca')).json.id;
    const res = await raw('POST', '/ca/rotate', { Host: `localhost:${local.stack.port}`, Origin: 'https://evil.example', 'Content-Type': 'application/json' }, '{"force":true}');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('FORBIDDEN_ORIGIN');
    expect(corsHeaders(res.headers)).toEqual([]);
    expect((await get('/ca')).json.id).toBe(before);
  });

  it('refuses every CORS preflight', async () => {
    const res = await raw('OPTIONS', '/certificates', { Host: `localhost:${local.stack.port}`, Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('FORBIDDEN_ORIGIN');
    expect(corsHeaders(res.headers)).toEqual([]);
  });

  it('refuses a foreign Host (DNS rebinding)', async () => {
    const res = await raw('GET', '/ca', { Host: `attacker.example:${local.stack.port}` });
    expect([res.status, JSON.parse(res.body).error.code]).toEqual([403, 'FORBIDDEN_ORIGIN']);
  });

  it('answers its own origin and command-line clients, without CORS headers', async () => {
    const own = await raw('GET', '/ca', { Host: `localhost:${local.stack.port}`, Origin: `http://localhost:${local.stack.port}` });
    expect(own.status).toBe(200);
    expect(corsHeaders(own.headers)).toEqual([]);
    const cli = await raw('GET', '/ca', { Host: `127.0.0.1:${local.stack.port}` });
    expect(cli.status).toBe(200);
  });
});

describe('The local stack (npm start) over HTTP', () => {
  it('issues a certificate for an openssl-made CSR that openssl verifies against the root', async () => {
    const csr = opensslCsr('dev1', '/C=US/O=Example Corp/OU=Line 1/CN=it-device-0001/serialNumber=SN-1');
    const res = await post(csr, 'application/pkcs10', { 'X-Station-Id': 'station-it' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/certificates/${res.json.serialNumber}`);
    expect(opensslVerify(res.json.rootCertificatePem, res.json.caCertificatePem, res.json.certificatePem)).toMatch(/device\.pem: OK/);
    // The bundle the device presents: its certificate, then the issuing CA.
    expect(res.json.certificateChainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    const again = await post(csr);
    expect(again.status).toBe(200);
    expect(again.json.certificatePem).toBe(res.json.certificatePem);

    const byId = await get(`/certificates/${res.json.serialNumber}`);
    expect(byId.status).toBe(200);
    expect(byId.json).toMatchObject({ serialNumber: res.json.serialNumber, stationId: 'station-it', status: 'ISSUED' });
    const list = await get('/certificates?commonName=it-device-0001');
    expect(list.json.items.map((i: { serialNumber: string }) => i.serialNumber)).toEqual([res.json.serialNumber]);
  });

  it('logs an issued certificate within seconds: its proof verifies against the checkpoint the local log key signed', async () => {
    const csr = opensslCsr('dev-log', '/C=US/O=Example Corp/OU=Line 1/CN=it-device-log/serialNumber=SN-L');
    const issued = await post(csr, 'application/pkcs10', { 'X-Station-Id': 'station-it' });
    expect(issued.status).toBe(201);
    let proof: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 60; i++) {
      proof = await get(`/log/proof/${issued.json.serialNumber}`);
      if (proof.status === 200) break;
      expect(proof.json.error.code).toBe('LOG_ENTRY_NOT_SEQUENCED');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(proof!.status).toBe(200);
    const checkpoint = await fetch(`${local.stack.baseUrl}/log/checkpoint`);
    expect(checkpoint.status).toBe(200);
    const note = await checkpoint.text();
    expect(note.startsWith('factory-ca/local\n')).toBe(true);
    // The standalone verifier, with the local log key's public half.
    const keyFile = join(work, 'log.pem');
    const cpFile = join(work, 'cp.txt');
    writeFileSync(keyFile, localLogPublicKeyPem(stateDir));
    writeFileSync(cpFile, proof!.json.checkpoint);
    const out = execFileSync(process.execPath, ['tools/verify-log-proof.mjs', '--key', keyFile, '--checkpoint', cpFile, '--index', String(proof!.json.leafIndex), '--entry', proof!.json.entry, '--proof', proof!.json.auditPath.join(',')], { encoding: 'utf8' });
    expect(out).toMatch(/^OK checkpoint: origin factory-ca\/local, tree size \d+/m);
    expect(out).toContain(`OK entry: leaf ${proof!.json.leafIndex} of ${proof!.json.treeSize}, leaf hash ${proof!.json.leafHash}`);
  }, 60_000);

  it('issues for RSA and P-384 keys sent as JSON', async () => {
    for (const [name, args] of [
      ['rsa', ['-newkey', 'rsa:2048']],
      ['p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
    ] as const) {
      const csr = opensslCsr(name, `/C=US/O=Example Corp/CN=it-${name}`, [...args]);
      const res = await post(JSON.stringify({ csr }), 'application/json');
      expect(res.status).toBe(201);
      expect(opensslVerify(res.json.rootCertificatePem, res.json.caCertificatePem, res.json.certificatePem)).toMatch(/OK/);
    }
  });

  it('refuses a second key for the same common name with 409', async () => {
    const first = await post(opensslCsr('dupa', '/C=US/O=Example Corp/CN=it-dup'));
    const second = await post(opensslCsr('dupb', '/C=US/O=Example Corp/CN=it-dup'));
    expect([first.status, second.status]).toEqual([201, 409]);
    expect(second.json.error).toMatchObject({ code: 'DUPLICATE_COMMON_NAME', details: [{ serialNumber: first.json.serialNumber }] });
  });

  it.each([
    ['INVALID_REQUEST', 400, () => post('{"csr":', 'application/json')],
    ['CSR_MALFORMED', 400, () => post(csrFixture('certificate.pem'))],
    ['CSR_SIGNATURE_INVALID', 400, () => post(csrFixture('bad-signature.csr'))],
    ['POLICY_VIOLATION', 422, () => post(csrFixture('email.csr'))],
    ['KEY_NOT_ALLOWED', 422, () => post(csrFixture('rsa-1024.csr'))],
    ['UNSUPPORTED_MEDIA_TYPE', 415, () => post(csrFixture('ec-p256.csr'), 'text/plain')],
    ['PAYLOAD_TOO_LARGE', 413, () => post('A'.repeat(16 * 1024 + 1))],
    ['NOT_FOUND', 404, () => get('/certificates/00ff00ff')],
  ])('answers %s with %i and a JSON error', async (code, status, send) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
  });

  it('records nothing for a rejected request', async () => {
    await post(csrFixture('email.csr')); // CN=device-0007, refused by policy
    expect((await get('/certificates?commonName=device-0007')).json.items).toEqual([]);
  });

  it('serves the CA, and reuses the same CA and ledger after a restart', async () => {
    const before = await get('/ca');
    expect(before.status).toBe(200);
    const issued = await post(opensslCsr('restart', '/C=US/O=Example Corp/CN=it-restart'));
    await local.restart();
    const after = await get('/ca');
    expect(after.json.id).toBe(before.json.id);
    expect(after.json.certificatePem).toBe(before.json.certificatePem);
    expect((await get(`/certificates/${issued.json.serialNumber}`)).status).toBe(200);
    expect(local.stack.output()).toMatch(/issuing CA .* reused/);
  }, 120_000);

  it('bootstrapped on first start: the AWS IoT registration bundle an operator can register with the AWS CLI', () => {
    const bundle = join(stateDir, 'iot', 'issuing-1');
    const files = ['issuing-ca.pem', 'root-ca.pem', 'verification-cert.pem', 'registration-config.json', 'register-ca-certificate.sh'];
    for (const f of files) expect(readFileSync(join(bundle, f), 'utf8').length).toBeGreaterThan(0);
    // The verification certificate chains to the issuing CA being registered.
    const verify = execFileSync('openssl', ['verify', '-partial_chain', '-CAfile', join(bundle, 'issuing-ca.pem'), join(bundle, 'verification-cert.pem')], { encoding: 'utf8' });
    expect(verify).toMatch(/OK/);
    const config = JSON.parse(readFileSync(join(bundle, 'registration-config.json'), 'utf8'));
    expect(typeof config.templateBody).toBe('string');
    expect(JSON.parse(config.templateBody).Resources.certificate.Properties.Status).toBe('ACTIVE');
    expect(readFileSync(join(bundle, 'register-ca-certificate.sh'), 'utf8')).toMatch(/aws iot register-ca-certificate/);
  });

  it('npm run bootstrap against the running stack finds everything in place', () => {
    const out = execFileSync('npm', ['run', '--silent', 'bootstrap'], { env: { ...process.env, NODE_OPTIONS: '', LOCAL_STATE_DIR: stateDir }, encoding: 'utf8' });
    expect(out).toMatch(/nothing to do/);
    expect(out).toMatch(/active issuing CA: issuing-1/);
  }, 60_000);

  it('revokes over HTTP (AWS IoT in dry run) and rotates on request without failing a request', async () => {
    const issued = await post(opensslCsr('rev', '/C=US/O=Example Corp/CN=it-revoke'));
    const revoked = await request('POST', `/certificates/${issued.json.serialNumber}/revoke`, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason: 'keyCompromise' }),
    });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ status: 'REVOKED', iot: { outcome: 'DRY_RUN' } });

    const load = Promise.all(Array.from({ length: 10 }, (_, i) => post(opensslCsr(`rot${i}`, `/C=US/O=Example Corp/CN=it-rotation-${i}`))));
    const rotation = await request('POST', '/ca/rotate', { headers: { 'Content-Type': 'application/json' }, body: '{"force":true}' });
    expect(rotation.status).toBe(200);
    expect(rotation.json).toMatchObject({ rotated: true, activeIssuingCaId: 'issuing-2', previousIssuingCaId: 'issuing-1' });
    for (const res of await load) {
      expect(res.status).toBe(201);
      expect(opensslVerify(res.json.rootCertificatePem, res.json.caCertificatePem, res.json.certificatePem)).toMatch(/OK/);
    }
    expect(readFileSync(join(stateDir, 'iot', 'issuing-2', 'register-ca-certificate.sh'), 'utf8')).toMatch(/register-ca-certificate/);
  }, 60_000);

  it('serves its OpenAPI description, and the health check', async () => {
    const doc = await get('/openapi.json');
    expect(doc.json.openapi).toBe('3.1.0');
    expect(Object.keys(doc.json.paths)).toContain('/certificates/{serialNumber}/revoke');
    expect((await get('/health')).json).toEqual({ status: 'ok' });
  });
});
