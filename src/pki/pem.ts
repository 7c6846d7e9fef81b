/** PEM encoding and decoding (RFC 7468, strict base64). */
export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** 1: base64 alphabet, 2: ASCII whitespace, 0: anything else. */
const CLASS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') CLASS[c.charCodeAt(0)] = 1;
for (const c of ' \t\n\r\f\v') CLASS[c.charCodeAt(0)] = 2;

/**
 * Strict base64: only the alphabet, at most two `=` and only at the end, a
 * multiple of four characters; ASCII whitespace anywhere is ignored. One pass,
 * no intermediate string.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  let count = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const kind = c < 128 ? CLASS[c] : 0;
    if (kind === 2) continue;
    if (c === 0x3d /* = */) {
      if (++padding > 2) return undefined;
    } else if (kind !== 1 || padding > 0) {
      return undefined;
    }
    count++;
  }
  if (count === 0 || count % 4 !== 0) return undefined;
  const der = Buffer.from(text, 'base64');
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
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

/**
 * The one PEM block of a text, found with indexOf rather than the block regex
 * (the common case: a station sends exactly one). Undefined when there is not
 * exactly one well-formed BEGIN/END pair: `findPemBlocks` then says what is wrong.
 */
export function singlePemBlock(text: string): PemBlock | undefined {
  const begin = text.indexOf('-----BEGIN ');
  if (begin < 0 || text.indexOf('-----BEGIN ', begin + 11) >= 0) return undefined;
  const labelEnd = text.indexOf('-----', begin + 11);
  if (labelEnd < 0) return undefined;
  const label = text.slice(begin + 11, labelEnd);
  if (!/^[A-Z0-9 ]+$/.test(label)) return undefined;
  const endMarker = `-----END ${label}-----`;
  const end = text.indexOf(endMarker, labelEnd + 5);
  if (end < 0 || text.indexOf('-----END ', labelEnd + 5) !== end) return undefined;
  const der = decodeBase64Strict(text.slice(labelEnd + 5, end));
  return der ? { label, der } : undefined;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** The DER of every CERTIFICATE block of a PEM bundle, in order. */
export function certificatesFromPem(text: string): Uint8Array[] {
  return findPemBlocks(text)
    .filter((b): b is PemBlock => 'der' in b && b.label === 'CERTIFICATE')
    .map((b) => b.der);
}
