/**
 * Builds PKCS#10 CSRs byte by byte, for the cases openssl will not make:
 * BMPString/TeletexString values, over-long values, NUL and control bytes,
 * and signatures by a key other than the one in the CSR.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return Buffer.concat([Uint8Array.of(tag), length(body.length), body]);
}

export const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
export const set = (...c: Uint8Array[]) => tlv(0x31, ...c);

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  for (const arc of [40 * arcs[0]! + arcs[1]!, ...arcs.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

export const STRING = {
  utf8: (s: string) => tlv(0x0c, Buffer.from(s, 'utf8')),
  printable: (s: string) => tlv(0x13, Buffer.from(s, 'latin1')),
  ia5: (s: string) => tlv(0x16, Buffer.from(s, 'latin1')),
  teletex: (s: string) => tlv(0x14, Buffer.from(s, 'latin1')),
  bmp: (s: string) => tlv(0x1e, Buffer.from(s, 'utf16le').swap16()),
};

export const OIDS = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3', ST: '2.5.4.8', L: '2.5.4.7', serialNumber: '2.5.4.5', dnQualifier: '2.5.4.46', emailAddress: '1.2.840.113549.1.9.1', title: '2.5.4.12', UID: '0.9.2342.19200300.100.1.1' } as const;

/** One attribute: [short name or OID, encoded value]. */
export type Attr = [string, Uint8Array];

const attr = ([name, value]: Attr) => seq(oid(OIDS[name as keyof typeof OIDS] ?? name), value);

/** A Name from RDNs; each RDN is a list of attributes (more than one: multi-valued). */
export const name = (...rdns: Attr[][]) => seq(...rdns.map((rdn) => set(...rdn.map(attr))));

/** The usual subject, with overrides by short name (undefined removes one). */
export function subject(overrides: Record<string, Uint8Array | undefined> = {}): Uint8Array {
  const base: Record<string, Uint8Array | undefined> = {
    C: STRING.printable('US'),
    O: STRING.utf8('Example Corp'),
    CN: STRING.utf8('device-0001'),
    ...overrides,
  };
  return name(...Object.entries(base).filter(([, v]) => v !== undefined).map(([k, v]) => [[k, v!] as Attr]));
}

const SIG_ALG: Record<string, { oid: string; hash: string | null; nullParams: boolean }> = {
  ec: { oid: '1.2.840.10045.4.3.2', hash: 'sha256', nullParams: false },
  rsa: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', nullParams: true },
  ed25519: { oid: '1.3.101.112', hash: null, nullParams: false },
  dsa: { oid: '2.16.840.1.101.3.4.3.2', hash: 'sha256', nullParams: false },
};

export interface CsrOptions {
  /** Signs the CSR (defaults to the key whose public half is in the CSR). */
  key?: KeyObject;
  /** Puts a different public key in the CSR (to make a CSR signed by a foreign key). */
  publicKey?: KeyObject;
  subjectDer?: Uint8Array;
  attributes?: Uint8Array;
}

let cachedKey: KeyObject | undefined;
export const p256Key = () => (cachedKey ??= generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
export const newP256Key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

export function buildCsrDer(options: CsrOptions = {}): Uint8Array {
  const key = options.key ?? p256Key();
  const pub = options.publicKey ?? createPublicKey(key);
  const spki = new Uint8Array(pub.export({ format: 'der', type: 'spki' }));
  const info = seq(tlv(0x02, Uint8Array.of(0)), options.subjectDer ?? subject(), spki, options.attributes ?? tlv(0xa0));
  const alg = SIG_ALG[key.asymmetricKeyType!]!;
  const signature = sign(alg.hash, info, key);
  const algId = alg.nullParams ? seq(oid(alg.oid), tlv(0x05)) : seq(oid(alg.oid));
  return seq(info, algId, tlv(0x03, Uint8Array.of(0), signature));
}

export function toCsrPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}

export const buildCsr = (options: CsrOptions = {}) => toCsrPem(buildCsrDer(options));
