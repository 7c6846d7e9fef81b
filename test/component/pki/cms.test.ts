import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CmsError, certificatesOfCms, certsOnlyCms } from '../../../src/pki/cms.js';
import { csrAttributes } from '../../../src/pki/csr-attrs.js';
import { decodeEstBase64, encodeEstBase64 } from '../../../src/pki/est.js';
import { ensureDebianTools, type DebianTool } from '../../helpers/debian-tools.js';
import { thrownMessage } from '../../helpers/errors.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';
import { smallChain, type SmallChain } from '../../helpers/small-chain.js';

const TOOLS: DebianTool[] = [
  { name: 'openssl', check: 'command -v openssl', apt: 'openssl' },
  { name: 'certtool', check: 'command -v certtool', apt: 'gnutls-bin' },
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let dir: string;
let chain: SmallChain;
/** certsOnlyCms of [root, issuing CA], and of the device certificate alone, as files. */
let chainP7: string;
let deviceP7: string;

/** Writes `data` to `name` in the test's directory; returns the path. */
function file(name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** Runs a tool; its output, or an error holding what it printed. */
function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** A shell pipeline (with pipefail), for the tools as an operator chains them. */
const pipeline = (script: string): string => run('bash', ['-o', 'pipefail', '-c', script]);

const printCerts = (p7: string) => run('openssl', ['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs']);
/** The subjects `openssl pkcs7 -print_certs` prints (OpenSSL 3: `C = US, O = …`). */
const subjectsOf = (printed: string) => [...printed.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!);
const pemCount = (text: string) => text.split('-----BEGIN CERTIFICATE-----').length - 1;
const opensslSubject = (cn: string) => `C = US, O = Example Corp, CN = ${cn}`;

beforeAll(async () => {
  ensureDebianTools('The CMS component test', TOOLS);
  dir = mkdtempSync(join(tmpdir(), 'factory-ca-cms-'));
  chain = await smallChain('device-cms-0001');
  chainP7 = file('chain.p7b', certsOnlyCms([chain.root.der, chain.issuing.der]));
  deviceP7 = file('device.p7b', certsOnlyCms([chain.device.der]));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('certsOnlyCms with OpenSSL', () => {
  it('openssl pkcs7 -print_certs prints every certificate of the chain message, with its subject', () => {
    const printed = printCerts(chainP7);
    expect(pemCount(printed)).toBe(2);
    expect(subjectsOf(printed).sort()).toEqual([opensslSubject('Example Corp Issuing CA G1'), opensslSubject('Example Corp Root CA')]);
    // The certificates come out byte for byte as they went in.
    const out = printed.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((b) => b.startsWith('-----BEGIN')).map((pem) => hex(new Uint8Array(new X509Certificate(pem).raw)));
    expect(out.sort()).toEqual([hex(chain.root.der), hex(chain.issuing.der)].sort());
  });

  it('openssl pkcs7 -print_certs prints the device certificate of the device message', () => {
    const printed = printCerts(deviceP7);
    expect(pemCount(printed)).toBe(1);
    expect(subjectsOf(printed)).toEqual([opensslSubject('device-cms-0001')]);
  });

  it('openssl reads it as a degenerate SignedData: version 1, no digest algorithms, id-data without content, no signers', () => {
    const printed = run('openssl', ['pkcs7', '-inform', 'DER', '-in', chainP7, '-print', '-noout']);
    expect(printed).toMatch(/type: pkcs7-signedData \(1\.2\.840\.113549\.1\.7\.2\)/);
    expect(printed).toMatch(/version: 1\n\s+md_algs:\n\s+<EMPTY>/);
    expect(printed).toMatch(/type: pkcs7-data \(1\.2\.840\.113549\.1\.7\.1\)\n\s+d\.data: <ABSENT>/);
    expect(printed).toMatch(/crl:\n\s+<ABSENT>/);
    expect(printed).toMatch(/signer_info:\n\s+<EMPTY>/);
  });

  it('the device certificate taken out of its message verifies with openssl against the chain taken out of the other', () => {
    const chainPem = file('chain-from-p7.pem', printCerts(chainP7));
    const out = pipeline(`openssl pkcs7 -inform DER -in '${deviceP7}' -print_certs | openssl verify -x509_strict -purpose sslclient -CAfile '${chainPem}'`);
    expect(out).toMatch(/^stdin: OK\n$/);
  });

  it('the root alone in -CAfile and the issuing CA as untrusted: the chain is built from the message', () => {
    const rootPem = file('root-only.pem', chain.root.pem);
    const issuingFromP7 = file('untrusted.pem', printCerts(chainP7));
    const out = pipeline(
      `openssl pkcs7 -inform DER -in '${deviceP7}' -print_certs | openssl verify -x509_strict -CAfile '${rootPem}' -untrusted '${issuingFromP7}' -show_chain`,
    );
    expect(out).toMatch(/^stdin: OK\n/);
    expect(out).toContain('depth=2: C = US, O = Example Corp, CN = Example Corp Root CA');
  });

  it("does not verify the device certificate against another CA's chain message", async () => {
    const other = await smallChain('device-cms-0002');
    const otherChain = file('other-chain.pem', printCerts(file('other-chain.p7b', certsOnlyCms([other.root.der, other.issuing.der]))));
    expect(() => pipeline(`openssl pkcs7 -inform DER -in '${deviceP7}' -print_certs | openssl verify -x509_strict -CAfile '${otherChain}'`)).toThrow(
      /unable to get local issuer certificate/,
    );
  });

  it('the base64 form (encodeEstBase64) decodes with openssl base64 -d to the same message, which parses as PKCS7', () => {
    const der = readFileSync(chainP7);
    const b64 = file('chain.b64', encodeEstBase64(der));
    const decoded = join(dir, 'chain-from-b64.p7b');
    run('openssl', ['base64', '-d', '-in', b64, '-out', decoded]);
    expect(hex(readFileSync(decoded))).toBe(hex(der));
    expect(subjectsOf(printCerts(decoded))).toHaveLength(2);
    // And in one pipeline, as a client that reads a /cacerts body would.
    expect(subjectsOf(pipeline(`openssl base64 -d -in '${b64}' | openssl pkcs7 -inform DER -print_certs`))).toHaveLength(2);
  });

  it('certificatesOfCms reads what openssl crl2pkcs7 writes (in the order given, not sorted)', () => {
    const bundle = file('bundle.pem', chain.root.pem + chain.issuing.pem + chain.device.pem);
    const p7 = join(dir, 'openssl.p7b');
    run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', bundle, '-outform', 'DER', '-out', p7]);
    expect(certificatesOfCms(new Uint8Array(readFileSync(p7))).map(hex)).toEqual([chain.root.der, chain.issuing.der, chain.device.der].map(hex));
  });

  it('certificatesOfCms reads the base64 a peer wrote with openssl base64 (64-character lines, LF)', () => {
    const b64 = join(dir, 'device-openssl.b64');
    run('openssl', ['base64', '-e', '-in', deviceP7, '-out', b64]);
    const text = readFileSync(b64, 'latin1');
    expect(text).toContain('\n');
    expect(certificatesOfCms(decodeEstBase64(text)).map(hex)).toEqual([hex(chain.device.der)]);
  });
});

describe('certsOnlyCms with GnuTLS', () => {
  it('certtool --p7-info --inder lists every certificate of the chain message', () => {
    const out = run('certtool', ['--p7-info', '--inder', '--infile', chainP7]);
    expect(out).toMatch(/Number of certificates: 2\n/);
    expect(pemCount(out)).toBe(2);
    const listed = out.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((b) => b.startsWith('-----BEGIN CERTIFICATE')).map((pem) => hex(new Uint8Array(new X509Certificate(pem).raw)));
    expect(listed.sort()).toEqual([hex(chain.root.der), hex(chain.issuing.der)].sort());
    // No signer: nothing between the heading and the certificates.
    expect(out).toMatch(/^Signers:\nNumber of certificates: 2\n/m);
  });

  it('certtool --p7-info --inder lists the device certificate of the device message', () => {
    const out = run('certtool', ['--p7-info', '--inder', '--infile', deviceP7]);
    expect(out).toMatch(/Number of certificates: 1\n/);
    expect(pemCount(out)).toBe(1);
  });

  it('certtool --p7-generate labels its content id-digestedData, which certificatesOfCms refuses (EST wants id-data)', () => {
    const bundle = file('gnutls-bundle.pem', chain.root.pem + chain.issuing.pem);
    const p7 = join(dir, 'gnutls.p7b');
    run('certtool', ['--p7-generate', '--load-certificate', bundle, '--outder', '--outfile', p7]);
    expect(thrownMessage(() => certificatesOfCms(new Uint8Array(readFileSync(p7))), CmsError)).toBe(
      'not a certs-only CMS message: encapsulated content type 1.2.840.113549.1.7.5 is not id-data',
    );
  });
});

describe('csrAttributes with OpenSSL', () => {
  const OPENSSL_NAMES = [
    'countryName',
    'organizationName',
    'commonName',
    'id-ecPublicKey',
    'secp384r1',
    'prime256v1',
    'rsaEncryption',
    'ecdsa-with-SHA256',
    'sha256WithRSAEncryption',
  ];

  it('openssl asn1parse parses the shipped policy\'s CSR attributes and shows every OID, in order', () => {
    const der = file('csrattrs.der', csrAttributes(shippedPolicy()));
    const out = run('openssl', ['asn1parse', '-inform', 'DER', '-in', der]);
    const objects = [...out.matchAll(/prim: OBJECT\s+:(\S+)/g)].map((m) => m[1]);
    expect(objects).toEqual(OPENSSL_NAMES);
    expect([...out.matchAll(/prim: INTEGER\s+:(\S+)/g)].map((m) => Number.parseInt(m[1]!, 16))).toEqual([2048, 3072, 4096]);
    expect(out).toMatch(/^\s+0:d=0\s+hl=2 l=\s*\d+ cons: SEQUENCE/);
  });

  it('openssl asn1parse parses the base64 form as it is sent', () => {
    const b64 = file('csrattrs.b64', encodeEstBase64(csrAttributes(shippedPolicy())));
    const out = pipeline(`openssl base64 -d -in '${b64}' | openssl asn1parse -inform DER`);
    expect([...out.matchAll(/prim: OBJECT\s+:(\S+)/g)].map((m) => m[1])).toEqual(OPENSSL_NAMES);
  });
});
