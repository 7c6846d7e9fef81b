/**
 * RFC 9162 Merkle tree hashing and proof verification, written from the RFC
 * (§2.1.1, §2.1.3.2, §2.1.4.2) and independent of src/log/merkle.ts: tests
 * check the log's proofs with it, so a bug shared by the prover and its own
 * verifier cannot pass unnoticed.
 */
import { createHash } from 'node:crypto';

const H = (...parts: Uint8Array[]): Buffer<ArrayBufferLike> => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const rfcLeafHash = (entry: Uint8Array): Buffer => H(Buffer.of(0), entry);
const rfcNode = (l: Uint8Array, r: Uint8Array): Buffer<ArrayBufferLike> => H(Buffer.of(1), l, r);

/** MTH(D[n]) by the RFC's recursion, from leaf hashes. */
export function rfcRoot(leaves: readonly Uint8Array[]): Buffer {
  const n = leaves.length;
  if (n === 0) return H();
  if (n === 1) return Buffer.from(leaves[0]!);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return rfcNode(rfcRoot(leaves.slice(0, k)), rfcRoot(leaves.slice(k)));
}

const lsb = (x: number) => x % 2 === 1;
const shr = (x: number) => Math.floor(x / 2);

/** §2.1.3.2: verifying an inclusion proof. */
export function rfcVerifyInclusion(leafIndex: number, treeSize: number, leaf: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (leafIndex >= treeSize) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer<ArrayBufferLike> = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = rfcNode(p, r);
      if (!lsb(fn)) while (!lsb(fn) && fn !== 0) (fn = shr(fn)), (sn = shr(sn));
    } else r = rfcNode(r, p);
    fn = shr(fn);
    sn = shr(sn);
  }
  return sn === 0 && r.equals(Buffer.from(root));
}

/** §2.1.4.2: verifying a consistency proof. */
export function rfcVerifyConsistency(first: number, second: number, firstHash: Uint8Array, secondHash: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (first > second) return false;
  if (first === second) return proof.length === 0 && Buffer.from(firstHash).equals(Buffer.from(secondHash));
  if (first === 0) return proof.length === 0;
  const path = [...proof];
  if ((first & (first - 1)) === 0) path.unshift(firstHash);
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (lsb(fn)) (fn = shr(fn)), (sn = shr(sn));
  let fr: Buffer<ArrayBufferLike> = Buffer.from(path[0]!);
  let sr: Buffer<ArrayBufferLike> = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = rfcNode(c, fr);
      sr = rfcNode(c, sr);
      if (!lsb(fn)) while (!lsb(fn) && fn !== 0) (fn = shr(fn)), (sn = shr(sn));
    } else sr = rfcNode(sr, c);
    fn = shr(fn);
    sn = shr(sn);
  }
  return sn === 0 && fr.equals(Buffer.from(firstHash)) && sr.equals(Buffer.from(secondHash));
}
