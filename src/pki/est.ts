/**
 * EST (RFC 7030) message bodies on the wire, as RFC 8951 3 clarifies them:
 * every request and response body that carries DER (a PKCS #10 request, a
 * certs-only CMS message, CSR attributes) is that DER in base64 (RFC 4648).
 * The Content-Transfer-Encoding header is not needed and is ignored. Line
 * breaks and other whitespace are taken on receipt (RFC 7030's own examples
 * break their lines).
 */
import { csrMalformed } from './errors.js';
import { decodeBase64Strict } from './pem.js';

/** The largest request body taken by default (a CSR with an RSA 4096-bit key is under 3 KiB in base64). */
export const EST_MAX_BODY_BYTES = 64 * 1024;

/** Only ASCII whitespace, or nothing. */
const BLANK = /^[ \t\n\r\f\v]*$/;

/**
 * The DER of an EST request body that carries a certification request
 * (simpleenroll, simplereenroll): base64, with any ASCII whitespace (CRLF or
 * LF line breaks, spaces, tabs) ignored. Refuses, as CSR_MALFORMED, a body
 * longer than `maxBytes` (bytes, or characters of a string; counted before
 * decoding), an empty or blank one, and one that is not strict base64
 * (another character, padding in the middle, a length that is not a multiple
 * of four). What the DER holds is for the CSR parser (`parseCsr`) to check.
 */
export function decodeEstBase64(body: string | Uint8Array, maxBytes: number = EST_MAX_BODY_BYTES): Uint8Array {
  if (body.length > maxBytes) {
    throw csrMalformed(`the request body is ${body.length} bytes long; at most ${maxBytes} are accepted`);
  }
  // Each byte one character (latin1): a byte outside ASCII is then refused as a character outside the alphabet.
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  if (BLANK.test(text)) throw csrMalformed('the request body is empty; EST carries the CSR as base64-encoded DER');
  const der = decodeBase64Strict(text);
  if (!der) throw csrMalformed('the request body is not base64; EST carries the CSR as base64-encoded DER (RFC 8951)');
  return der;
}

/** Base64 of `der` in lines of 64 characters, each ending with CRLF (as RFC 7030's examples are; clients take any line breaks). */
export function encodeEstBase64(der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\r\n`;
  return out;
}
