import { describe, expect, it } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { kmsKeyManager } from '../../../src/kms/kms-key-manager.js';
import { caKeyPolicy } from '../../../src/kms/key-policy.js';
import { createKmsSigner } from '../../../src/kms/kms-signer.js';
import { CaError } from '../../../src/pki/errors.js';
import { FakeKms, kmsError } from '../../helpers/kms-fake.js';

const ROLES = {
  issueRoleArn: 'arn:aws:iam::111122223333:role/factory-ca-issue',
  lifecycleRoleArn: 'arn:aws:iam::111122223333:role/factory-ca-lifecycle',
};

function setup(keySpec: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' = 'ECC_NIST_P256') {
  const kms = new FakeKms();
  const { client } = kms.install();
  const keys = kmsKeyManager(client, { keySpec, keyPolicy: (purpose) => caKeyPolicy({ purpose, ...ROLES }), tags: { 'factory-ca:table': 't' } });
  return { kms, client, keys };
}

describe('Adapter: kmsKeyManager', () => {
  it('finds nothing under an unknown alias', async () => {
    const { keys } = setup();
    await expect(keys.findKey('alias/factory-ca-test-root-1')).resolves.toBeUndefined();
  });

  it.each(['ECC_NIST_P256', 'ECC_NIST_P384', 'RSA_2048'] as const)('creates a %s SIGN_VERIFY key with its key policy, tags and alias, and finds it again', async (spec) => {
    const { kms, client, keys } = setup(spec);

    const ref = await keys.createKey('alias/factory-ca-test-issuing-1', 'issuing');

    const [create] = kms.callsOf('CreateKey');
    expect(create).toMatchObject({ KeyUsage: 'SIGN_VERIFY', KeySpec: spec });
    const policy = JSON.parse(create!.Policy!);
    expect(policy.Statement[1].Principal.AWS).toEqual([ROLES.issueRoleArn, ROLES.lifecycleRoleArn]);
    expect(Object.fromEntries(create!.Tags!.map((t) => [t.TagKey, t.TagValue]))).toEqual({
      'factory-ca:table': 't',
      'factory-ca:role': 'issuing',
      'factory-ca:alias': 'alias/factory-ca-test-issuing-1',
    });
    expect(kms.callsOf('CreateAlias')).toEqual([{ AliasName: 'alias/factory-ca-test-issuing-1', TargetKeyId: kms.keys[0]!.arn }]);
    expect(ref).toEqual({ kind: 'kms', keyId: kms.keys[0]!.arn });
    await expect(keys.findKey('alias/factory-ca-test-issuing-1')).resolves.toEqual(ref);
    // The key signs through the signer adapter with the public key KMS holds.
    const signer = await createKmsSigner(client, ref.kind === 'kms' ? ref.keyId : '');
    expect(Buffer.from(signer.publicKey)).toEqual(createPublicKey(kms.keys[0]!.privateKey).export({ format: 'der', type: 'spki' }));
  });

  it('uses the key of the run that created the alias first (the extra key stays, tagged with the alias)', async () => {
    const { kms, keys } = setup();
    const first = await keys.createKey('alias/factory-ca-test-root-1', 'root');

    const second = await keys.createKey('alias/factory-ca-test-root-1', 'root');

    expect(second).toEqual(first);
    expect(kms.keys).toHaveLength(2);
    expect(kms.keys[1]!.tags!['factory-ca:alias']).toBe('alias/factory-ca-test-root-1');
    expect(kms.keys[1]!.aliases).toEqual([]);
  });

  it('refuses a disabled or non-signing key found by alias', async () => {
    const { kms, keys } = setup();
    await keys.createKey('alias/factory-ca-test-root-1', 'root');
    kms.keys[0]!.state = 'Disabled';
    const error = await keys.findKey('alias/factory-ca-test-root-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as CaError).code).toBe('INTERNAL');
  });

  it('reports throttling as retryable and access denied as an operator problem, keeping the cause', async () => {
    const { kms, keys } = setup();
    kms.failNext('CreateKey', kmsError('ThrottlingException', 'slow down'));
    const throttled = (await keys.createKey('alias/factory-ca-test-root-1', 'root').catch((e: unknown) => e)) as CaError;
    expect([throttled.code, throttled.retryAfterSeconds]).toEqual(['SIGNER_UNAVAILABLE', 5]);
    kms.failNext('DescribeKey', kmsError('AccessDeniedException'));
    const denied = (await keys.findKey('alias/factory-ca-test-root-1').catch((e: unknown) => e)) as CaError;
    expect(denied.code).toBe('INTERNAL');
    expect((denied.cause as Error).name).toBe('AccessDeniedException');
  });
});
