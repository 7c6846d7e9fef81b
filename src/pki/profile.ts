/**
 * The certificates built on @peculiar/x509: CA certificates and the
 * verification certificate AWS IoT asks for, off the issuing path. Device
 * certificates are built by the fast path (fast-certificate.ts).
 */
import { webcrypto } from 'node:crypto';
import { x509 } from './x509.js';
import { SIGNING_ALGORITHMS } from './algorithms.js';
import { ecdsaDerToRaw } from './der/ecdsa.js';
import { keyIdentifierOf } from './keys.js';
import type { Signer } from './signer.js';

/** What a certificate builder needs to know of its issuer. */
export interface Issuer {
  /** Subject Name DER of the issuing certificate (the issuer of what it signs). */
  subjectDer: Uint8Array;
  /** Key identifier (hex) of the issuing key: the authorityKeyIdentifier it puts in what it signs. */
  keyIdentifier: string;
  /** The issuing certificate's validity: what it signs lies within it. */
  notBefore?: Date;
  notAfter: Date;
  signer: Signer;
  /**
   * Where relying parties fetch this issuer's CRL. When set, the device
   * certificates it signs carry a cRLDistributionPoints extension with this
   * URL (http:// or https://, printable ASCII); when absent, none.
   */
  crlUrl?: string;
}

/**
 * Adapts the signer port to the WebCrypto shape that @peculiar/x509's generator
 * calls (its documented seam for external keys). The generator hands over the
 * TBSCertificate; the signer signs it wherever its key lives.
 */
function signerCrypto(signer: Signer): { crypto: Crypto; signingKey: CryptoKey; signingAlgorithm: Algorithm } {
  const { web, ecdsaSize } = SIGNING_ALGORITHMS[signer.algorithm];
  const subtle = {
    sign: async (_alg: unknown, _key: unknown, data: BufferSource) => {
      const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
      const signature = await signer.sign(bytes);
      const out = ecdsaSize ? ecdsaDerToRaw(signature, ecdsaSize) : signature;
      return out.slice().buffer;
    },
    digest: (alg: AlgorithmIdentifier, data: BufferSource) => webcrypto.subtle.digest(alg, data),
  };
  const crypto = { subtle, getRandomValues: (a: Uint8Array) => webcrypto.getRandomValues(a) } as unknown as Crypto;
  const signingKey = { algorithm: web.key, type: 'private', extractable: false, usages: ['sign'] } as unknown as CryptoKey;
  return { crypto, signingKey, signingAlgorithm: web.sign as unknown as Algorithm };
}

export { deviceValidity, type Validity } from './validity.js';
import type { Validity } from './validity.js';

export interface BuiltCertificate {
  der: Uint8Array;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateParams {
  serialNumber: string;
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  /** SubjectPublicKeyInfo DER of the certified key. */
  publicKey: Uint8Array;
  validity: Validity;
  extensions: x509.Extension[];
  /** Signs the TBSCertificate in the issuer's name. */
  signer: Signer;
}

/** A certificate built by @peculiar/x509's generator and signed by the signer port. */
export async function generateCertificate(params: CertificateParams): Promise<BuiltCertificate> {
  const { crypto, signingKey, signingAlgorithm } = signerCrypto(params.signer);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: params.serialNumber,
      subject: new x509.Name(params.subjectDer.slice()),
      issuer: new x509.Name(params.issuerDer.slice()),
      notBefore: params.validity.notBefore,
      notAfter: params.validity.notAfter,
      publicKey: params.publicKey.slice(),
      signingKey,
      signingAlgorithm,
      extensions: params.extensions,
    },
    crypto,
  );
  return {
    der: new Uint8Array(cert.rawData),
    serialNumber: params.serialNumber,
    notBefore: params.validity.notBefore,
    notAfter: params.validity.notAfter,
  };
}

export interface CaCertificateParams {
  /** `root`: no path length limit. `issuing`: pathLen 0, it signs only end-entity certificates. */
  role: 'root' | 'issuing';
  serialNumber: string;
  subjectDer: Uint8Array;
  /** The CA's own public key (SPKI DER). */
  publicKey: Uint8Array;
  validity: Validity;
  /** The CA that signs this certificate; for a self-signed root, the root itself. */
  issuer: Omit<Issuer, 'notAfter'>;
}

/** Builds a CA certificate (root or issuing). */
export function buildCaCertificate(p: CaCertificateParams): Promise<BuiltCertificate> {
  return generateCertificate({
    serialNumber: p.serialNumber,
    subjectDer: p.subjectDer,
    issuerDer: p.issuer.subjectDer,
    publicKey: p.publicKey,
    validity: p.validity,
    signer: p.issuer.signer,
    extensions: [
      new x509.BasicConstraintsExtension(true, p.role === 'issuing' ? 0 : undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectKeyIdentifierExtension(keyIdentifierOf(p.publicKey)),
      new x509.AuthorityKeyIdentifierExtension(p.issuer.keyIdentifier),
    ],
  });
}

/** What an end-entity certificate of the CA's own (not a device's) is made of. */
interface EndEntityParams {
  serialNumber: string;
  publicKey: Uint8Array;
  validity: Validity;
  issuer: Omit<Issuer, 'notAfter'>;
}

/** An end-entity certificate signed by `issuer`: subject CN only, not a CA, digitalSignature, key identifiers, and `extra` extensions. */
function endEntityCertificate(p: EndEntityParams, commonName: string, extra: x509.Extension[] = []): Promise<BuiltCertificate> {
  return generateCertificate({
    serialNumber: p.serialNumber,
    subjectDer: caSubjectDer({ CN: commonName }),
    issuerDer: p.issuer.subjectDer,
    publicKey: p.publicKey,
    validity: p.validity,
    signer: p.issuer.signer,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...extra,
      new x509.SubjectKeyIdentifierExtension(keyIdentifierOf(p.publicKey)),
      new x509.AuthorityKeyIdentifierExtension(p.issuer.keyIdentifier),
    ],
  });
}

/**
 * The private-key verification certificate AWS IoT asks for when a CA is
 * registered: subject CN = the account's registration code, signed by the CA
 * being registered. Its own key pair is throwaway; only its signature matters.
 */
export function buildVerificationCertificate(p: EndEntityParams & { registrationCode: string }): Promise<BuiltCertificate> {
  return endEntityCertificate(p, p.registrationCode);
}

/** Name DER for a CA subject built from configuration. */
export function caSubjectDer(fields: { C?: string; O?: string; CN: string }): Uint8Array {
  // The JSON form takes values as they are: no RFC 4514 escaping to get wrong.
  const rdns: Array<Record<string, string[]>> = [
    ...(fields.C ? [{ '2.5.4.6': [fields.C] }] : []),
    ...(fields.O ? [{ '2.5.4.10': [fields.O] }] : []),
    { '2.5.4.3': [fields.CN] },
  ];
  return new Uint8Array(new x509.Name(rdns).toArrayBuffer());
}

/**
 * A TLS server certificate (serverAuth, the names in subjectAltName): local
 * mode's EST listener only, issued by the local issuing CA so that a client
 * trusting the root reaches it by name. Never a device certificate, never in the ledger.
 */
export function buildTlsServerCertificate(p: EndEntityParams & { commonName: string; dnsNames: string[]; ipAddresses: string[] }): Promise<BuiltCertificate> {
  const names = [...p.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...p.ipAddresses.map((value) => ({ type: 'ip' as const, value }))];
  return endEntityCertificate(p, p.commonName, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]), new x509.SubjectAlternativeNameExtension(names)]);
}
