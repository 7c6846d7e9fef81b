/**
 * Where the log's tree lives: the hashes of its complete subtrees, by (level,
 * index), and its size. A complete subtree's hash never changes once written,
 * so a store only ever adds hashes; appending one leaf adds the leaf's hash and
 * one hash per parent it completes (log2(n)+1 at most, 2 on average), and
 * reads the frontier (one hash per bit set in the size) to compute them.
 *
 * The interface is what a persistent store implements (one item per node and
 * one for the size, the append a single conditional transaction);
 * MemoryTreeStore is the in-memory one.
 */
import { CompactTree, rangeNodes, type NodeHash, type NodeId, type NodeReader } from './merkle.js';

export interface TreeStore extends NodeReader {
  /** The number of leaves in the tree. */
  size(): Promise<number>;
  /**
   * Adds the hashes of complete subtrees and moves the size from `expectedSize`
   * to `newSize`, all or nothing; throws TreeSizeConflict, writing nothing, if
   * the size is no longer `expectedSize` (another writer appended first).
   */
  append(expectedSize: number, newSize: number, nodes: readonly NodeHash[]): Promise<void>;
}

export class TreeSizeConflict extends Error {
  constructor(expected: number, actual: number) {
    super(`the tree has ${actual} leaves, not the ${expected} this append was computed for`);
    this.name = 'TreeSizeConflict';
  }
}

export interface AppendResult {
  /** The index of the first leaf appended. */
  firstIndex: number;
  /** The tree's new size and root hash. */
  size: number;
  root: Uint8Array;
  /** The complete subtrees written. */
  written: number;
}

/**
 * Appends leaf hashes to the tree in a store: reads its frontier, computes the
 * complete subtrees the new leaves complete, and writes them with the new size
 * conditionally on the old one. A TreeSizeConflict means nothing was written
 * and the caller may retry.
 */
export async function appendLeaves(store: TreeStore, leafHashes: readonly Uint8Array[]): Promise<AppendResult> {
  const size = await store.size();
  const frontier = await store.nodes(rangeNodes(0, size));
  const tree = new CompactTree(size, frontier);
  const nodes = leafHashes.flatMap((h) => tree.append(h));
  await store.append(size, tree.size, nodes);
  return { firstIndex: size, size: tree.size, root: tree.root(), written: nodes.length };
}

const key = ({ level, index }: NodeId): string => `${level}/${index}`;

/** A TreeStore in memory, for tests; it counts the node hashes it is asked for and the reads. */
export class MemoryTreeStore implements TreeStore {
  readonly #nodes = new Map<string, Uint8Array>();
  #size = 0;
  /** Node hashes read so far, and the reads that asked for them. */
  reads = 0;
  batches = 0;

  async size(): Promise<number> {
    return this.#size;
  }

  nodes(ids: readonly NodeId[]): Uint8Array[] {
    this.reads += ids.length;
    this.batches++;
    return ids.map((id) => {
      const h = this.#nodes.get(key(id));
      if (!h) throw new Error(`node (${id.level}, ${id.index}) is not stored`);
      return h;
    });
  }

  async append(expectedSize: number, newSize: number, nodes: readonly NodeHash[]): Promise<void> {
    if (this.#size !== expectedSize) throw new TreeSizeConflict(expectedSize, this.#size);
    for (const { id } of nodes) if (this.#nodes.has(key(id))) throw new Error(`node (${id.level}, ${id.index}) is already stored`);
    for (const { id, hash } of nodes) this.#nodes.set(key(id), hash);
    this.#size = newSize;
  }

  /** The number of node hashes stored. */
  get stored(): number {
    return this.#nodes.size;
  }
}
