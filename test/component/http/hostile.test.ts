/**
 * The hostile-input corpus (test/fixtures/hostile/cases.json) through the real
 * issuing route, in process, with a real (dynalite) ledger.
 *
 * For every case: the documented status and error code (and the exact error
 * details where cases.json gives them), a JSON body that openapi.yaml accepts,
 * nothing recorded for a refused request (only claims may come and go in the
 * table) and exactly one certificate for an accepted one, and
 * afterwards a valid request (fresh key, fresh CN) is still issued. An accepted
 * case must get the profile's extensions and nothing the CSR asked for.
 *
 * The corpus is committed; test/fixtures/hostile/make-hostile.sh regenerates it
 * (this test never runs it). Bodies over the 16 KiB limit are generated here.
 */
import { describe, expect, it } from '@jest/globals';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { parseCsr } from '../../../src/pki/csr.js';
import { x509 } from '../../../src/pki/x509.js';
import { apiEvent, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { expectConforms } from '../../helpers/openapi.js';
import { opensslText } from '../../helpers/openssl.js';
import { routesOf, useTestApp } from '../../helpers/test-app.js';

interface HostileCase {
  name: string;
  /** Relative to cases.json. */
  file?: string;
  /** Inline body, for the tiny cases. */
  body?: string;
  /** A body made here rather than committed: fill:<count>[:<char>], json-csr-fill:<bytes>, der-nest:<depth>. */
  generate?: string;
  /** utf8 (default): the text as is; base64: API Gateway's binary passthrough (isBase64Encoded); binary: the bytes as latin1 text. */
  bodyEncoding?: 'utf8' | 'base64' | 'binary';
  /** null: no Content-Type header. */
  contentType: string | null;
  /** json-csr: send {"csr": <file text>} (plus "profile" when the case has one). */
  wrap?: 'json-csr';
  profile?: unknown;
  expectStatus: number;
  expectCode: string | null;
  /** When given, error.details must be exactly this (a policy violation's field and reason, in order). */
  expectDetails?: Array<{ field: string; reason: string }>;
  /** The refusal's details[0].reason, where the case names one. */
  expectReason?: string;
  /** Text the refusal's message must hold (what the station operator is told to do), where the case names it. */
  expectMessage?: string;
  note?: string;
  /** A known defect: the documented answer is expectStatus/expectCode, the service answers otherwise. */
  bug?: string;
}

const CASES_URL = new URL('../../fixtures/hostile/cases.json', import.meta.url);
const cases = JSON.parse(readFileSync(CASES_URL, 'utf8')) as HostileCase[];
const fileBytes = (file: string) => readFileSync(new URL(file, CASES_URL));

/** N nested SEQUENCEs, built outside-in without re-copying (a 10,000-level nest is ~40 KB). */
function derNest(depth: number): Buffer {
  const headers: number[][] = [];
  let inner = 0;
  for (let i = 0; i < depth; i++) {
    const len = inner < 0x80 ? [inner] : inner < 0x100 ? [0x81, inner] : inner < 0x10000 ? [0x82, inner >> 8, inner & 0xff] : [0x83, inner >> 16, (inner >> 8) & 0xff, inner & 0xff];
    headers.push([0x30, ...len]);
    inner += 1 + len.length;
  }
  return Buffer.from(headers.reverse().flat());
}

function generated(spec: string): Buffer {
  const [kind, arg, char] = spec.split(':') as [string, string, string | undefined];
  const n = Number(arg);
  if (kind === 'fill') return Buffer.from((char ?? 'A').repeat(n), 'utf8');
  if (kind === 'json-csr-fill') return Buffer.from(`{"csr":"${'A'.repeat(n - 10)}"}`, 'utf8');
  if (kind === 'der-nest') return derNest(n);
  throw new Error(`unknown generator ${spec}`);
}

function bodyOf(c: HostileCase): Buffer {
  if (c.generate) return generated(c.generate);
  if (c.body !== undefined) return Buffer.from(c.body, 'utf8');
  const bytes = fileBytes(c.file!);
  if (c.wrap !== 'json-csr') return bytes;
  const request: Record<string, unknown> = { csr: bytes.toString('utf8') };
  if ('profile' in c) request.profile = c.profile;
  return Buffer.from(JSON.stringify(request), 'utf8');
}

function eventOf(c: HostileCase): APIGatewayProxyEvent {
  const bytes = bodyOf(c);
  const encoding = c.bodyEncoding ?? 'utf8';
  return apiEvent({
    method: 'POST',
    path: '/certificates',
    body: encoding === 'base64' ? bytes.toString('base64') : bytes.toString(encoding === 'binary' ? 'latin1' : 'utf8'),
    isBase64Encoded: encoding === 'base64',
    headers: c.contentType === null ? {} : { 'Content-Type': c.contentType },
  });
}

const testApp = useTestApp();
const issue = routesOf(testApp).issue;

async function post(event: APIGatewayProxyEvent) {
  const res = await issue(event, lambdaContext());
  let json: any;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new Error(`${res.statusCode}: the body is not JSON: ${res.body.slice(0, 200)}`);
  }
  return { ...res, json, headers: (res.headers ?? {}) as Record<string, string> };
}

/** Every key of the table but the claims (which may come and go with a refused request). */
async function ledgerKeys(): Promise<Set<string>> {
  const keys = new Set<string>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await testApp().client.send(new ScanCommand({ TableName: testApp().config.tableName, ProjectionExpression: 'pk', ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of out.Items ?? []) if (!item.pk!.S!.startsWith('CLAIM#')) keys.add(item.pk!.S!);
    start = out.LastEvaluatedKey;
  } while (start);
  return keys;
}

const added = (before: Set<string>, after: Set<string>) => [...after].filter((k) => !before.has(k));
const removed = (before: Set<string>, after: Set<string>) => [...before].filter((k) => !after.has(k));

const OIDS = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/**
 * The device profile, exactly: whatever the CSR requested (CA:TRUE, keyCertSign,
 * SANs…) is not there. Every accepted case is a P-256 key.
 */
function expectDeviceProfile(certificatePem: string, caPem: string, csrText: string): void {
  const cert = new x509.X509Certificate(certificatePem);
  const ca = new x509.X509Certificate(caPem);
  const csr = parseCsr(csrText);
  expect(cert.extensions.map((e) => e.type)).toEqual([OIDS.basicConstraints, OIDS.keyUsage, OIDS.extKeyUsage, OIDS.subjectKeyIdentifier, OIDS.authorityKeyIdentifier]);
  const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
  expect([bc.ca, bc.pathLength, bc.critical]).toEqual([false, undefined, true]);
  const ku = cert.getExtension(x509.KeyUsagesExtension)!;
  expect([ku.usages, ku.critical]).toEqual([x509.KeyUsageFlags.digitalSignature, true]);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
  expect([eku.usages, eku.critical]).toEqual([[OIDS.clientAuth], false]);
  // SKI: SHA-1 of the public key (RFC 5280 method 1); AKI: the issuing CA's SKI.
  const jwk = createPublicKey({ key: Buffer.from(csr.spkiDer), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(createHash('sha1').update(point).digest('hex'));
  expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ca.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
  // The CSR's key and subject, byte for byte.
  expect(Buffer.from(cert.publicKey.rawData)).toEqual(Buffer.from(csr.spkiDer));
  expect(Buffer.from(cert.subjectName.toArrayBuffer())).toEqual(Buffer.from(csr.subject.der));
  // The same, as openssl reads it.
  const text = opensslText(certificatePem);
  expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE\n/);
  expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
  expect(text).toMatch(/X509v3 Extended Key Usage: \s*TLS Web Client Authentication\n/);
  expect(text).not.toMatch(/Alternative Name|Certificate Sign|CA:TRUE|pathlen|Name Constraints|Server Authentication|Code Signing|Any Extended Key Usage/);
}

let followUps = 0;
/** A valid request (fresh key, fresh CN) is still issued. */
async function expectStillIssues(): Promise<void> {
  const cn = `hostile-followup-${++followUps}`;
  const res = await post(apiEvent({
    method: 'POST',
    path: '/certificates',
    body: JSON.stringify({ csr: buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) }) }),
    headers: { 'Content-Type': 'application/json' },
  }));
  expect([res.statusCode, res.json.subject?.CN]).toEqual([201, cn]);
}

describe('POST /certificates: the hostile corpus', () => {
  it('has the cases the corpus must cover', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    const committed = cases.filter((c) => c.file).reduce((n, c) => n + fileBytes(c.file!).length, 0);
    expect(committed).toBeLessThan(200 * 1024);
  });

  const title = (c: HostileCase) =>
    `${c.name} → ${c.expectStatus} ${c.expectCode ?? 'issued'}${c.bug ? ' (BUG: not asserted, see cases.json)' : ''}`;

  it.each(cases.map((c) => [title(c), c] as const))('%s', async (_, c) => {
    const before = await ledgerKeys();
    const res = await post(eventOf(c));
    const after = await ledgerKeys();
    const answer = { status: res.statusCode, code: (res.json.error?.code as string | undefined) ?? null };

    expect(res.headers['Content-Type']).toBe('application/json');
    expectConforms('POST', '/certificates', res.statusCode, res.json, res.headers);
    expect(res.statusCode).toBeLessThan(500);
    if (c.bug) {
      // BUG: the service does not give the documented answer for this case ("bug" in
      // cases.json says what it does instead). Only what holds either way is asserted
      // below; once it is fixed, this fails so that the note is removed.
      if (answer.status === c.expectStatus && answer.code === c.expectCode) {
        throw new Error(`"${c.name}" now gets the documented answer: remove its "bug" note from cases.json`);
      }
    } else {
      expect(answer).toEqual({ status: c.expectStatus, code: c.expectCode });
      if (c.expectDetails) expect(res.json.error.details).toEqual(c.expectDetails);
      if (c.expectReason !== undefined) expect(res.json.error.details?.[0]?.reason).toBe(c.expectReason);
      if (c.expectMessage !== undefined) expect(res.json.error.message).toContain(c.expectMessage);
    }

    if (res.statusCode === 201) {
      // Exactly one certificate recorded (the one returned) and its key taken in the key index.
      const keyEntry = `KEY#${createHash('sha256').update(parseCsr(new Uint8Array(fileBytes(c.file!))).spkiDer).digest('hex')}`;
      expect({ added: added(before, after).sort(), removed: removed(before, after) }).toEqual({ added: [`CERT#${res.json.serialNumber}`, keyEntry].sort(), removed: [] });
      expectDeviceProfile(res.json.certificatePem, res.json.caCertificatePem, fileBytes(c.file!).toString('utf8'));
      return;
    }
    // Refused: nothing recorded, an error body only, and the input not echoed back at length.
    expect({ added: added(before, after), removed: removed(before, after) }).toEqual({ added: [], removed: [] });
    expect(Object.keys(res.json)).toEqual(['error']);
    expect(res.body.length).toBeLessThan(4096);
    await expectStillIssues();
  });
});
