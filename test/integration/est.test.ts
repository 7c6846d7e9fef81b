import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { csrAttributes } from '../../src/pki/csr-attrs.js';
import { loadConfig } from '../../src/config/config.js';
import { useLocalStack } from '../helpers/local-stack-fixture.js';
import { expectConforms } from '../helpers/openapi.js';

/**
 * EST against the local stack (npm start) as a station's scripts use it: curl
 * for the requests, openssl to read the answers and verify the certificate.
 */
const local = useLocalStack('est');
const { stateDir, work } = local;

/** A shell pipeline in the work directory (curl and openssl), its standard output. */
const sh = (script: string, env: Record<string, string> = {}) =>
  execFileSync('sh', ['-ec', script], { cwd: work, encoding: 'utf8', env: { ...process.env, BASE: local.stack.baseUrl, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

/** curl -i: the status, the headers (lower-case names) and the body of an answer, checked against openapi.yaml. */
function curl(method: string, path: string, args: string[] = [], base = local.stack.baseUrl): { status: number; headers: Record<string, string>; body: string } {
  const out = execFileSync('curl', ['-sS', '-i', '-X', method, ...args, `${base}${path}`], { cwd: work, encoding: 'utf8' });
  const split = out.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = out.slice(0, split).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const status = Number(statusLine!.split(' ')[1]);
  const body = out.slice(split + 4);
  expectConforms(method, path, status, body, headers);
  return { status, headers, body };
}

/** The PEM blocks of a file openssl wrote (pkcs7 -print_certs also writes subject and issuer lines). */
const pemBlocks = (file: string) => readFileSync(join(work, file), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];

/** A key and the base64 DER of its CSR, made by openssl as a station would. */
function estCsr(name: string, subject: string): string {
  sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${name}.key -subj '${subject}' -outform DER -out ${name}.der 2>/dev/null
      openssl base64 -in ${name}.der -out ${name}.b64`);
  return join(work, `${name}.b64`);
}

describe('EST on the local stack, with curl and openssl', () => {
  it('GET /.well-known/est/cacerts: openssl reads the chain, issuing CA and root, as GET /ca serves them', async () => {
    const res = curl('GET', '/.well-known/est/cacerts');
    expect([res.status, res.headers['content-type']]).toEqual([200, 'application/pkcs7-mime']);
    sh('curl -sS "$BASE/.well-known/est/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out chain.pem');
    const ca = (await (await fetch(`${local.stack.baseUrl}/ca`)).json()) as { certificatePem: string; rootCertificatePem: string };
    expect(pemBlocks('chain.pem').sort()).toEqual([ca.certificatePem, ca.rootCertificatePem].sort());
  });

  it("GET /.well-known/est/csrattrs: the policy's CSR attributes, which openssl parses", () => {
    const res = curl('GET', '/.well-known/est/csrattrs');
    expect([res.status, res.headers['content-type']]).toEqual([200, 'application/csrattrs']);
    const policy = loadConfig({ TABLE_NAME: 'est-ledger' }).policy;
    expect(Buffer.from(res.body, 'base64')).toEqual(Buffer.from(csrAttributes(policy)));
    const parsed = sh('curl -sS "$BASE/.well-known/est/csrattrs" | openssl base64 -d | openssl asn1parse -inform DER');
    expect(parsed).toMatch(/commonName/);
    expect(parsed).toMatch(/id-ecPublicKey/);
    expect(parsed).toMatch(/prime256v1/);
    expect(parsed).toMatch(/ecdsa-with-SHA256/);
  });

  it('POST /.well-known/est/simpleenroll: a certificate openssl verifies against cacerts, the same one again for a replay', () => {
    const b64 = estCsr('dev1', '/C=US/O=Example Corp/CN=it-est-0001');
    const res = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/pkcs10', '-H', 'X-Station-Id: station-est', '--data-binary', `@${b64}`]);
    expect([res.status, res.headers['content-type']]).toEqual([200, 'application/pkcs7-mime; smime-type=certs-only']);
    sh(`curl -sS -H 'Content-Type: application/pkcs10' --data-binary @dev1.b64 "$BASE/.well-known/est/simpleenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out device.pem
        curl -sS "$BASE/.well-known/est/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out chain.pem`);
    // The chain's two certificates: the root (self-issued) and the issuing CA.
    const chain = pemBlocks('chain.pem');
    const selfIssued = (pem: string) => {
      writeFileSync(join(work, 'one.pem'), pem);
      const [subject, issuer] = sh('openssl x509 -in one.pem -noout -subject -issuer -nameopt RFC2253').split('\n');
      return subject!.replace(/^subject=\s*/, '') === issuer!.replace(/^issuer=\s*/, '');
    };
    writeFileSync(join(work, 'root.pem'), chain.find(selfIssued)!);
    writeFileSync(join(work, 'issuing.pem'), chain.find((c) => !selfIssued(c))!);
    expect(sh('openssl verify -x509_strict -CAfile root.pem -untrusted issuing.pem device.pem')).toMatch(/device\.pem: OK/);
    expect(sh('openssl x509 -in device.pem -noout -subject -nameopt RFC2253')).toMatch(/CN=it-est-0001/);
    // The first enrollment above and this replay answered the same certificate (one CMS, same bytes).
    const again = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/pkcs10', '--data-binary', `@${b64}`]);
    expect(again.body).toBe(res.body);
  });

  it('answers errors as text/plain with the code first: CSR_MALFORMED, POLICY_VIOLATION, PAYLOAD_TOO_LARGE', () => {
    writeFileSync(join(work, 'garbage.b64'), 'this is not base64!');
    const garbage = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/pkcs10', '--data-binary', '@garbage.b64']);
    expect([garbage.status, garbage.headers['content-type'], garbage.body.split(':')[0]]).toEqual([400, 'text/plain; charset=utf-8', 'CSR_MALFORMED']);
    const json = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/json', '--data-binary', '{"csr": "x"}']);
    expect([json.status, json.body.split(':')[0]]).toEqual([400, 'CSR_MALFORMED']);
    const b64 = estCsr('policy', '/C=US/O=Not Example Corp/CN=it-est-policy');
    const policy = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/pkcs10', '--data-binary', `@${b64}`]);
    expect([policy.status, policy.headers['content-type']]).toEqual([422, 'text/plain; charset=utf-8']);
    expect(policy.body).toMatch(/^POLICY_VIOLATION: /);
    writeFileSync(join(work, 'big.b64'), 'A'.repeat(16 * 1024 + 4));
    const big = curl('POST', '/.well-known/est/simpleenroll', ['-H', 'Content-Type: application/pkcs10', '--data-binary', '@big.b64']);
    expect([big.status, big.body.split(':')[0]]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });
});

describe('EST re-enrollment on the local stack: curl with the device certificate on the EST TLS listener', () => {
  const tls = () => `https://localhost:${local.stack.estTlsPort}`;
  /** POST simplereenroll over TLS, with the client certificate and key given (none: no client certificate). */
  const reenroll = (csrB64: string, device?: string) =>
    curl('POST', '/.well-known/est/simplereenroll', ['--cacert', 'est-root.pem', ...(device ? ['--cert', `${device}.pem`, '--key', `${device}.key`] : []), '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csrB64}`], tls());
  /** Enrolls a key by simpleenroll: writes <name>.pem (the certificate); its serial. */
  const enroll = (name: string, cn: string) => {
    const b64 = estCsr(name, `/C=US/O=Example Corp/CN=${cn}`);
    sh(`curl -sS -H 'Content-Type: application/pkcs10' --data-binary @${b64} "$BASE/.well-known/est/simpleenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs | sed -n '/BEGIN/,/END/p' > ${name}.pem`);
    return sh(`openssl x509 -in ${name}.pem -noout -serial`).trim().replace(/^serial=/, '').toLowerCase();
  };
  const record = async (serial: string) => (await (await fetch(`${local.stack.baseUrl}/certificates/${serial}`)).json()) as Record<string, string>;

  beforeAll(() => {
    sh('curl -sS "$BASE/.well-known/est/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out est-chain.pem');
    const chain = pemBlocks('est-chain.pem');
    // The root: the self-issued one (its subject is its issuer).
    const root = chain.find((pem) => {
      writeFileSync(join(work, 'one.pem'), pem);
      const [subject, issuer] = sh('openssl x509 -in one.pem -noout -subject -issuer -nameopt RFC2253').split('\n');
      return subject!.replace(/^subject=\s*/, '') === issuer!.replace(/^issuer=\s*/, '');
    })!;
    writeFileSync(join(work, 'est-root.pem'), root);
    writeFileSync(join(work, 'est-issuing.pem'), chain.find((pem) => pem !== root)!);
    // npm start writes the same root beside its state, for curl --cacert.
    expect(readFileSync(join(stateDir, 'est-tls-root-ca.pem'), 'utf8')).toBe(root);
  });

  it('renews with a new key: 200, a certificate openssl verifies strictly, the old one SUPERSEDED; the same request again answers it again, another is refused (403)', async () => {
    const oldSerial = enroll('reenroll-dev', 'it-est-reenroll-1');
    const next = estCsr('reenroll-next', '/C=US/O=Example Corp/CN=it-est-reenroll-1');
    const res = reenroll(next, 'reenroll-dev');
    expect([res.status, res.headers['content-type']]).toEqual([200, 'application/pkcs7-mime; smime-type=certs-only']);
    writeFileSync(join(work, 'reenroll.b64'), res.body);
    sh('openssl base64 -d -in reenroll.b64 | openssl pkcs7 -inform DER -print_certs | sed -n "/BEGIN/,/END/p" > reenrolled.pem');
    expect(sh('openssl verify -x509_strict -CAfile est-root.pem -untrusted est-issuing.pem reenrolled.pem')).toMatch(/reenrolled\.pem: OK/);
    // The new key's certificate, the same subject.
    expect(sh('openssl x509 -in reenrolled.pem -noout -pubkey')).toBe(sh('openssl pkey -in reenroll-next.key -pubout'));
    expect(sh('openssl x509 -in reenrolled.pem -noout -subject -nameopt RFC2253')).toMatch(/CN=it-est-reenroll-1/);
    const newSerial = sh('openssl x509 -in reenrolled.pem -noout -serial').trim().replace(/^serial=/, '').toLowerCase();
    expect(await record(oldSerial)).toMatchObject({ status: 'SUPERSEDED', supersededBy: newSerial, iotDeactivation: 'DRY_RUN' });
    expect(await record(newSerial)).toMatchObject({ status: 'ISSUED', replaces: oldSerial });
    // Local mode's AWS IoT dry run wrote the deactivation down.
    expect(readFileSync(join(stateDir, 'iot', 'deactivations.jsonl'), 'utf8')).toContain('--new-status INACTIVE');

    // The same request again (same certificate, same CSR): the same answer.
    expect(reenroll(next, 'reenroll-dev').body).toBe(res.body);
    // The old certificate once more, for another key: refused, it is superseded.
    const refused = reenroll(estCsr('reenroll-third', '/C=US/O=Example Corp/CN=it-est-reenroll-1'), 'reenroll-dev');
    expect([refused.status, refused.headers['content-type']]).toEqual([403, 'text/plain; charset=utf-8']);
    expect(refused.body).toMatch(/^EST_CLIENT_CERT_REFUSED: .*\nclientCertificate: superseded/);
  });

  it('renews with the same key: 200', () => {
    enroll('renew-same', 'it-est-reenroll-2');
    sh(`openssl req -new -key renew-same.key -subj '/C=US/O=Example Corp/CN=it-est-reenroll-2' -outform DER -out renew-same-2.der && openssl base64 -in renew-same-2.der -out renew-same-2.b64`);
    expect(reenroll(join(work, 'renew-same-2.b64'), 'renew-same').status).toBe(200);
  });

  it("refuses a revoked device's certificate (403) and a request without a client certificate (401)", async () => {
    const serial = enroll('revoked-dev', 'it-est-reenroll-3');
    const revoked = await fetch(`${local.stack.baseUrl}/certificates/${serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'keyCompromise' }) });
    expect(revoked.status).toBe(200);
    const csr = estCsr('revoked-next', '/C=US/O=Example Corp/CN=it-est-reenroll-3');
    const refused = reenroll(csr, 'revoked-dev');
    expect([refused.status, refused.body.split(':')[0]]).toEqual([403, 'EST_CLIENT_CERT_REFUSED']);
    expect(refused.body).toMatch(/clientCertificate: revoked/);
    const none = reenroll(csr);
    expect([none.status, none.body.split(':')[0]]).toEqual([401, 'EST_CLIENT_CERT_REQUIRED']);
    // A carrier header sent by the client is not taken, even naming a current certificate: the listener replaces it with what TLS showed (nothing).
    const current = Buffer.from(readFileSync(join(work, 'renew-same.pem'))).toString('base64');
    const forged = curl('POST', '/.well-known/est/simplereenroll', ['--cacert', 'est-root.pem', '-H', `X-Est-Client-Cert: ${current}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csr}`], tls());
    expect(forged.status).toBe(401);
  });

  it('serves EST only: another path on the TLS listener is 404', () => {
    const out = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', 'est-root.pem', `${tls()}/certificates`], { cwd: work, encoding: 'utf8' });
    expect(out).toBe('404');
  });
});
