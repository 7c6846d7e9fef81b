/**
 * Key policies of the CA keys. The account keeps administration (so a key can
 * never become unmanageable), but only the named roles may sign: issuing keys
 * the issuing function and the lifecycle function (which signs the AWS IoT
 * verification certificate), the root key the lifecycle function alone.
 * The lifecycle role may also give the key its alias. Nothing grants export
 * (KMS asymmetric private keys cannot leave KMS anyway), and no factory-ca
 * role may schedule deletion.
 */
export interface KeyPolicyInput {
  purpose: 'root' | 'issuing' | 'log';
  /** A role ARN of the account (its partition and account id are taken from it). */
  lifecycleRoleArn: string;
  issueRoleArn: string;
  /** The log key's one signer: the issuance log's sequencer (required for purpose log). */
  logSequencerRoleArn?: string;
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
  if (input.purpose === 'log' && !input.logSequencerRoleArn) throw new Error('the log key policy names the sequencer role');
  const signers = input.purpose === 'root' ? [input.lifecycleRoleArn] : input.purpose === 'log' ? [input.logSequencerRoleArn!] : [input.issueRoleArn, input.lifecycleRoleArn];
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
        Sid: input.purpose === 'root' ? 'RootKeySignsCaCertificates' : input.purpose === 'log' ? 'LogKeySignsCheckpoints' : 'IssuingKeySignsDeviceCertificates',
        Effect: 'Allow',
        Principal: { AWS: signers },
        Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
        Resource: '*',
      },
      {
        // Naming the new key by this grant does not wait for its tags to count
        // in IAM authorization (that can take minutes); the alias itself is
        // still limited by the role's IAM policy to this stage's alias names.
        Sid: 'LifecycleRoleNamesTheKey',
        Effect: 'Allow',
        Principal: { AWS: input.lifecycleRoleArn },
        Action: ['kms:CreateAlias'],
        Resource: '*',
      },
    ],
  });
}

/**
 * Actions that use the key material or hand out its use: a grant (CreateGrant)
 * lets its grantee sign without the key policy, and no CA key needs any of the
 * others. A key policy of a CA key grants none of them to anyone.
 */
const USE_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateMac',
  'kms:DeriveSharedSecret',
  'kms:CreateGrant',
  'kms:ImportKeyMaterial',
];
/** Changing the key policy is changing who may sign: the account (administration) only. */
const POLICY_ACTIONS = ['kms:PutKeyPolicy'];

interface PolicyStatement {
  Sid?: unknown;
  Effect?: unknown;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const globMatches = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i').test(action);

/** Every principal an Allow statement names, as ARNs; `*` for anyone, `<type>:<value>` for non-AWS principals. */
function principalsOf(principal: unknown, partition: string): string[] {
  if (principal === '*') return ['*'];
  if (!principal || typeof principal !== 'object') return [`unreadable principal ${JSON.stringify(principal)}`];
  return Object.entries(principal as Record<string, unknown>).flatMap(([type, values]) =>
    list(values).map((v) => {
      const value = String(v);
      if (type !== 'AWS') return `${type}:${value}`;
      return /^[0-9]{12}$/.test(value) ? `arn:${partition}:iam::${value}:root` : value;
    }),
  );
}

/** Who may do what under a key policy document (Allow statements; a Deny only ever takes away). */
function grantsOf(document: unknown, partition: string): { grants: Array<{ principal: string; action: string }>; problems: string[] } {
  const problems: string[] = [];
  const grants: Array<{ principal: string; action: string }> = [];
  const statements = list((document as { Statement?: unknown } | null)?.Statement) as PolicyStatement[];
  statements.forEach((s, i) => {
    if (s?.Effect !== 'Allow') return;
    const name = typeof s.Sid === 'string' && s.Sid ? s.Sid : `#${i + 1}`;
    if (s.NotPrincipal !== undefined || s.NotAction !== undefined) {
      problems.push(`key policy statement ${name} allows by exclusion (NotPrincipal/NotAction)`);
      return;
    }
    for (const principal of principalsOf(s.Principal, partition)) {
      for (const action of list(s.Action)) grants.push({ principal, action: String(action) });
    }
  });
  return { grants, problems };
}

/** The principals a key policy lets sign. */
function signersOf(grants: Array<{ principal: string; action: string }>): Set<string> {
  return new Set(grants.filter((g) => globMatches(g.action, 'kms:Sign')).map((g) => g.principal));
}

/**
 * How a key policy found on a key differs from the one the CA gives its keys
 * (`expected`, from caKeyPolicy for the same purpose), in what matters for
 * trusting the key: exactly the same principals may sign, nobody else, no
 * wildcard principal, no statement granting decrypt-like use or grants of the
 * key, and no principal but the account may change the policy. The account's
 * administration statement and read-only or alias/tag management grants are
 * not differences. Conditions on an Allow are not read: a conditional grant
 * counts as a grant. Empty when the key can be trusted as the CA's own.
 */
export function keyPolicyDifferences(found: string, expected: string): string[] {
  const wanted = JSON.parse(expected) as unknown;
  const root = grantsOf(wanted, 'aws').grants.map((g) => g.principal).find((p) => /^arn:aws[a-z-]*:iam::[0-9]{12}:root$/.test(p));
  if (!root) throw new Error('the expected key policy names no account');
  const partition = root.split(':')[1]!;
  let document: unknown;
  try {
    document = JSON.parse(found);
  } catch {
    return ['key policy is not JSON'];
  }
  const { grants, problems } = grantsOf(document, partition);
  const expectedSigners = signersOf(grantsOf(wanted, partition).grants);
  const signers = signersOf(grants);
  for (const p of signers) if (!expectedSigners.has(p)) problems.push(p === '*' ? 'key policy lets any principal (*) sign' : `key policy lets ${p} sign`);
  for (const p of expectedSigners) if (!signers.has(p)) problems.push(`key policy does not let ${p} sign`);
  for (const { principal, action } of grants) {
    const use = USE_ACTIONS.filter((a) => globMatches(action, a));
    const policy = principal === root ? [] : POLICY_ACTIONS.filter((a) => globMatches(action, a));
    for (const a of [...use, ...policy]) problems.push(`key policy lets ${principal === '*' ? 'any principal (*)' : principal} ${a}`);
    if (principal === '*' && !use.length && !policy.length && !globMatches(action, 'kms:Sign')) {
      problems.push(`key policy grants ${action} to any principal (*)`);
    }
  }
  return [...new Set(problems)];
}
