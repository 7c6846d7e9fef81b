import { describe, expect, it } from '@jest/globals';
import { caKeyPolicy, keyPolicyDifferences, type KeyPolicyInput } from '../../../src/kms/key-policy.js';

interface Statement {
  Sid: string;
  Effect: string;
  Principal: { AWS: string | string[] };
  Action: string[];
  Resource: string;
}
interface KeyPolicy {
  Version: string;
  Statement: Statement[];
}

const ISSUE_ROLE = 'arn:aws:iam::123456789012:role/factory-ca-prod-issue';
const LIFECYCLE_ROLE = 'arn:aws:iam::123456789012:role/factory-ca-prod-lifecycle';

const policyOf = (input: KeyPolicyInput): KeyPolicy => JSON.parse(caKeyPolicy(input)) as KeyPolicy;
const principals = (s: Statement) => ([] as string[]).concat(s.Principal.AWS);
/** Every principal the policy lets call `action`. */
const allowedTo = (policy: KeyPolicy, action: string) =>
  policy.Statement.filter((s) => s.Effect === 'Allow' && s.Action.includes(action)).flatMap(principals);
const accountStatement = (policy: KeyPolicy) => policy.Statement.find((s) => principals(s).some((p) => p.endsWith(':root')))!;

describe('Function: caKeyPolicy', () => {
  const issuing = policyOf({ purpose: 'issuing', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: LIFECYCLE_ROLE });
  const root = policyOf({ purpose: 'root', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: LIFECYCLE_ROLE });

  it('returns a JSON key policy document', () => {
    // Assess
    for (const policy of [issuing, root]) {
      expect(policy.Version).toBe('2012-10-17');
      expect(policy.Statement).toHaveLength(3);
      for (const s of policy.Statement) {
        expect(s.Effect).toBe('Allow');
        expect(s.Resource).toBe('*');
      }
    }
  });

  it('lets exactly the issuing role and the lifecycle role sign with an issuing key', () => {
    // Assess
    expect(allowedTo(issuing, 'kms:Sign')).toEqual([ISSUE_ROLE, LIFECYCLE_ROLE]);
    const signing = issuing.Statement.find((s) => s.Action.includes('kms:Sign'))!;
    expect(signing.Sid).toBe('IssuingKeySignsDeviceCertificates');
    expect(signing.Action).toEqual(['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey']);
  });

  it('lets only the lifecycle role sign with the root key', () => {
    // Assess
    expect(allowedTo(root, 'kms:Sign')).toEqual([LIFECYCLE_ROLE]);
    expect(root.Statement.flatMap(principals)).not.toContain(ISSUE_ROLE);
    expect(root.Statement.find((s) => s.Action.includes('kms:Sign'))!.Sid).toBe('RootKeySignsCaCertificates');
  });

  it('lets only the log sequencer role sign with the log key, and refuses a log key policy without it', () => {
    // Prepare
    const SEQUENCER_ROLE = 'arn:aws:iam::123456789012:role/factory-ca-prod-log-sequencer';

    // Act
    const log = policyOf({ purpose: 'log', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: LIFECYCLE_ROLE, logSequencerRoleArn: SEQUENCER_ROLE });

    // Assess
    expect(allowedTo(log, 'kms:Sign')).toEqual([SEQUENCER_ROLE]);
    expect(log.Statement.find((s) => s.Action.includes('kms:Sign'))!.Sid).toBe('LogKeySignsCheckpoints');
    expect(() => caKeyPolicy({ purpose: 'log', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: LIFECYCLE_ROLE })).toThrow(/sequencer/);
  });

  it('lets the lifecycle role alone give the key its alias, from the moment the key exists', () => {
    // Assess
    for (const policy of [issuing, root]) {
      expect(allowedTo(policy, 'kms:CreateAlias')).toEqual(['arn:aws:iam::123456789012:root', LIFECYCLE_ROLE]);
      const naming = policy.Statement.find((s) => s.Sid === 'LifecycleRoleNamesTheKey')!;
      expect(naming).toMatchObject({ Principal: { AWS: LIFECYCLE_ROLE }, Action: ['kms:CreateAlias'] });
    }
  });

  it('gives the account administration of the key but not signing', () => {
    // Assess
    for (const policy of [issuing, root]) {
      const account = accountStatement(policy);
      expect(account.Sid).toBe('AccountAdministrationNoSigning');
      expect(account.Principal.AWS).toBe('arn:aws:iam::123456789012:root');
      expect(account.Action).toEqual(expect.arrayContaining(['kms:PutKeyPolicy', 'kms:DescribeKey', 'kms:EnableKey', 'kms:DisableKey', 'kms:CancelKeyDeletion']));
      expect(account.Action).not.toContain('kms:Sign');
    }
  });

  it('grants no use of the key material beyond signing, and no wildcard actions', () => {
    // Assess
    for (const policy of [issuing, root]) {
      const actions = policy.Statement.flatMap((s) => s.Action);
      expect(actions.filter((a) => /Encrypt|Decrypt|GenerateDataKey|GenerateMac|VerifyMac|DeriveSharedSecret|Import|Export|GetParametersForImport|Grant|\*/i.test(a))).toEqual([]);
      expect(accountStatement(policy).Action.filter((a) => /Sign|Verify/.test(a))).toEqual([]);
    }
  });

  it('lets no factory-ca role schedule deletion of the key or change its policy', () => {
    // Assess
    for (const policy of [issuing, root]) {
      for (const action of ['kms:ScheduleKeyDeletion', 'kms:PutKeyPolicy', 'kms:DisableKey']) {
        expect(allowedTo(policy, action)).toEqual(['arn:aws:iam::123456789012:root']);
      }
    }
  });

  it('takes the partition and account of the account principal from the lifecycle role ARN', () => {
    // Prepare
    const lifecycleRoleArn = 'arn:aws-cn:iam::210987654321:role/service-role/factory-ca-lifecycle';

    // Act
    const policy = policyOf({ purpose: 'issuing', issueRoleArn: 'arn:aws-cn:iam::210987654321:role/factory-ca-issue', lifecycleRoleArn });

    // Assess
    expect(accountStatement(policy).Principal.AWS).toBe('arn:aws-cn:iam::210987654321:root');
    expect(allowedTo(policy, 'kms:Sign')).toEqual(['arn:aws-cn:iam::210987654321:role/factory-ca-issue', lifecycleRoleArn]);
  });

  it('takes the GovCloud partition from the lifecycle role ARN', () => {
    // Act
    const policy = policyOf({ purpose: 'root', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: 'arn:aws-us-gov:iam::123456789012:role/lifecycle' });

    // Assess
    expect(accountStatement(policy).Principal.AWS).toBe('arn:aws-us-gov:iam::123456789012:root');
  });

  it.each([
    ['a user ARN', 'arn:aws:iam::123456789012:user/lifecycle'],
    ['an assumed-role session ARN', 'arn:aws:sts::123456789012:assumed-role/lifecycle/session'],
    ['a role name', 'factory-ca-prod-lifecycle'],
    ['an ARN with a short account id', 'arn:aws:iam::1234:role/lifecycle'],
    ['an empty string', ''],
  ])('throws when the lifecycle role is %s', (_case, lifecycleRoleArn) => {
    // Act + Assess
    expect(() => caKeyPolicy({ purpose: 'issuing', issueRoleArn: ISSUE_ROLE, lifecycleRoleArn })).toThrow(`not an IAM role ARN: ${lifecycleRoleArn}`);
  });
});

describe('Function: keyPolicyDifferences', () => {
  const input = { issueRoleArn: ISSUE_ROLE, lifecycleRoleArn: LIFECYCLE_ROLE };
  const issuing = caKeyPolicy({ purpose: 'issuing', ...input });
  const root = caKeyPolicy({ purpose: 'root', ...input });

  it('finds none between a key policy and itself, for either purpose', () => {
    // Act + Assess
    expect(keyPolicyDifferences(issuing, issuing)).toEqual([]);
    expect(keyPolicyDifferences(root, root)).toEqual([]);
  });

  it('finds a root key policy wrong for an issuing key, and the other way round', () => {
    // Act + Assess
    expect(keyPolicyDifferences(root, issuing)).toEqual([`key policy does not let ${ISSUE_ROLE} sign`]);
    expect(keyPolicyDifferences(issuing, root)).toEqual([`key policy lets ${ISSUE_ROLE} sign`]);
  });

  it('names a principal given by account id as that account', () => {
    // Prepare
    const policy = JSON.parse(issuing) as KeyPolicy;
    policy.Statement.push({ Sid: 'X', Effect: 'Allow', Principal: { AWS: '123456789012' }, Action: ['kms:Sign'], Resource: '*' });

    // Act + Assess
    expect(keyPolicyDifferences(JSON.stringify(policy), issuing)).toEqual(['key policy lets arn:aws:iam::123456789012:root sign']);
  });

  it('takes the partition from the expected key policy', () => {
    // Prepare
    const cn = { issueRoleArn: 'arn:aws-cn:iam::210987654321:role/i', lifecycleRoleArn: 'arn:aws-cn:iam::210987654321:role/l' };
    const expected = caKeyPolicy({ purpose: 'root', ...cn });
    const found = JSON.parse(expected) as KeyPolicy;
    found.Statement[0]!.Principal = { AWS: '210987654321' };

    // Act + Assess
    expect(keyPolicyDifferences(JSON.stringify(found), expected)).toEqual([]);
  });

  it('counts a service principal as another principal', () => {
    // Prepare
    const policy = JSON.parse(issuing) as KeyPolicy;
    policy.Statement.push({ Sid: 'S', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } as never, Action: ['kms:Sign'], Resource: '*' });

    // Act + Assess
    expect(keyPolicyDifferences(JSON.stringify(policy), issuing)).toEqual(['key policy lets Service:lambda.amazonaws.com sign']);
  });
});
