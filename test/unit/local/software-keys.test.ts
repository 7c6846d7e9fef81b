import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { softwareKeyFile, softwareKeyManager } from '../../../src/local/software-keys.js';

const ALIAS = 'alias/factory-ca-local-issuing-1';

describe('Function: softwareKeyFile', () => {
  it.each([
    ['alias/factory-ca-local-root-1', join('ca', 'factory-ca-local-root-1.key')],
    ['alias/factory-ca/prod/issuing-2', join('ca', 'factory-ca_prod_issuing-2.key')],
    ['alias/a.b', join('ca', 'a_b.key')],
  ])('maps %s to %s', (alias, file) => {
    expect(softwareKeyFile(alias)).toBe(file);
  });
});

describe('Function: softwareKeyManager', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'factory-ca-keys-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds no key before one is created', async () => {
    // Prepare
    const keys = softwareKeyManager(dir, 'ECC_NIST_P256');

    // Act + Assess
    await expect(keys.findKey(ALIAS, 'issuing')).resolves.toBeUndefined();
  });

  it('creates a 0600 PKCS#8 file under ca/ named after the alias', async () => {
    // Prepare
    const keys = softwareKeyManager(dir, 'ECC_NIST_P256');

    // Act
    const ref = await keys.createKey(ALIAS, 'issuing');

    // Assess
    expect(ref).toEqual({ kind: 'software', file: join('ca', 'factory-ca-local-issuing-1.key') });
    const path = join(dir, 'ca', 'factory-ca-local-issuing-1.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ca')).mode & 0o077).toBe(0);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(text);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('finds the key it created by its alias', async () => {
    // Prepare
    const keys = softwareKeyManager(dir, 'ECC_NIST_P256');
    const created = await keys.createKey(ALIAS, 'root');

    // Act
    const found = await softwareKeyManager(dir, 'ECC_NIST_P256').findKey(ALIAS, 'root');

    // Assess
    expect(found).toEqual(created);
    await expect(keys.findKey('alias/factory-ca-local-issuing-2', 'issuing')).resolves.toBeUndefined();
  });

  it('never replaces a key: a second createKey returns the same reference and leaves the file as it was', async () => {
    // Prepare
    const keys = softwareKeyManager(dir, 'ECC_NIST_P256');
    const first = await keys.createKey(ALIAS, 'issuing');
    const before = readFileSync(join(dir, first.kind === 'software' ? first.file : ''));

    // Act
    const second = await softwareKeyManager(dir, 'RSA_2048').createKey(ALIAS, 'issuing');

    // Assess
    expect(second).toEqual(first);
    expect(readFileSync(join(dir, first.kind === 'software' ? first.file : '')).equals(before)).toBe(true);
  });

  it('creates two keys concurrently for one alias without replacing either', async () => {
    // Prepare
    const keys = softwareKeyManager(dir, 'ECC_NIST_P256');

    // Act
    const [a, b] = await Promise.all([keys.createKey(ALIAS, 'issuing'), keys.createKey(ALIAS, 'issuing')]);

    // Assess
    expect(a).toEqual(b);
    expect(createPrivateKey(readFileSync(join(dir, 'ca', 'factory-ca-local-issuing-1.key'), 'utf8')).asymmetricKeyType).toBe('ec');
  });

  it.each<[Parameters<typeof softwareKeyManager>[1], string, Record<string, unknown>]>([
    ['ECC_NIST_P256', 'ec', { namedCurve: 'prime256v1' }],
    ['ECC_NIST_P384', 'ec', { namedCurve: 'secp384r1' }],
    ['RSA_2048', 'rsa', { modulusLength: 2048 }],
    ['RSA_3072', 'rsa', { modulusLength: 3072 }],
  ])('creates a %s key', async (spec, type, details) => {
    // Prepare
    const keys = softwareKeyManager(dir, spec);

    // Act
    const ref = await keys.createKey(ALIAS, 'root');

    // Assess
    const key = createPrivateKey(readFileSync(join(dir, ref.kind === 'software' ? ref.file : ''), 'utf8'));
    expect(key.asymmetricKeyType).toBe(type);
    expect(key.asymmetricKeyDetails).toMatchObject(details);
  });
});
