/**
 * The Merkle tree of the issuance log, as RFC 9162 §2.1 defines it (the tree of
 * RFC 6962, with SHA-256):
 *
 *   MTH({})      = SHA-256()
 *   MTH({d(0)})  = SHA-256(0x00 || d(0))                      (leaf hash)
 *   MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) (node hash)
 *
 * where k is the largest power of two smaller than n. Inclusion proofs
 * (§2.1.3) and consistency proofs (§2.1.4) are built and verified here.
 *
 * Storage. Every subtree in this structure is either complete (2^level leaves
 * starting at index·2^level: a node (level, index), whose hash never changes
 * once its last leaf is in) or the right border of a tree whose size is not a
 * power of two, whose hash is the fold of the complete subtrees it is made of.
 * A store keeps the hashes of complete subtrees only (see tree-store.ts); every
 * element of a proof is then one stored hash, or the fold of at most log2(n)
 * stored hashes (at most one such element per proof), so a proof costs
 * O(log n) reads, planned first and read in one batch.
 *
 * Sizes and indexes are JavaScript numbers, safe integers; no bitwise operator
 * is used on them, as those work on 32 bits.
 */
import { createHash } from 'node:crypto';

/** The size of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** The hash of a leaf: SHA-256(0x00 || entry). */
export const leafHash = (entry: Uint8Array): Uint8Array => sha256(LEAF_PREFIX, entry);

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(NODE_PREFIX, left, right);

/** The root hash of the empty tree: SHA-256 of nothing. */
export const emptyRoot = (): Uint8Array => sha256();

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A complete subtree: the 2^level leaves from index·2^level on. Level 0 is the leaves. */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** The hash of a complete subtree, as a store writes it. */
export interface NodeHash {
  readonly id: NodeId;
  readonly hash: Uint8Array;
}

/**
 * Where the hashes of complete subtrees come from: a store, or leaf hashes in
 * memory. `nodes` answers every id asked for, in the order asked, or throws.
 */
export interface NodeReader {
  nodes(ids: readonly NodeId[]): Uint8Array[] | Promise<Uint8Array[]>;
}

/**
 * One element of a proof, as the complete subtrees (left to right) whose hashes
 * fold into it: one node, or the right border of an incomplete subtree.
 */
export type ProofElementPlan = readonly NodeId[];

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
}

const half = (n: number): number => Math.floor(n / 2);
const isOdd = (n: number): boolean => n % 2 === 1;

/** The largest power of two smaller than n (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!(n >= 2)) throw new RangeError(`no split point for a tree of ${n} leaves`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** n is a power of two (1, 2, 4, …). */
const isPowerOfTwo = (n: number): boolean => {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
};

/**
 * The complete subtrees, left to right (largest first), that make up the
 * subtree D[start:end] of RFC 9162's recursion: the leaves of a tree of `end`
 * leaves for start 0, and each subtree its splits reach. For start 0 these
 * are the tree's frontier: one node per bit set in `end`.
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  checkSize('start', start);
  checkSize('end', end);
  const out: NodeId[] = [];
  while (start < end) {
    const n = end - start;
    const width = isPowerOfTwo(n) ? n : splitPoint(n);
    if (start % width !== 0) throw new RangeError(`leaves [${start}, ${end}) are not a subtree of the log's tree`);
    out.push({ level: Math.log2(width), index: start / width });
    start += width;
  }
  return out;
}

/** The hash of a run of complete subtrees, left to right: the right border folded from its end. */
export function foldNodes(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return emptyRoot();
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/**
 * The plan of PATH(index, D[size]) (RFC 9162 §2.1.3.1): the audit path from the
 * leaf's sibling up to the root's child.
 */
export function inclusionPlan(index: number, size: number): ProofElementPlan[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size} leaves`);
  const path: ProofElementPlan[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.unshift(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      path.unshift(rangeNodes(lo, lo + k));
      lo += k;
    }
  }
  return path;
}

/**
 * The plan of PROOF(m, D[n]) (RFC 9162 §2.1.4.1): empty for m = n, defined for
 * 0 < m ≤ n.
 */
export function consistencyPlan(m: number, n: number): ProofElementPlan[] {
  checkSize('m', m);
  checkSize('n', n);
  if (m === 0 || m > n) throw new RangeError(`no consistency proof from ${m} leaves to ${n}`);
  const proof: ProofElementPlan[] = [];
  let lo = 0;
  let hi = n;
  let known = true; // SUBPROOF's b: the subtree D[lo:lo+m] is the old tree itself
  let mm = m;
  for (;;) {
    if (mm === hi - lo) {
      if (!known) proof.unshift(rangeNodes(lo, hi));
      return proof;
    }
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      proof.unshift(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      proof.unshift(rangeNodes(lo, lo + k));
      lo += k;
      mm -= k;
      known = false;
    }
  }
}

/** Reads the nodes of a plan in one batch and folds each element. */
export async function readPlan(plan: readonly ProofElementPlan[], reader: NodeReader): Promise<Uint8Array[]> {
  const ids = plan.flat();
  const hashes = await reader.nodes(ids);
  if (hashes.length !== ids.length) throw new Error(`asked for ${ids.length} node hashes, got ${hashes.length}`);
  let at = 0;
  return plan.map((element) => foldNodes(hashes.slice(at, (at += element.length))));
}

/** The audit path of leaf `index` in the tree of `size` leaves. */
export const inclusionProof = (index: number, size: number, reader: NodeReader): Promise<Uint8Array[]> =>
  readPlan(inclusionPlan(index, size), reader);

/** The consistency proof from the tree of m leaves to the tree of n leaves. */
export const consistencyProof = (m: number, n: number, reader: NodeReader): Promise<Uint8Array[]> =>
  readPlan(consistencyPlan(m, n), reader);

/** The root hash of the tree of `size` leaves, from its frontier (one node per bit set in size). */
export async function treeRoot(size: number, reader: NodeReader): Promise<Uint8Array> {
  const [root] = await readPlan([rangeNodes(0, size)], reader);
  return root!;
}

/** MTH of a list of leaf hashes, in O(n) time and O(log n) memory. */
export function rootHash(leafHashes: Iterable<Uint8Array>): Uint8Array {
  const tree = new CompactTree();
  for (const h of leafHashes) tree.append(h);
  return tree.root();
}

/**
 * A tree kept as its frontier only: the hashes of the complete subtrees
 * `rangeNodes(0, size)`, at most log2(size)+1 of them. Appending a leaf yields
 * the complete subtrees it completes (the leaf, and each parent whose right
 * child it completes), which is what a store writes: amortised 2 nodes a
 * leaf, log2(n)+1 at most.
 */
export class CompactTree {
  #size: number;
  #frontier: Uint8Array[];

  /** An empty tree, or the tree of `size` leaves whose frontier hashes are given (left to right). */
  constructor(size = 0, frontier: readonly Uint8Array[] = []) {
    checkSize('size', size);
    if (frontier.length !== rangeNodes(0, size).length) throw new Error(`a tree of ${size} leaves has ${rangeNodes(0, size).length} frontier hashes, got ${frontier.length}`);
    this.#size = size;
    this.#frontier = [...frontier];
  }

  get size(): number {
    return this.#size;
  }

  get frontier(): readonly Uint8Array[] {
    return this.#frontier;
  }

  /** Appends a leaf hash; returns the complete subtrees it completes, from the leaf up. */
  append(leaf: Uint8Array): NodeHash[] {
    if (leaf.length !== HASH_SIZE) throw new Error(`a leaf hash has ${HASH_SIZE} bytes, got ${leaf.length}`);
    const created: NodeHash[] = [{ id: { level: 0, index: this.#size }, hash: leaf }];
    let hash = leaf;
    let index = this.#size;
    let level = 0;
    while (isOdd(index)) {
      hash = nodeHash(this.#frontier.pop()!, hash);
      index = half(index);
      level++;
      created.push({ id: { level, index }, hash });
    }
    this.#frontier.push(hash);
    this.#size++;
    return created;
  }

  root(): Uint8Array {
    return foldNodes(this.#frontier);
  }
}

/**
 * Every complete subtree of a list of leaf hashes, in memory: a NodeReader for
 * tests and for recomputing proofs offline from the entries themselves.
 */
export class MemoryTree implements NodeReader {
  /** levels[l][i]: the hash of node (l, i). */
  readonly #levels: Uint8Array[][] = [[]];
  readonly #compact = new CompactTree();

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const h of leafHashes) this.append(h);
  }

  get size(): number {
    return this.#compact.size;
  }

  appendEntry(entry: Uint8Array): number {
    return this.append(leafHash(entry));
  }

  /** Appends a leaf hash; returns its index. */
  append(leaf: Uint8Array): number {
    for (const { id, hash } of this.#compact.append(leaf)) (this.#levels[id.level] ??= [])[id.index] = hash;
    return this.size - 1;
  }

  nodes(ids: readonly NodeId[]): Uint8Array[] {
    return ids.map(({ level, index }) => {
      const h = this.#levels[level]?.[index];
      if (!h) throw new Error(`node (${level}, ${index}) is not in a tree of ${this.size} leaves`);
      return h;
    });
  }

  root(size = this.size): Uint8Array {
    return size === this.size ? this.#compact.root() : foldNodes(this.nodes(rangeNodes(0, size)));
  }
}

const isHash = (h: Uint8Array): boolean => h instanceof Uint8Array && h.length === HASH_SIZE;

/**
 * Verifies an audit path, as RFC 9162 §2.1.3.2 says: true if `leaf` is the
 * hash of leaf `index` of the tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * Verifies a consistency proof, as RFC 9162 §2.1.4.2 says: true if the tree of
 * n leaves with root `rootN` extends the tree of m leaves with root `rootM`.
 * For m = n the proof is empty and the roots are equal; a proof from the empty
 * tree proves nothing and is refused.
 */
export function verifyConsistency(
  m: number,
  n: number,
  proof: readonly Uint8Array[],
  rootM: Uint8Array,
  rootN: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 1 || m > n) return false;
  if (!isHash(rootM) || !isHash(rootN) || !proof.every(isHash)) return false;
  if (m === n) return proof.length === 0 && equalBytes(rootM, rootN);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(m) ? [rootM, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(fr, rootM) && equalBytes(sr, rootN);
}
