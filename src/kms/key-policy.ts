/**
 * Key policies of the CA keys. The account keeps administration (so a key can
 * never become unmanageable), but only the named roles may sign: issuing keys
 * the issuing function and the lifecycle function (which signs the AWS IoT
 * verification certificate), the root key the lifecycle function alone.
 * Nothing grants export (KMS asymmetric private keys cannot leave KMS anyway),
 * and no factory-ca role may schedule deletion.
 */
export interface KeyPolicyInput {
  purpose: 'root' | 'issuing';
  /** A role ARN of the account (its partition and account id are taken from it). */
  lifecycleRoleArn: string;
  issueRoleArn: string;
}

const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetPublicKey',
  'kms:ListAliases',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

export function caKeyPolicy(input: KeyPolicyInput): string {
  const m = /^arn:(aws[a-z-]*):iam::([0-9]{12}):role\//.exec(input.lifecycleRoleArn);
  if (!m) throw new Error(`not an IAM role ARN: ${input.lifecycleRoleArn}`);
  const [, partition, account] = m;
  const signers = input.purpose === 'root' ? [input.lifecycleRoleArn] : [input.issueRoleArn, input.lifecycleRoleArn];
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountAdministrationNoSigning',
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${account}:root` },
        Action: ADMIN_ACTIONS,
        Resource: '*',
      },
      {
        Sid: input.purpose === 'root' ? 'RootKeySignsCaCertificates' : 'IssuingKeySignsDeviceCertificates',
        Effect: 'Allow',
        Principal: { AWS: signers },
        Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
        Resource: '*',
      },
    ],
  });
}
