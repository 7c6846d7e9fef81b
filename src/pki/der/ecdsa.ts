/**
 * ECDSA signatures in their two forms: X.509 carries the DER ECDSA-Sig-Value
 * (SEQUENCE { r INTEGER, s INTEGER }), WebCrypto the fixed-size r||s
 * (IEEE P1363), each of r and s as many octets as the curve's order.
 */
import { childrenOf, readSingle } from './reader.js';

/** DER ECDSA-Sig-Value → the fixed-size r||s, `size` octets each (32 for P-256, 48 for P-384). */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  const [r, s] = childrenOf(readSingle(der));
  const out = new Uint8Array(size * 2);
  for (const [i, el] of [r!, s!].entries()) {
    let v = el.bytes.subarray(el.valueStart, el.end);
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) throw new Error('ECDSA signature component too large');
    out.set(v, (i + 1) * size - v.length);
  }
  return out;
}
