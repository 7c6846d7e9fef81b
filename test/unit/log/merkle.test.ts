import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import {
  CompactTree,
  MemoryTree,
  consistencyPlan,
  consistencyProof,
  emptyRoot,
  inclusionPlan,
  inclusionProof,
  leafHash,
  nodeHash,
  rangeNodes,
  rootHash,
  splitPoint,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type NodeReader,
} from '../../../src/log/merkle.js';
import { MemoryTreeStore, TreeSizeConflict, appendLeaves } from '../../../src/log/tree-store.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hexes = (l: Uint8Array[]) => l.map(hex);
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/*
 * RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, as written there, on lists of
 * entries: the reference the implementation is compared with.
 */
const H = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
const largestPowerOfTwoBelow = (n: number) => 2 ** Math.floor(Math.log2(n - 1));
function MTH(D: Uint8Array[]): Uint8Array {
  const n = D.length;
  if (n === 0) return H();
  if (n === 1) return H(Uint8Array.of(0), D[0]!);
  const k = largestPowerOfTwoBelow(n);
  return H(Uint8Array.of(1), MTH(D.slice(0, k)), MTH(D.slice(k)));
}
function PATH(m: number, D: Uint8Array[]): Uint8Array[] {
  const n = D.length;
  if (n === 1) return [];
  const k = largestPowerOfTwoBelow(n);
  return m < k ? [...PATH(m, D.slice(0, k)), MTH(D.slice(k))] : [...PATH(m - k, D.slice(k)), MTH(D.slice(0, k))];
}
function SUBPROOF(m: number, D: Uint8Array[], b: boolean): Uint8Array[] {
  const n = D.length;
  if (m === n) return b ? [] : [MTH(D)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...SUBPROOF(m, D.slice(0, k), b), MTH(D.slice(k))]
    : [...SUBPROOF(m - k, D.slice(k), false), MTH(D.slice(0, k))];
}
const PROOF = (m: number, D: Uint8Array[]) => SUBPROOF(m, D, true);

const entries = (n: number) => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`entry ${i}`));

/** Every byte of every hash flipped in turn, and every element dropped, duplicated or added. */
function* tamperings(proof: Uint8Array[]): Generator<Uint8Array[]> {
  for (let e = 0; e < proof.length; e++) {
    for (let i = 0; i < 32; i++) {
      const copy = proof.map((h) => h.slice());
      copy[e]![i]! ^= 0x01;
      yield copy;
    }
    yield proof.filter((_, j) => j !== e);
    yield [...proof.slice(0, e + 1), proof[e]!, ...proof.slice(e + 1)];
  }
  yield [...proof, new Uint8Array(32)];
  yield [new Uint8Array(32), ...proof];
}
const flipped = (h: Uint8Array, i: number) => {
  const c = h.slice();
  c[i]! ^= 0x80;
  return c;
};

describe('Function: leafHash, nodeHash, emptyRoot', () => {
  it('hash an entry with the 0x00 prefix, two nodes with 0x01, and the empty tree as SHA-256 of nothing', () => {
    expect(hex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(leafHash(new Uint8Array()))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(nodeHash(fromHex('00'), fromHex('01'))).toEqual(H(fromHex('010001')));
  });

  it.each([
    [2, 1],
    [3, 2],
    [4, 2],
    [5, 4],
    [8, 4],
    [9, 8],
    [2 ** 40 + 1, 2 ** 40],
  ])('splitPoint(%d) is %d, the largest power of two below', (n, k) => expect(splitPoint(n)).toBe(k));
});

describe('RFC 9162 reference: every tree of 1 to 64 leaves, every leaf, every older size', () => {
  const all = entries(64);

  it('the root, the audit paths and the consistency proofs are those of the RFC definitions, and verify', async () => {
    const tree = new MemoryTree();
    const store = new MemoryTreeStore();
    let checked = 0;
    for (let n = 1; n <= 64; n++) {
      const D = all.slice(0, n);
      tree.appendEntry(D[n - 1]!);
      await appendLeaves(store, [leafHash(D[n - 1]!)]);
      const root = MTH(D);
      expect(hex(rootHash(D.map(leafHash)))).toBe(hex(root));
      expect(hex(tree.root())).toBe(hex(root));
      expect(hex(await treeRoot(n, store))).toBe(hex(root));
      for (let m = 0; m < n; m++) {
        const proof = await inclusionProof(m, n, tree);
        expect(hexes(proof)).toEqual(hexes(PATH(m, D)));
        expect(hexes(await inclusionProof(m, n, store))).toEqual(hexes(proof));
        expect(verifyInclusion(leafHash(D[m]!), m, n, proof, root)).toBe(true);
        checked++;
      }
      for (let m = 1; m <= n; m++) {
        const proof = await consistencyProof(m, n, tree);
        expect(hexes(proof)).toEqual(hexes(PROOF(m, D)));
        expect(hexes(await consistencyProof(m, n, store))).toEqual(hexes(proof));
        expect(verifyConsistency(m, n, proof, MTH(D.slice(0, m)), root)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(2 * ((64 * 65) / 2));
  });

  it('an older size of a bigger stored tree has the root and proofs of the RFC definitions', async () => {
    const tree = new MemoryTree(all.map(leafHash));
    for (let n = 1; n <= 64; n++) {
      const D = all.slice(0, n);
      expect(hex(tree.root(n))).toBe(hex(MTH(D)));
      for (let m = 0; m < n; m += 5) expect(hexes(await inclusionProof(m, n, tree))).toEqual(hexes(PATH(m, D)));
      for (let m = 1; m < n; m += 5) expect(hexes(await consistencyProof(m, n, tree))).toEqual(hexes(PROOF(m, D)));
    }
  });
});

describe('Tampering: any changed byte, element or index fails verification', () => {
  const all = entries(17);
  const tree = new MemoryTree(all.map(leafHash));

  it('inclusion: every tree of 1 to 17 leaves, every leaf', async () => {
    for (let n = 1; n <= 17; n++) {
      const root = tree.root(n);
      for (let m = 0; m < n; m++) {
        const leaf = leafHash(all[m]!);
        const proof = await inclusionProof(m, n, tree);
        for (const bad of tamperings(proof)) expect(verifyInclusion(leaf, m, n, bad, root)).toBe(false);
        for (let i = 0; i < 32; i++) {
          expect(verifyInclusion(flipped(leaf, i), m, n, proof, root)).toBe(false);
          expect(verifyInclusion(leaf, m, n, proof, flipped(root, i))).toBe(false);
        }
        const entry = all[m]!;
        for (let i = 0; i < entry.length; i++) expect(verifyInclusion(leafHash(flipped(entry, i)), m, n, proof, root)).toBe(false);
        // Another index: the path's left and right turns (or its length) are another leaf's.
        for (const m2 of [m + 1, m - 1, m ^ 1]) if (m2 !== m) expect(verifyInclusion(leaf, m2, n, proof, root)).toBe(false);
        expect(verifyInclusion(entry, m, n, proof, root)).toBe(false); // the entry itself is not its leaf hash
      }
    }
  });

  it('consistency: every pair of sizes up to 17', async () => {
    for (let n = 1; n <= 17; n++) {
      const rootN = tree.root(n);
      for (let m = 1; m <= n; m++) {
        const rootM = tree.root(m);
        const proof = await consistencyProof(m, n, tree);
        for (const bad of tamperings(proof)) expect(verifyConsistency(m, n, bad, rootM, rootN)).toBe(false);
        for (let i = 0; i < 32; i += 7) {
          expect(verifyConsistency(m, n, proof, flipped(rootM, i), rootN)).toBe(false);
          expect(verifyConsistency(m, n, proof, rootM, flipped(rootN, i))).toBe(false);
        }
        if (m < n) expect(verifyConsistency(m, n, proof, rootN, rootM)).toBe(false);
        if (m > 1 && m < n) expect(verifyConsistency(m - 1, n, proof, rootM, rootN)).toBe(false);
      }
    }
  });

  it('refuses out-of-range arguments instead of building or verifying proofs', () => {
    const root = tree.root(4);
    expect(() => inclusionPlan(4, 4)).toThrow(RangeError);
    expect(() => inclusionPlan(-1, 4)).toThrow(RangeError);
    expect(() => inclusionPlan(0.5, 4)).toThrow(RangeError);
    expect(() => consistencyPlan(0, 4)).toThrow(RangeError);
    expect(() => consistencyPlan(5, 4)).toThrow(RangeError);
    expect(() => rangeNodes(1, 3)).toThrow(/not a subtree/);
    expect(verifyInclusion(leafHash(all[0]!), 0, 0, [], emptyRoot())).toBe(false);
    expect(verifyInclusion(leafHash(all[0]!), Number.NaN, 4, [], root)).toBe(false);
    expect(verifyConsistency(0, 4, [], emptyRoot(), root)).toBe(false);
    expect(verifyConsistency(0, 0, [], emptyRoot(), emptyRoot())).toBe(false);
    expect(verifyConsistency(5, 4, [], root, root)).toBe(false);
    expect(verifyInclusion(leafHash(all[0]!).subarray(0, 31), 0, 1, [], leafHash(all[0]!).subarray(0, 31))).toBe(false);
  });
});

/*
 * Vectors of github.com/transparency-dev/merkle: testonly/constants.go (the
 * eight leaf inputs, the node hashes of their tree, the root of every size)
 * and the testdata/inclusion and testdata/consistency probes.
 */
describe('Vectors: transparency-dev/merkle', () => {
  const leafInputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(fromHex);
  const rootHashes = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  const nodeHashes = [
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
      '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
    ],
    [
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    ],
    ['d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'],
    ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
  ];
  const tree = new MemoryTree(leafInputs.map(leafHash));

  it('the root of every size 0 to 8 and the hash of every complete subtree', () => {
    rootHashes.forEach((root, n) => expect(hex(rootHash(leafInputs.slice(0, n).map(leafHash)))).toBe(root));
    nodeHashes.forEach((level, l) => level.forEach((h, i) => expect(hex(tree.nodes([{ level: l, index: i }])[0]!)).toBe(h)));
  });

  const inclusionProbes: Array<[number, number, string, string, string[]]> = [
    [0, 1, 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', []],
    [0, 8, 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=']],
    [5, 8, 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', 'QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=', ['vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=', 'yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=', '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=']],
    [2, 3, 'rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=', 'ApjRIpBtz8EIkstTpzmS/FufST6kybrbJ7eRtBJ6f+c=', ['+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=']],
    [1, 5, 'Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=', 'lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', ['bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=']],
  ];
  it.each(inclusionProbes)('inclusion probe: leaf %d of %d is built and verifies', async (index, size, root, leaf, proof) => {
    expect(hexes(await inclusionProof(index, size, tree))).toEqual(proof.map((p) => hex(b64(p))));
    expect(hex(tree.root(size))).toBe(hex(b64(root)));
    expect(hex(tree.nodes([{ level: 0, index }])[0]!)).toBe(hex(b64(leaf)));
    expect(verifyInclusion(b64(leaf), index, size, proof.map(b64), b64(root))).toBe(true);
  });

  const consistencyProbes: Array<[number, number, string, string, string[]]> = [
    [1, 1, 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', []],
    [1, 8, 'bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=', 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', ['lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=', 'Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=']],
    [6, 8, 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', ['DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=', 'yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=', '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=']],
    [2, 5, '+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=', 'Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=', ['Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=', 'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=']],
    [6, 7, 'duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=', '3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=', ['DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=', 'sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=', '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=']],
  ];
  it.each(consistencyProbes)('consistency probe: %d to %d is built and verifies', async (m, n, root1, root2, proof) => {
    expect(hexes(await consistencyProof(m, n, tree))).toEqual(proof.map((p) => hex(b64(p))));
    expect(verifyConsistency(m, n, proof.map(b64), b64(root1), b64(root2))).toBe(true);
  });

  const empty = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
  const random = 'q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=';
  it.each<[string, number, number, string, string, string[]]>([
    ['consistency from the empty tree proves nothing', 0, 1, empty, empty, [empty]],
    ['roots differ at size 0', 0, 0, empty, 'ZG9uJ3QgY2FyZSAy', []],
    ['roots differ at size 1', 1, 1, empty, 'ZG9uJ3QgY2FyZSAy', []],
    ['size1 above size2', 2, 1, 'ZG9uJ3QgY2FyZSAx', 'ZG9uJ3QgY2FyZSAy', []],
    ['size1 zero, size2 one', 0, 1, empty, 'ZG9uJ3QgY2FyZSAy', []],
    ['equal sizes zero, equal roots', 0, 0, 'ZG9uJ3QgY2FyZSAx', 'ZG9uJ3QgY2FyZSAx', []],
    ['different sizes, empty proof', 1, 2, 'ZG9uJ3QgY2FyZSAx', 'ZG9uJ3QgY2FyZSAy', []],
    ['equal sizes, a proof', 1, 1, empty, empty, [empty]],
    ['equal sizes zero, a proof', 0, 0, empty, empty, [empty]],
  ])('consistency probe refused: %s', (_, m, n, r1, r2, proof) => {
    expect(verifyConsistency(m, n, proof.map(b64), b64(r1), b64(r2))).toBe(false);
  });

  it('consistency of equal sizes and equal roots with an empty proof holds (for 32-byte roots only)', () => {
    expect(verifyConsistency(1, 1, [], b64(random), b64(random))).toBe(true);
    // The probe "sizes are equal (one) and proof is empty" uses 12-byte roots, which pass there; here a root is 32 bytes.
    expect(verifyConsistency(1, 1, [], b64('ZG9uJ3QgY2FyZSAy'), b64('ZG9uJ3QgY2FyZSAy'))).toBe(false);
  });

  it.each<[number, number, string, string]>([
    [0, 0, empty, random],
    [0, 1, empty, random],
    [1, 0, empty, random],
    [2, 1, empty, random],
  ])('inclusion probe refused: leaf %d of %d', (index, size, root, leaf) => {
    expect(verifyInclusion(b64(leaf), index, size, [], b64(root))).toBe(false);
  });
});

describe('Storage: O(log n) hashes read a proof, written a leaf', () => {
  it('appending writes each complete subtree once: the leaf and the parents it completes', async () => {
    const store = new MemoryTreeStore();
    const all = entries(300).map(leafHash);
    for (const [i, h] of all.entries()) {
      const { written, size, root, firstIndex } = await appendLeaves(store, [h]);
      expect(firstIndex).toBe(i);
      expect(size).toBe(i + 1);
      expect(written).toBeLessThanOrEqual(Math.floor(Math.log2(i + 1)) + 1);
      if (i % 37 === 0) expect(hex(root)).toBe(hex(rootHash(all.slice(0, i + 1))));
    }
    // A tree of n leaves has 2n − popcount(n) complete subtrees.
    expect(store.stored).toBe(2 * 300 - [...(300).toString(2)].filter((b) => b === '1').length);
    const batch = new MemoryTreeStore();
    const result = await appendLeaves(batch, all);
    expect(result.written).toBe(store.stored);
    expect(hex(result.root)).toBe(hex(await treeRoot(300, store)));
  });

  it('a proof reads at most 2·log2(n) + 1 stored hashes, in one batch', async () => {
    const store = new MemoryTreeStore();
    await appendLeaves(store, entries(1000).map(leafHash));
    const bound = 2 * Math.ceil(Math.log2(1000)) + 1;
    for (const size of [1, 2, 3, 7, 100, 511, 512, 513, 999, 1000]) {
      for (const index of [0, 1, Math.floor(size / 2), size - 1]) {
        if (index >= size) continue;
        store.reads = 0;
        store.batches = 0;
        await inclusionProof(index, size, store);
        expect(store.reads).toBeLessThanOrEqual(bound);
        expect(store.batches).toBe(1);
        store.reads = 0;
        if (index > 0) await consistencyProof(index, size, store);
        expect(store.reads).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('an append computed for an old size is refused and writes nothing', async () => {
    const store = new MemoryTreeStore();
    await appendLeaves(store, entries(3).map(leafHash));
    const tree = new CompactTree(3, store.nodes(rangeNodes(0, 3)));
    const nodes = tree.append(leafHash(new Uint8Array([9])));
    await appendLeaves(store, [leafHash(new Uint8Array([8]))]);
    await expect(store.append(3, 4, nodes)).rejects.toThrow(TreeSizeConflict);
    expect(await store.size()).toBe(4);
    expect(() => store.nodes([{ level: 0, index: 4 }])).toThrow(/not stored/);
    expect(() => new CompactTree(3, [])).toThrow(/frontier/);
  });

  it('works beyond 32-bit sizes (no bitwise arithmetic): a tree of identical leaves of 2^41 + 3 leaves', async () => {
    // Every complete subtree of a tree whose leaves are all the same has the hash of its level.
    const levels = [leafHash(new Uint8Array())];
    for (let l = 1; l < 60; l++) levels.push(nodeHash(levels[l - 1]!, levels[l - 1]!));
    const reader: NodeReader = { nodes: (ids) => ids.map(({ level }) => levels[level]!) };
    const size = 2 ** 41 + 3;
    const root = await treeRoot(size, reader);
    for (const index of [0, 2 ** 32 + 1, 2 ** 40 + 5, 2 ** 41 - 1, 2 ** 41 + 2]) {
      const proof = await inclusionProof(index, size, reader);
      expect(proof.length).toBeLessThanOrEqual(43);
      expect(verifyInclusion(levels[0]!, index, size, proof, root)).toBe(true);
      expect(verifyInclusion(levels[0]!, index, size, [...proof.slice(1), proof[0]!], root)).toBe(false);
      expect(verifyInclusion(levels[1]!, index, size, proof, root)).toBe(false);
    }
    for (const m of [1, 2 ** 32 + 1, 2 ** 33, 2 ** 40 + 7]) {
      const proof = await consistencyProof(m, size, reader);
      expect(verifyConsistency(m, size, proof, await treeRoot(m, reader), root)).toBe(true);
      expect(verifyConsistency(m, size, proof.slice(1), await treeRoot(m, reader), root)).toBe(false);
      expect(verifyConsistency(m, size, proof, await treeRoot(m + 1, reader), root)).toBe(false);
    }
  });
});
