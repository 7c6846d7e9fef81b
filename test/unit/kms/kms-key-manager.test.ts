import { describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { kmsKeyManager } from '../../../src/kms/kms-key-manager.js';
import { caKeyPolicy } from '../../../src/kms/key-policy.js';
import { createKmsSigner } from '../../../src/kms/kms-signer.js';
import { CaError } from '../../../src/service/errors.js';
import { FakeKms, kmsDefaultKeyPolicy, kmsError, type FakeKmsKeyOptions } from '../../helpers/kms-fake.js';

const ROLES = {
  issueRoleArn: 'arn:aws:iam::111122223333:role/factory-ca-issue',
  lifecycleRoleArn: 'arn:aws:iam::111122223333:role/factory-ca-lifecycle',
};
const MALLORY = 'arn:aws:iam::111122223333:user/mallory';
const ACCOUNT = 'arn:aws:iam::111122223333:root';
const NEXT = 'alias/factory-ca-test-issuing-3';

function setup(keySpec: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' = 'ECC_NIST_P256') {
  const kms = new FakeKms();
  const { client } = kms.install();
  const keys = kmsKeyManager(client, { keySpec, keyPolicy: (purpose) => caKeyPolicy({ purpose, ...ROLES }), tags: { 'factory-ca:table': 't' } });
  return { kms, client, keys };
}

type Policy = { Version: string; Statement: Array<Record<string, unknown>> };
const issuingPolicy = (): Policy => JSON.parse(caKeyPolicy({ purpose: 'issuing', ...ROLES })) as Policy;
const withStatements = (...extra: Array<Record<string, unknown>>): string => {
  const p = issuingPolicy();
  p.Statement.push(...extra);
  return JSON.stringify(p);
};
const ourTags = (alias = NEXT, role = 'issuing') => ({ 'factory-ca:table': 't', 'factory-ca:role': role, 'factory-ca:alias': alias });

/** A key someone else put under `alias`: by default with exactly the CA's tags and key policy. */
function plant(kms: FakeKms, alias: string, options: FakeKmsKeyOptions = {}) {
  return kms.addKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {
    aliases: [alias],
    policy: JSON.stringify(issuingPolicy()),
    tags: ourTags(alias),
    ...options,
  });
}

/** The CaError a promise rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<CaError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CaError);
  return e as CaError;
}

describe('Adapter: kmsKeyManager', () => {
  it('finds nothing under an unknown alias', async () => {
    const { keys } = setup();
    await expect(keys.findKey('alias/factory-ca-test-root-1', 'root')).resolves.toBeUndefined();
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
    await expect(keys.findKey('alias/factory-ca-test-issuing-1', 'issuing')).resolves.toEqual(ref);
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
    // The winner was checked like any key found: its tags and key policy, read by key ARN.
    expect(kms.callsOf('GetKeyPolicy')).toEqual([{ KeyId: first.kind === 'kms' ? first.keyId : '', PolicyName: 'default' }]);
  });

  it('refuses a disabled or non-signing key found by alias', async () => {
    const { kms, keys } = setup();
    await keys.createKey('alias/factory-ca-test-root-1', 'root');
    kms.keys[0]!.state = 'Disabled';
    const error = await keys.findKey('alias/factory-ca-test-root-1', 'root').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as CaError).code).toBe('INTERNAL');
  });

  it('reports throttling as retryable and access denied as an operator problem, keeping the cause', async () => {
    const { kms, keys } = setup();
    kms.failNext('CreateKey', kmsError('ThrottlingException', 'slow down'));
    const throttled = (await keys.createKey('alias/factory-ca-test-root-1', 'root').catch((e: unknown) => e)) as CaError;
    expect([throttled.code, throttled.retryAfterSeconds]).toEqual(['SIGNER_UNAVAILABLE', 5]);
    kms.failNext('DescribeKey', kmsError('AccessDeniedException'));
    const denied = (await keys.findKey('alias/factory-ca-test-root-1', 'root').catch((e: unknown) => e)) as CaError;
    expect(denied.code).toBe('INTERNAL');
    expect((denied.cause as Error).name).toBe('AccessDeniedException');
  });

  it('reports a key policy or its tags that cannot be read the same way (a planted key may not let the CA read them)', async () => {
    const { kms, keys } = setup();
    plant(kms, NEXT);
    kms.failNext('GetKeyPolicy', kmsError('AccessDeniedException'));
    const denied = await refusal(keys.findKey(NEXT, 'issuing'));
    expect([denied.code, (denied.cause as Error).name, denied.message]).toEqual(['INTERNAL', 'AccessDeniedException', `KMS refused to read the key policy of ${NEXT}`]);
    kms.failNext('ListResourceTags', kmsError('ThrottlingException'));
    expect((await refusal(keys.findKey(NEXT, 'issuing'))).code).toBe('SIGNER_UNAVAILABLE');
  });
});

describe('Adapter: kmsKeyManager, a key found under an expected alias', () => {
  it('is used when it carries the CA\'s tags and a key policy granting signing as the CA does', async () => {
    const { kms, keys } = setup();
    const key = plant(kms, NEXT);

    await expect(keys.findKey(NEXT, 'issuing')).resolves.toEqual({ kind: 'kms', keyId: key.arn });
    // Read by the ARN DescribeKey reported, not by the alias (which could be moved in between).
    expect(kms.callsOf('GetKeyPolicy')).toEqual([{ KeyId: key.arn, PolicyName: 'default' }]);
    expect(kms.callsOf('ListResourceTags')).toEqual([{ KeyId: key.arn }]);
  });

  it.each<[string, string]>([
    [
      'a key policy of an earlier version of the CA (no alias statement), the account given by its id, single principals and actions as strings',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AccountAdministrationNoSigning', Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:PutKeyPolicy', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: ROLES.issueRoleArn }, Action: 'kms:Sign', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: ROLES.lifecycleRoleArn }, Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: '*' },
          { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        ],
      }),
    ],
    ['no account administration statement', JSON.stringify({ Version: '2012-10-17', Statement: issuingPolicy().Statement.slice(1) })],
    ['another principal allowed only to read and to describe the key', withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Verify'], Resource: '*' })],
  ])('is used with %s', async (_case, policy) => {
    const { kms, keys } = setup();
    const key = plant(kms, NEXT, { policy });
    await expect(keys.findKey(NEXT, 'issuing')).resolves.toEqual({ kind: 'kms', keyId: key.arn });
  });

  it.each<[string, FakeKmsKeyOptions, string[]]>([
    ['another principal may sign', { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:Sign', Resource: '*' }) }, [`key policy lets ${MALLORY} sign`]],
    [
      'another principal is among the signers',
      { policy: JSON.stringify({ ...issuingPolicy(), Statement: issuingPolicy().Statement.map((s, i) => (i === 1 ? { ...s, Principal: { AWS: [ROLES.issueRoleArn, ROLES.lifecycleRoleArn, MALLORY] } } : s)) }) },
      [`key policy lets ${MALLORY} sign`],
    ],
    [
      'another principal may sign only under a condition',
      { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:Sign', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.7/32' } } }) },
      [`key policy lets ${MALLORY} sign`],
    ],
    ['another principal has every KMS action', { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:*', Resource: '*' }) }, [`key policy lets ${MALLORY} sign`, `key policy lets ${MALLORY} kms:CreateGrant`, `key policy lets ${MALLORY} kms:PutKeyPolicy`]],
    ['a wildcard principal may sign', { policy: withStatements({ Effect: 'Allow', Principal: '*', Action: 'kms:Sign', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': '111122223333' } } }) }, ['key policy lets any principal (*) sign']],
    ['a wildcard AWS principal may describe the key', { policy: withStatements({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:DescribeKey', Resource: '*' }) }, ['key policy grants kms:DescribeKey to any principal (*)']],
    ['the account may sign (so may any IAM principal it allows)', { policy: kmsDefaultKeyPolicy() }, [`key policy lets ${ACCOUNT} sign`, `key policy does not let ${ROLES.issueRoleArn} sign`, `key policy does not let ${ROLES.lifecycleRoleArn} sign`, `key policy lets ${ACCOUNT} kms:CreateGrant`]],
    ['another principal may create grants', { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: ['kms:CreateGrant'], Resource: '*' }) }, [`key policy lets ${MALLORY} kms:CreateGrant`]],
    ['another principal may change the key policy', { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:PutKeyPolicy', Resource: '*' }) }, [`key policy lets ${MALLORY} kms:PutKeyPolicy`]],
    ['a statement grants decrypt-like use', { policy: withStatements({ Sid: 'Use', Effect: 'Allow', Principal: { AWS: ROLES.issueRoleArn }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' }) }, [`key policy lets ${ROLES.issueRoleArn} kms:Decrypt`, `key policy lets ${ROLES.issueRoleArn} kms:GenerateDataKey`]],
    ['a statement allows by exclusion', { policy: withStatements({ Sid: 'AllButDelete', Effect: 'Allow', Principal: { AWS: MALLORY }, NotAction: 'kms:ScheduleKeyDeletion', Resource: '*' }) }, ['key policy statement AllButDelete allows by exclusion (NotPrincipal/NotAction)']],
    ['the issuing role may not sign', { policy: caKeyPolicy({ purpose: 'root', ...ROLES }) }, [`key policy does not let ${ROLES.issueRoleArn} sign`]],
    ['the key policy is not JSON', { policy: 'not json' }, ['key policy is not JSON']],
    ['it has no tags', { tags: {} }, ['tag factory-ca:table is missing', 'tag factory-ca:role is missing', 'tag factory-ca:alias is missing']],
    ['it is tagged for another table', { tags: { ...ourTags(), 'factory-ca:table': 'other' } }, ['tag factory-ca:table is "other", not "t"']],
    ['it was made for another alias', { tags: ourTags('alias/factory-ca-test-issuing-2') }, ['tag factory-ca:alias is "alias/factory-ca-test-issuing-2", not "alias/factory-ca-test-issuing-3"']],
    ['it was made for the root', { tags: ourTags(NEXT, 'root') }, ['tag factory-ca:role is "root", not "issuing"']],
    ['its key material was imported', { origin: 'EXTERNAL' }, ['key material origin EXTERNAL (not generated in AWS KMS)']],
    ['it is a multi-Region key', { multiRegion: true }, ['multi-Region key (its material is shared with keys elsewhere)']],
  ])('is refused when %s: INTERNAL, the alias and every difference in the log detail only', async (_case, options, differences) => {
    const { kms, keys } = setup();
    const key = plant(kms, NEXT, options);

    const error = await refusal(keys.findKey(NEXT, 'issuing'));

    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain(NEXT);
    expect(error.cause).toBeUndefined();
    expect(error.logDetail).toMatch(new RegExp(`^${NEXT} \\(${key.arn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): `));
    for (const d of differences) expect(error.logDetail).toContain(d);
  });

  it('reads every page of the tags', async () => {
    const { kms, keys } = setup();
    const others = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`other:${i}`, 'x']));
    const key = plant(kms, NEXT, { tags: { ...others, ...ourTags() } });

    await expect(keys.findKey(NEXT, 'issuing')).resolves.toEqual({ kind: 'kms', keyId: key.arn });
    expect(kms.callsOf('ListResourceTags')).toEqual([{ KeyId: key.arn }, { KeyId: key.arn, Marker: '50' }]);
  });

  it('is not used when it wins the race for the alias: the new key is kept unnamed and nothing is returned', async () => {
    const { kms, keys } = setup();
    const planted = plant(kms, NEXT, { policy: withStatements({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:Sign', Resource: '*' }) });

    const error = await refusal(keys.createKey(NEXT, 'issuing'));

    expect([error.code, error.logDetail]).toEqual(['INTERNAL', `${NEXT} (${planted.arn}): key policy lets ${MALLORY} sign`]);
    expect(kms.keys).toHaveLength(2);
    expect(kms.keys[1]!.aliases).toEqual([]);
    expect(planted.aliases).toEqual([NEXT]);
  });
});
