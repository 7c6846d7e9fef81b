/** PEM encoding and decoding (RFC 7468, strict base64). */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64: only the alphabet, optional padding, whitespace ignored. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) return undefined;
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

export function findPemBlocks(text: string): Array<PemBlock | { label: string; error: string }> {
  const out: Array<PemBlock | { label: string; error: string }> = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, label, body, endLabel] = m as unknown as [string, string, string, string];
    if (label !== endLabel) {
      out.push({ label, error: `BEGIN ${label} does not match END ${endLabel}` });
      continue;
    }
    const der = decodeBase64Strict(body);
    out.push(der ? { label, der } : { label, error: 'invalid base64 in PEM body' });
  }
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of every CERTIFICATE block of a PEM bundle, in order. */
export function certificatesFromPem(text: string): Uint8Array[] {
  return findPemBlocks(text)
    .filter((b): b is PemBlock => 'der' in b && b.label === 'CERTIFICATE')
    .map((b) => b.der);
}
