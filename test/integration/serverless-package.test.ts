import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { caKeyPolicy } from '../../src/kms/key-policy.js';
import { kmsKeyManager } from '../../src/kms/kms-key-manager.js';
import type { CaRecord, CertificateRecord, LotRecord } from '../../src/service/ports.js';
import { DynamoStore } from '../../src/store/dynamo-store.js';
import { DynamoLotStore } from '../../src/store/dynamo-lot-store.js';
import { tableDefinition } from '../../src/store/table.js';
import { FakeKms } from '../helpers/kms-fake.js';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };
const out = mkdtempSync(join(tmpdir(), 'factory-ca-package-'));
let resources: Record<string, Resource>;

beforeAll(() => {
  // No AWS credentials and no network: packaging must work offline.
  const env = { ...process.env, NODE_OPTIONS: '', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none' };
  execFileSync(process.execPath, ['node_modules/serverless/bin/serverless.js', 'package', '--stage', 'ci', '--package', out], { env, stdio: 'pipe' });
  resources = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')).Resources;
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** File names in a zip archive, read from its central directory. */
function zipEntries(zip: Buffer): string[] {
  const names: string[] = [];
  for (let i = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); i >= 0; i = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), i + 46)) {
    const length = zip.readUInt16LE(i + 28);
    names.push(zip.subarray(i + 46, i + 46 + length).toString('utf8'));
  }
  return names;
}

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('The packaged stack (serverless package)', () => {
  it('declares the ledger table with the keys and index the code uses', () => {
    const [[, table]] = ofType('AWS::DynamoDB::Table') as [[string, Resource]];
    const def = tableDefinition('x');
    expect(table.Properties.KeySchema).toEqual(def.KeySchema);
    expect(table.Properties.AttributeDefinitions).toEqual(def.AttributeDefinitions);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(def.GlobalSecondaryIndexes);
    expect(table.Properties.BillingMode).toBe(def.BillingMode);
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it("requires IAM auth on every route but GET /health, the CRLs and the log's checkpoint (public, as a CRL distribution point is), EST's cacerts and csrattrs, and EST re-enrollment (the device's certificate authenticates it)", () => {
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods).toHaveLength(22);
    const open = ['ApiGatewayMethodHealthGet', 'ApiGatewayMethodCrlNameVarGet', 'ApiGatewayMethodLogCheckpointGet', 'ApiGatewayMethodWellDashknownEstCacertsGet', 'ApiGatewayMethodWellDashknownEstCsrattrsGet', 'ApiGatewayMethodWellDashknownEstSimplereenrollPost'];
    for (const [id, m] of methods) {
      expect([id, m.Properties.AuthorizationType]).toEqual([id, open.includes(id) ? 'NONE' : 'AWS_IAM']);
    }
    expect(resources.ApiGatewayMethodWellDashknownEstSimpleenrollPost!.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('throttles the stage', () => {
    const [[, deployment]] = ofType('AWS::ApiGateway::Deployment') as [[string, Resource]];
    expect(deployment.Properties.StageDescription).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
  });

  it('runs the functions on nodejs22.x, and never enables the software signer', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(26);
    for (const [, f] of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Environment.Variables.ALLOW_SOFTWARE_SIGNER).toBe('false');
      expect(f.Properties.Environment.Variables.TRUST_STATION_HEADER).toBe('false');
      expect(f.Properties.Environment.Variables.TRUST_CLIENT_CERT_HEADER).toBe('false');
      expect(f.Properties.Environment.Variables.IOT_MODE).toBe('aws');
      // X-Ray tracing and Powertools metrics are on in a deployed stage.
      expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(f.Properties.Environment.Variables).toMatchObject({ POWERTOOLS_TRACE_ENABLED: 'true', POWERTOOLS_METRICS_DISABLED: 'false', POWERTOOLS_SERVICE_NAME: 'factory-ca' });
    }
  });

  it('lets every function role write X-Ray traces, and traces the API stage', () => {
    for (const [id, role] of ofType('AWS::IAM::Role').filter(([id]) => id !== 'JitpRole')) {
      expect([id, JSON.stringify(role.Properties.ManagedPolicyArns)]).toEqual([id, expect.stringContaining('AWSXRayDaemonWriteAccess')]);
    }
    const [[, deployment]] = ofType('AWS::ApiGateway::Deployment') as [[string, Resource]];
    expect(deployment.Properties.StageDescription).toMatchObject({ TracingEnabled: true });
  });

  it('alarms on signer failures, the 5xx rate and the CA nearing its end, to an SNS topic', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm').map(([id, a]) => [id, a.Properties]));
    expect(alarms.SignerFailuresAlarm).toMatchObject({ Namespace: 'factory-ca', MetricName: 'SignerFailures', AlarmActions: [{ Ref: 'AlarmTopic' }] });
    expect(alarms.ServerErrorRateAlarm).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Statistic: 'Average', Dimensions: [{ Name: 'ApiName', Value: 'ci-factory-ca' }, { Name: 'Stage', Value: 'ci' }] });
    expect(alarms.IssuingCaExpiryAlarm).toMatchObject({ MetricName: 'IssuingCaDaysRemaining', ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    expect(alarms.RootCaExpiryAlarm).toMatchObject({ MetricName: 'RootCaDaysRemaining' });
    // Lots: 90 % and 100 % of a quota, and a station trying a closed lot (a rejection with its reason).
    expect(alarms.LotNearQuotaAlarm).toMatchObject({ MetricName: 'LotsNearQuota', Threshold: 1 });
    expect(alarms.LotAtQuotaAlarm).toMatchObject({ MetricName: 'LotsAtQuota', Threshold: 1 });
    // The log: a certificate waiting 5 minutes, or the sequencer silent (a disabled log key stops every checkpoint).
    expect(alarms.LogBacklogAlarm).toMatchObject({ MetricName: 'LogBacklogAgeSeconds', Statistic: 'Maximum', Period: 60, EvaluationPeriods: 5, DatapointsToAlarm: 5, Threshold: 60, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'breaching', AlarmActions: [{ Ref: 'AlarmTopic' }] });
    expect(alarms.ClosedLotAttemptAlarm).toMatchObject({ MetricName: 'CertificatesRejected', Dimensions: [{ Name: 'service', Value: 'factory-ca' }, { Name: 'Reason', Value: 'LOT_CLOSED' }] });
    expect(ofType('AWS::SNS::Topic').map(([id]) => id)).toEqual(['AlarmTopic']);
  });

  it('gives each function its own least-privilege role (the three lifecycle triggers share one), and the lifecycle the role ARNs it needs', () => {
    const roleOf = (fn: string) => resources[fn]!.Properties.Role['Fn::GetAtt'][0];
    expect(roleOf('IssueCertificateLambdaFunction')).toBe('IssueRole');
    expect(roleOf('GetCertificateLambdaFunction')).toBe('GetCertificateRole');
    expect(roleOf('ListCertificatesLambdaFunction')).toBe('ListCertificatesRole');
    expect(roleOf('GetCaLambdaFunction')).toBe('GetCaRole');
    expect(roleOf('HealthLambdaFunction')).toBe('HealthRole');
    expect(roleOf('OpenapiLambdaFunction')).toBe('OpenapiRole');
    // EST: enrollment is issuance, cacerts reads what GET /ca reads, csrattrs only the packaged policy.
    expect(roleOf('EstSimpleEnrollLambdaFunction')).toBe('IssueRole');
    expect(roleOf('EstCaCertsLambdaFunction')).toBe('GetCaRole');
    expect(roleOf('EstCsrAttrsLambdaFunction')).toBe('CsrAttrsRole');
    // Re-enrollment is issuance too, and sets the replaced certificate INACTIVE in AWS IoT; the issuing function's size.
    expect(roleOf('EstSimpleReenrollLambdaFunction')).toBe('ReenrollRole');
    expect(resources.EstSimpleReenrollLambdaFunction!.Properties.MemorySize).toBe(resources.IssueCertificateLambdaFunction!.Properties.MemorySize);
    // Least privilege: the public routes touch no data; only listing may query the index; reads never write.
    for (const role of ['HealthRole', 'OpenapiRole', 'CsrAttrsRole']) expect(resources[role]!.Properties.Policies).toBeUndefined();
    const actionsOf = (role: string) => [...new Set<string>(statementsOf(role).flatMap((st: any) => [].concat(st.Action)))].sort();
    expect(actionsOf('GetCertificateRole')).toEqual(['dynamodb:GetItem']);
    expect(actionsOf('GetCaRole')).toEqual(['dynamodb:GetItem']);
    expect(actionsOf('ListCertificatesRole')).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(actionsOf('IssueRole')).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'kms:GetPublicKey', 'kms:Sign']);
    expect(actionsOf('ReenrollRole')).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'iot:UpdateCertificate', 'kms:GetPublicKey', 'kms:Sign']);
    for (const fn of ['OpenLotLambdaFunction', 'GetLotLambdaFunction', 'CloseLotLambdaFunction']) expect(roleOf(fn)).toBe('LotRole');
    expect(actionsOf('LotRole')).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(roleOf('RevokeCertificateLambdaFunction')).toBe('RevokeRole');
    for (const fn of ['BootstrapLambdaFunction', 'RotateLambdaFunction', 'RotateCaLambdaFunction']) {
      expect(roleOf(fn)).toBe('LifecycleRole');
      expect(resources[fn]!.Properties.Environment.Variables).toMatchObject({
        JITP_ROLE_ARN: { 'Fn::GetAtt': ['JitpRole', 'Arn'] },
        ISSUE_ROLE_ARN: { 'Fn::GetAtt': ['IssueRole', 'Arn'] },
        LIFECYCLE_ROLE_ARN: { 'Fn::GetAtt': ['LifecycleRole', 'Arn'] },
        LOG_SEQUENCER_ROLE_ARN: { 'Fn::GetAtt': ['LogSequencerRole', 'Arn'] },
        KEY_ALIAS_PREFIX: 'alias/factory-ca-ci',
      });
    }
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('runs the rotation daily, the CRL publication and the log sequencer every minute, the sequencer one run at a time', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => [r.Properties.ScheduleExpression, JSON.stringify(r.Properties.Targets).match(/"(\w+)LambdaFunction"/)?.[1]]);
    expect(rules.sort()).toEqual([
      ['rate(1 day)', 'Rotate'],
      ['rate(1 minute)', 'PublishCrls'],
      ['rate(1 minute)', 'SequenceLog'],
    ]);
    expect(resources.SequenceLogLambdaFunction!.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('gives the log sequencer and the log readers their own roles, the sequencer alone the log key', () => {
    const roleOf = (fn: string) => resources[fn]!.Properties.Role['Fn::GetAtt'][0];
    expect(roleOf('SequenceLogLambdaFunction')).toBe('LogSequencerRole');
    for (const fn of ['GetLogCheckpoint', 'GetLogProof', 'GetLogEntry', 'GetLogConsistency']) expect(roleOf(`${fn}LambdaFunction`)).toBe('LogReadRole');
    const [sign] = allowing('LogSequencerRole', 'kms:Sign');
    expect(sign!.Condition).toEqual({ 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/factory-ca-ci-log-*' } });
    // Every generation of this stage's log key; no key of a stage named ci-log…, no CA key.
    const signs = (aliases: string[]) => allowed('LogSequencerRole', { action: 'kms:Sign', resource: KEY_ARN, context: { 'kms:ResourceAliases': aliases } });
    expect(signs(['alias/factory-ca-ci-log-1'])).toBe(true);
    expect(signs(['alias/factory-ca-ci-log-7'])).toBe(true);
    expect(signs(['alias/factory-ca-ci-log-root-1'])).toBe(false);
    expect(signs(['alias/factory-ca-ci-log-log-1'])).toBe(false);
    expect(signs(['alias/factory-ca-ci-issuing-1'])).toBe(false);
    expect(allowing('LogReadRole', 'kms:Sign')).toEqual([]);
    expect(allowing('LogSequencerRole', 's3:PutObject').map((st: { Resource?: unknown }) => st.Resource)).toEqual([{ 'Fn::Sub': '${CrlBucket.Arn}/log/checkpoints/*' }]);
  });

  it('defines the JITP role: trusted by AWS IoT only, with AWSIoTThingsRegistration', () => {
    const role = resources.JitpRole!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'iot.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: expect.anything() },
    ]);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(':iam::aws:policy/service-role/AWSIoTThingsRegistration');
  });

  it('outputs station and operator policies that allow only execute-api:Invoke', () => {
    const policies = ofType('AWS::IAM::ManagedPolicy');
    expect(policies.map(([id]) => id).sort()).toEqual(['OperatorPolicy', 'StationPolicy']);
    for (const [, p] of policies) {
      for (const s of p.Properties.PolicyDocument.Statement) expect(s.Action).toBe('execute-api:Invoke');
    }
    // Stations issue by POST /certificates or by EST, and read the CA.
    const station = JSON.stringify(resources.StationPolicy!.Properties.PolicyDocument.Statement);
    expect(station.match(/\/(GET|POST)\/[^"]+/g)).toEqual(['/POST/certificates', '/GET/ca', '/POST/.well-known/est/simpleenroll']);
  });

  const statementsOf = (role: string) => (resources[role]!.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
  const allowing = (role: string, action: string) => statementsOf(role).filter((s: any) => s.Effect === 'Allow' && [].concat(s.Action).includes(action as never));

  it('lets the issuing function sign only with issuing-key aliases, and only the lifecycle role create keys or call the IoT CA APIs', () => {
    const [sign] = allowing('IssueRole', 'kms:Sign');
    expect(sign.Condition['ForAnyValue:StringLike']['kms:ResourceAliases']).toBe('alias/factory-ca-ci-issuing-*');
    const [lifecycleSign] = allowing('LifecycleRole', 'kms:Sign');
    expect(lifecycleSign.Condition['ForAnyValue:StringLike']['kms:ResourceAliases']).toEqual(['alias/factory-ca-ci-root-*', 'alias/factory-ca-ci-issuing-*']);
    const [create] = allowing('LifecycleRole', 'kms:CreateKey');
    expect(create.Condition.StringEquals['kms:KeyUsage']).toBe('SIGN_VERIFY');
    for (const role of ['IssueRole', 'ReenrollRole', 'GetCertificateRole', 'ListCertificatesRole', 'GetCaRole', 'RevokeRole']) {
      for (const action of ['kms:CreateKey', 'iot:RegisterCACertificate', 'iot:UpdateCACertificate', 'iam:PassRole']) expect(allowing(role, action)).toEqual([]);
    }
    const [pass] = allowing('LifecycleRole', 'iam:PassRole');
    expect(pass).toMatchObject({ Resource: { 'Fn::GetAtt': ['JitpRole', 'Arn'] }, Condition: { StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } } });
  });

  it('grants no wildcard action, and no key deletion or export to any role', () => {
    for (const [id] of ofType('AWS::IAM::Role').filter(([id]) => id !== 'JitpRole')) {
      for (const s of statementsOf(id)) {
        for (const a of [].concat(s.Action) as string[]) {
          expect(a).not.toMatch(/\*/);
          expect(a).not.toMatch(/^kms:(ScheduleKeyDeletion|DeleteImportedKeyMaterial|GetParametersForImport|Decrypt|Encrypt)$/);
        }
      }
    }
  });

  it('lets only the lifecycle role disable a key, and only a key behind this stage\'s issuing-key or log-key aliases', () => {
    for (const [id] of ofType('AWS::IAM::Role')) {
      const grants = statementsOf(id).filter((st: { Effect: string; Action: string | string[] }) => st.Effect === 'Allow' && ([] as string[]).concat(st.Action).includes('kms:DisableKey'));
      if (id !== 'LifecycleRole') {
        expect([id, grants]).toEqual([id, []]);
        continue;
      }
      expect(grants).toHaveLength(1);
      expect(grants[0].Condition).toEqual({ 'ForAnyValue:StringLike': { 'kms:ResourceAliases': [expect.stringMatching(/-issuing-\*$/), expect.stringMatching(/-log-\*$/)] } });
      const disables = (aliases: string[]) => allowed('LifecycleRole', { action: 'kms:DisableKey', resource: KEY_ARN, context: { 'kms:ResourceAliases': aliases } });
      expect([disables(['alias/factory-ca-ci-issuing-1']), disables(['alias/factory-ca-ci-log-1']), disables(['alias/factory-ca-ci-root-1'])]).toEqual([true, true, false]);
      // Never a key of a stage named ci-log… or ci-issuing… (their aliases match with one more separator).
      for (const other of ['alias/factory-ca-ci-log-root-1', 'alias/factory-ca-ci-log-issuing-1', 'alias/factory-ca-ci-issuing-root-1', 'alias/factory-ca-ci-issuing-log-1']) expect([other, disables([other])]).toEqual([other, false]);
    }
  });

  it('keeps every function\'s logs for a bounded time', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBe(ofType('AWS::Lambda::Function').length);
    for (const [id, g] of groups) expect([id, g.Properties.RetentionInDays]).toEqual([id, 90]);
  });

  it('never lets code delete a key or change its policy; only the key manager disables one (a compromised issuing key)', () => {
    const sources = execFileSync('git', ['ls-files', 'src'], { encoding: 'utf8' }).trim().split('\n');
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      expect([file, /(ScheduleKeyDeletion|DeleteAlias|PutKeyPolicy|DeleteImportedKeyMaterial)Command/.test(text)]).toEqual([file, false]);
      // A compromise rotation disables the old issuing key: only the key manager sends DisableKey.
      expect([file, /DisableKeyCommand/.test(text)]).toEqual([file, file === 'src/kms/kms-key-manager.ts']);
    }
  });

  it('ships the policy file with each function', () => {
    const listing = zipEntries(readFileSync(join(out, 'issueCertificate.zip')));
    expect(listing).toContain('config/policy.json');
    expect(listing).toContain('config/jitp-template.json');
    expect(zipEntries(readFileSync(join(out, 'openapi.zip')))).toContain('openapi.yaml');
    expect(listing).toContain('src/handlers/issue-certificate.mjs');
  });
});

// --- The role policies evaluated against concrete requests ----------------------
//
// A small IAM evaluator: the Allow/Deny statements of one identity policy,
// Action and Resource wildcards, and the condition operators the template uses
// (an operator it does not know fails the test). Requests are what the code
// sends: DynamoDB calls captured from the real DynamoStore, KMS calls from the
// real key manager (on the KMS fake).

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/factory-ca-ci-ledger`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const aliasArn = (alias: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:${alias}`;

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  [other: string]: unknown;
}
type Context = Record<string, string | string[]>;
interface Request {
  action: string;
  resource: string;
  context?: Context;
}

/** The template's intrinsic functions, as CloudFormation would resolve them in account ACCOUNT, Region REGION. */
function resolve(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(resolve);
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, any>;
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT };
  if ('Fn::Sub' in o) return (o['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => pseudo[name] ?? `<${name}>`);
  if ('Ref' in o) return pseudo[o.Ref] ?? `<${o.Ref}>`;
  if ('Fn::Join' in o) return (resolve(o['Fn::Join'][1]) as string[]).join(o['Fn::Join'][0]);
  if ('Fn::GetAtt' in o) {
    const [id] = o['Fn::GetAtt'] as [string, string];
    if (id === 'LedgerTable') return TABLE_ARN;
    if (resources[id]?.Type === 'AWS::IAM::Role') return `arn:aws:iam::${ACCOUNT}:role/${id}`;
    throw new Error(`no ARN for ${id}`);
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(x)]));
}

const like = (pattern: string, value: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

function conditionHolds(operator: string, have: string | string[] | undefined, want: string[]): boolean {
  const [, set, base, ifExists] = /^(ForAllValues:|ForAnyValue:)?([A-Za-z]+?)(IfExists)?$/.exec(operator)!;
  if (base === 'Null') return want.every((w) => (w === 'true') === (have === undefined));
  const matches = (value: string) => {
    switch (base) {
      case 'StringEquals':
      case 'Bool':
        return want.includes(value);
      case 'StringLike':
      case 'ArnLike':
        return want.some((w) => like(w, value));
      default:
        throw new Error(`the evaluator does not know ${operator}`);
    }
  };
  const values = have === undefined ? [] : ([] as string[]).concat(have);
  if (set === 'ForAllValues:') return values.every(matches);
  if (set === 'ForAnyValue:') return values.some(matches);
  if (have === undefined) return Boolean(ifExists);
  if (Array.isArray(have)) throw new Error(`${operator} on a multivalued key needs a set operator`);
  return matches(have);
}

function applies(s: Statement, r: Request): boolean {
  if ('NotAction' in s || 'NotResource' in s) throw new Error('the evaluator does not know NotAction/NotResource');
  const actions = ([] as string[]).concat(s.Action);
  const resourcesOf = ([] as string[]).concat(s.Resource ?? '*');
  return (
    actions.some((a) => like(a.toLowerCase(), r.action.toLowerCase())) &&
    resourcesOf.some((p) => like(p, r.resource)) &&
    Object.entries(s.Condition ?? {}).every(([op, keys]) => Object.entries(keys).every(([k, want]) => conditionHolds(op, r.context?.[k], ([] as string[]).concat(want))))
  );
}

/** Allowed: some Allow statement applies and no Deny does. */
const allowedBy = (statements: Statement[], r: Request) => !statements.some((s) => s.Effect === 'Deny' && applies(s, r)) && statements.some((s) => s.Effect === 'Allow' && applies(s, r));

const policyOf = (role: string) => resolve((resources[role]!.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement)) as Statement[];
const allowed = (role: string, r: Request) => allowedBy(policyOf(role), r);

const FUNCTION_ROLES = ['IssueRole', 'ReenrollRole', 'GetCertificateRole', 'ListCertificatesRole', 'GetCaRole', 'RevokeRole', 'KeyBlockRole', 'LotRole', 'LifecycleRole', 'CrlReadRole', 'HealthRole', 'OpenapiRole', 'LogSequencerRole', 'LogReadRole'];
const item = (action: string, pk: string): Request => ({ action: `dynamodb:${action}`, resource: TABLE_ARN, context: { 'dynamodb:LeadingKeys': [pk] } });

/** The DynamoDB requests `run` makes through the real DynamoStore (a claim conflicts when `claimTaken`). */
async function storeRequests(run: (store: DynamoStore) => Promise<unknown>, o: { claimTaken?: boolean } = {}): Promise<Request[]> {
  const sent: Request[] = [];
  const mock = mockClient(DynamoDBDocumentClient);
  const conflict = () => new ConditionalCheckFailedException({ message: 'taken', $metadata: {} });
  mock.on(GetCommand).callsFake(async (i: any) => {
    sent.push(item('GetItem', i.Key.pk));
    return String(i.Key.pk).startsWith('CLAIM#') && o.claimTaken ? { Item: { pk: i.Key.pk, key: 'k', serialNumber: 'ab' } } : {};
  });
  mock.on(PutCommand).callsFake(async (i: any) => {
    sent.push(item('PutItem', i.Item.pk));
    if (String(i.Item.pk).startsWith('CLAIM#') && o.claimTaken) throw conflict();
    return {};
  });
  mock.on(UpdateCommand).callsFake(async (i: any) => (sent.push(item('UpdateItem', i.Key.pk)), {}));
  mock.on(DeleteCommand).callsFake(async (i: any) => (sent.push(item('DeleteItem', i.Key.pk)), {}));
  mock.on(QueryCommand).callsFake(async (i: any) => (sent.push({ action: 'dynamodb:Query', resource: `${TABLE_ARN}/index/${i.IndexName}` }), { Items: [] }));
  try {
    await run(new DynamoStore(new DynamoDBClient({ region: REGION, credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' } }), 'factory-ca-ci-ledger'));
  } finally {
    mock.restore();
  }
  return sent;
}

const claim = { key: 'pubkey:abcd', serialNumber: '0a1b', csrSha256: 'cd', leaseExpiresAt: 0, token: 't' };
const keyEntry = { spkiSha256: 'ab'.repeat(32), status: 'IN_USE' as const, claimKey: claim.key, token: 't' };
const certificate = { serialNumber: '0a1b', commonName: 'device-1', issuedAt: '2026-01-01T00:00:00Z' } as CertificateRecord;
const ca = { id: 'issuing-2' } as CaRecord;
/** The lot store on the same (mocked) DynamoDB client class. */
const lotStore = () => new DynamoLotStore(new DynamoDBClient({ region: REGION, credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' } }), 'factory-ca-ci-ledger');
const lot = { lotId: 'L-1', product: 'p', quota: 5, closesAt: '2027-01-01T00:00:00.000Z', status: 'OPEN', openedAt: 'now', openedBy: 'op', issued: 0, revoked: 0, logged: 0 } as LotRecord;

describe('The packaged stack: each role against the requests its function makes', () => {
  /** What each function does with the ledger (src/service, src/store/dynamo-store.ts). */
  const uses: Record<string, Array<[string, (s: DynamoStore) => Promise<unknown>, { claimTaken?: boolean }?]>> = {
    IssueRole: [
      ['find the issuing CA', async (s) => [await s.getActiveIssuingCaId(), await s.getCa('issuing-1')]],
      ['claim a name', (s) => s.claim(claim)],
      ['find who holds a name', (s) => s.claim(claim), { claimTaken: true }],
      ['take over or release a claim', async (s) => [await s.replaceClaim(claim, '0a1b'), await s.releaseClaim(claim.key, '0a1b')]],
      ['record and read back a certificate', async (s) => [await s.putCertificate(certificate), await s.getCertificate('0a1b')]],
      ['set aside a certificate never delivered', (s) => s.supersedeCertificate(certificate, '2026-01-01T00:00:00Z')],
      ['take a public key, find who holds it, take over a dead request\'s', async (s) => [await s.claimKey(keyEntry), await s.getKey(keyEntry.spkiSha256), await s.getClaim(claim.key), await s.replaceKeyClaim(keyEntry, 'old')]],
      ['read a lot, take a seat and give it back', async () => [await lotStore().getLot('L-1'), await lotStore().takeSeat('L-1', 'now'), await lotStore().releaseSeat('L-1')]],
    ],
    LotRole: [['open, read and close a lot', async () => [await lotStore().createLot(lot), await lotStore().getLot('L-1'), await lotStore().closeLot('L-1', 'now', 'op')]]],
    ReenrollRole: [
      ['find the issuing CA', async (s) => [await s.getActiveIssuingCaId(), await s.getCa('issuing-1')]],
      ['read the client certificate\'s record', (s) => s.getCertificate('0a1b')],
      ['take over the replaced certificate\'s claim, or give it back', async (s) => [await s.claim(claim), await s.replaceClaim({ ...claim, replaces: '0a1b' }, '0a1b')]],
      ['name the replaced certificate\'s key entry by serial, and take it over', async (s) => [await s.getKey(keyEntry.spkiSha256), await s.getClaim(claim.key), await s.replaceKeyClaim({ ...keyEntry, serialNumber: '0a1b' }, 't'), await s.claimKey(keyEntry)]],
      ['record the new certificate and supersede the old one', async (s) => [await s.putCertificate(certificate), await s.supersedeByReplacement(certificate, { supersededBy: '0c1d', supersededAt: 'now', iotDeactivation: 'PENDING' })]],
      ['set aside a new certificate whose old one was revoked meanwhile', (s) => s.supersedeCertificate(certificate, '2026-01-01T00:00:00Z')],
    ],
    GetCertificateRole: [['read a certificate and its CA chain', async (s) => [await s.getCertificate('0a1b'), await s.getCa('issuing-1'), await s.getCa('root-1')]]],
    ListCertificatesRole: [
      ['list by common name and read the CA chains', async (s) => [await s.listByCommonName('device-1'), await s.getCa('issuing-1')]],
      ['query the ledger by common name', (s) => s.listCertificates({ filters: { commonName: 'device-1', status: 'ISSUED' }, limit: 10 })],
      ['query the ledger by issuing CA', (s) => s.listCertificates({ filters: { issuingCaId: 'issuing-1', stationId: 'line-1' }, limit: 10 })],
      ['query the ledger by station', (s) => s.listCertificates({ filters: { stationId: 'arn:aws:iam::123456789012:user/station-9' }, limit: 10 })],
      ['query the ledger by status', (s) => s.listCertificates({ filters: { status: 'REVOKED', issuedAfter: '2026-01-01T00:00:00.000Z' }, limit: 10 })],
      ['query the ledger by lot', (s) => s.listCertificates({ filters: { lotId: 'L-1' }, limit: 10 })],
      ['query the ledger by time alone', (s) => s.listCertificates({ filters: { issuedAfter: '2026-01-01T00:00:00.000Z', issuedBefore: '2026-01-04T00:00:00.000Z' }, limit: 10 })],
    ],
    GetCaRole: [['read the active CA chain', async (s) => [await s.getActiveIssuingCaId(), await s.getCa('issuing-1'), await s.getCa('root-1')]]],
    RevokeRole: [
      ['revoke and record what AWS IoT said', async (s) => [await s.getCertificate('0a1b'), await s.revokeCertificate('0a1b', 'now', 'keyCompromise'), await s.setIotRevocation('0a1b', 'REVOKED')]],
      ['read the chain of the certificate', (s) => s.getCa('issuing-1')],
      ['block the revoked certificate\'s key for good', (s) => s.blockKey(keyEntry.spkiSha256, { at: 'now', reason: 'keyCompromise', serialNumber: '0a1b' })],
      ['mark the revocation pending on its CA\'s CRL', (s) => s.markCrlPending('issuing-1', '0a1b')],
    ],
    CrlReadRole: [['read what is published', (s) => s.getCrlState('issuing-1')]],
    KeyBlockRole: [['block a key and read its entry', async (s) => [await s.blockKey(keyEntry.spkiSha256, { at: 'now', reason: 'keyCompromise', entry: 'vendor list' }), await s.getKey(keyEntry.spkiSha256)]]],
    LifecycleRole: [
      ['read the CAs, the pointer and the key index marker', async (s) => [await s.getActiveIssuingCaId(), await s.getCa('root-1'), await s.getMarker('keyIndexComplete')]],
      ['mark a new ledger\'s key index complete', (s) => s.putMarker('keyIndexComplete', '2026-01-01T00:00:00Z')],
      ['store, update and activate a CA', async (s) => [await s.putCa(ca), await s.updateCa(ca), await s.setActiveIssuingCa('issuing-2', 'issuing-1'), await s.setActiveIssuingCa('issuing-1', undefined)]],
      ['publish a CRL: its state, a number, a pending serial\'s record, the record of publication', async (s) => [await s.getCrlState('issuing-1'), await s.reserveCrlNumber('issuing-1'), await s.getCertificate('0a1b'), await s.recordCrlPublished('issuing-1', { crlNumber: 2, thisUpdate: 'a', nextUpdate: 'b', entries: 0, object: 'crl/issuing-1/2.crl' }, ['0a1b'])]],
    ],
  };

  for (const [role, cases] of Object.entries(uses)) {
    // Three columns for every case: jest takes a test function with more parameters than columns for a callback test.
    it.each(cases.map(([what, run, o]) => [what, run, o ?? {}] as const))(`lets ${role} %s`, async (_what, run, o) => {
      const requests = await storeRequests(run, o);
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) expect([r, allowed(role, r)]).toEqual([r, true]);
    });
  }

  it('grants each role exactly these DynamoDB actions, on items with these leading keys (partition key pk)', () => {
    const summary = (role: string) => {
      const out: Record<string, string[]> = {};
      for (const s of policyOf(role).filter((st) => st.Effect === 'Allow')) {
        for (const action of ([] as string[]).concat(s.Action).filter((a) => a.startsWith('dynamodb:'))) {
          const keys = s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
          const on = ([] as string[]).concat(s.Resource ?? []).map((r) => r.replace(TABLE_ARN, 'table'));
          out[action] = [...(out[action] ?? []), ...(keys ? ([] as string[]).concat(keys) : on.map((r) => `${r} (any item)`))].sort();
        }
      }
      return out;
    };
    expect(Object.fromEntries(FUNCTION_ROLES.map((r) => [r, summary(r)]))).toEqual({
      IssueRole: {
        'dynamodb:GetItem': ['CA#*', 'CA_ACTIVE#issuing', 'CERT#*', 'CLAIM#*', 'KEY#*', 'LOT#*'],
        'dynamodb:PutItem': ['CERT#*', 'CLAIM#*', 'KEY#*'],
        'dynamodb:DeleteItem': ['CLAIM#*'],
        'dynamodb:UpdateItem': ['LOT#*'],
      },
      // The issuing role's, exactly: the old certificate is superseded by a conditional put, as a certificate set aside is.
      ReenrollRole: {
        'dynamodb:GetItem': ['CA#*', 'CA_ACTIVE#issuing', 'CERT#*', 'CLAIM#*', 'KEY#*', 'LOT#*'],
        'dynamodb:PutItem': ['CERT#*', 'CLAIM#*', 'KEY#*'],
        'dynamodb:DeleteItem': ['CLAIM#*'],
        'dynamodb:UpdateItem': ['LOT#*'],
      },
      GetCertificateRole: { 'dynamodb:GetItem': ['CA#*', 'CERT#*'] },
      ListCertificatesRole: {
        'dynamodb:GetItem': ['CA#*'],
        'dynamodb:Query': [
          'table/index/byCommonName (any item)',
          'table/index/byIssueDay (any item)',
          'table/index/byIssuingCa (any item)',
          'table/index/byLot (any item)',
          'table/index/byStation (any item)',
          'table/index/byStatus (any item)',
        ],
      },
      GetCaRole: { 'dynamodb:GetItem': ['CA#*', 'CA_ACTIVE#issuing'] },
      RevokeRole: { 'dynamodb:GetItem': ['CA#*', 'CERT#*', 'KEY#*'], 'dynamodb:UpdateItem': ['CERT#*', 'CRL#*', 'KEY#*'] },
      KeyBlockRole: { 'dynamodb:GetItem': ['KEY#*'], 'dynamodb:UpdateItem': ['KEY#*'] },
      LotRole: { 'dynamodb:GetItem': ['LOT#*'], 'dynamodb:PutItem': ['LOT#*'], 'dynamodb:UpdateItem': ['LOT#*'] },
      LifecycleRole: {
        'dynamodb:GetItem': ['CA#*', 'CA_ACTIVE#issuing', 'CERT#*', 'CRL#*', 'LOG#KEYS', 'META#*'],
        'dynamodb:PutItem': ['CA#*', 'CA_ACTIVE#issuing', 'LOG#KEYS', 'META#*'],
        // CRL numbers and pending revocations only; the revoked certificates through the status index's REVOKED partition.
        'dynamodb:UpdateItem': ['CRL#*'],
        'dynamodb:Query': ['STATUS#REVOKED'],
      },
      CrlReadRole: { 'dynamodb:GetItem': ['CRL#*'] },
      HealthRole: {},
      OpenapiRole: {},
      // The log's items; the queue's items read and their marker removed; lots' log counters; the queue index.
      LogSequencerRole: {
        'dynamodb:GetItem': ['CERT#*', 'LOG#*', 'LOT#*'],
        'dynamodb:PutItem': ['LOG#CHECKPOINT#*', 'LOG#ID#*', 'LOG#LEAF#*', 'LOG#NODE#*'],
        'dynamodb:BatchWriteItem': ['LOG#CHECKPOINT#*', 'LOG#ID#*', 'LOG#LEAF#*', 'LOG#NODE#*'],
        'dynamodb:BatchGetItem': ['LOG#*'],
        'dynamodb:UpdateItem': ['CERT#*', 'LOG#HEAD', 'LOT#*'],
        'dynamodb:Query': ['LOG#QUEUED'],
      },
      LogReadRole: { 'dynamodb:GetItem': ['LOG#*'], 'dynamodb:BatchGetItem': ['LOG#*'] },
    });
  });

  it('lets only the list role query, and only the certificate indexes the table declares: never the table, never a scan', () => {
    const indexes = tableDefinition('x').GlobalSecondaryIndexes!.map((i) => i.IndexName!);
    expect(indexes.sort()).toEqual(['byCommonName', 'byIssueDay', 'byIssuingCa', 'byLogQueue', 'byLot', 'byStation', 'byStatus']);
    const query = (resource: string): Request => ({ action: 'dynamodb:Query', resource });
    for (const role of FUNCTION_ROLES) {
      // The CRL publisher (lifecycle role) reads the revoked certificates through the status index.
      // The log sequencer reads its queue.
      for (const index of indexes) expect([role, index, allowed(role, query(`${TABLE_ARN}/index/${index}`))]).toEqual([role, index, (role === 'ListCertificatesRole' && index !== 'byLogQueue') || (role === 'LifecycleRole' && index === 'byStatus') || (role === 'LogSequencerRole' && index === 'byLogQueue')]);
      expect([role, allowed(role, query(TABLE_ARN))]).toEqual([role, false]);
      expect([role, allowed(role, query(`${TABLE_ARN}/index/byAnythingElse`))]).toEqual([role, false]);
      for (const action of ['dynamodb:Scan', 'dynamodb:PartiQLSelect', 'dynamodb:ExecuteStatement']) {
        expect([role, action, allowed(role, { action, resource: TABLE_ARN })]).toEqual([role, action, false]);
        expect([role, action, allowed(role, { action, resource: `${TABLE_ARN}/index/byStatus` })]).toEqual([role, action, false]);
      }
    }
  });

  it('lets the revocation move a certificate in the status index with the update it is allowed, and lets the issuing role write the index keys', async () => {
    const update = await storeRequests((s) => s.revokeCertificate('0a1b', 'now', 'keyCompromise'));
    expect(update).toEqual([item('UpdateItem', 'CERT#0a1b')]);
    for (const r of update) expect(allowed('RevokeRole', r)).toBe(true);
    const put = await storeRequests((s) => s.putCertificate(certificate));
    expect(put).toEqual([item('PutItem', 'CERT#0a1b')]);
    expect(allowed('IssueRole', put[0]!)).toBe(true);
  });

  it('allows, over every kind of ledger item, exactly the reads and writes each function needs', () => {
    const keys = ['CERT#0a1b', 'CLAIM#pubkey:abcd', 'CA#root-1', 'CA#issuing-2', 'CA_ACTIVE#issuing', 'CA_ACTIVE#other', 'CN#device-1', 'KEY#abab', 'META#keyIndexComplete', 'CRL#issuing-1', 'LOT#L-1', 'LOG#HEAD', 'LOG#KEYS', 'LOG#LEAF#3'];
    const actions = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem', 'Scan'];
    const grid = (role: string) => actions.flatMap((a) => keys.filter((k) => allowed(role, item(a, k))).map((k) => `${a} ${k}`));
    expect(Object.fromEntries(FUNCTION_ROLES.map((r) => [r, grid(r)]))).toEqual({
      // The key index by conditional put only: no update, so the issuing function can never unblock a key.
      IssueRole: ['GetItem CERT#0a1b', 'GetItem CLAIM#pubkey:abcd', 'GetItem CA#root-1', 'GetItem CA#issuing-2', 'GetItem CA_ACTIVE#issuing', 'GetItem KEY#abab', 'GetItem LOT#L-1', 'PutItem CERT#0a1b', 'PutItem CLAIM#pubkey:abcd', 'PutItem KEY#abab', 'UpdateItem LOT#L-1', 'DeleteItem CLAIM#pubkey:abcd'],
      ReenrollRole: ['GetItem CERT#0a1b', 'GetItem CLAIM#pubkey:abcd', 'GetItem CA#root-1', 'GetItem CA#issuing-2', 'GetItem CA_ACTIVE#issuing', 'GetItem KEY#abab', 'GetItem LOT#L-1', 'PutItem CERT#0a1b', 'PutItem CLAIM#pubkey:abcd', 'PutItem KEY#abab', 'UpdateItem LOT#L-1', 'DeleteItem CLAIM#pubkey:abcd'],
      GetCertificateRole: ['GetItem CERT#0a1b', 'GetItem CA#root-1', 'GetItem CA#issuing-2'],
      ListCertificatesRole: ['GetItem CA#root-1', 'GetItem CA#issuing-2'],
      GetCaRole: ['GetItem CA#root-1', 'GetItem CA#issuing-2', 'GetItem CA_ACTIVE#issuing'],
      RevokeRole: ['GetItem CERT#0a1b', 'GetItem CA#root-1', 'GetItem CA#issuing-2', 'GetItem KEY#abab', 'UpdateItem CERT#0a1b', 'UpdateItem KEY#abab', 'UpdateItem CRL#issuing-1'],
      KeyBlockRole: ['GetItem KEY#abab', 'UpdateItem KEY#abab'],
      LotRole: ['GetItem LOT#L-1', 'PutItem LOT#L-1', 'UpdateItem LOT#L-1'],
      // The log key's state, not the log: the sequencer alone writes the log.
      LifecycleRole: ['GetItem CERT#0a1b', 'GetItem CA#root-1', 'GetItem CA#issuing-2', 'GetItem CA_ACTIVE#issuing', 'GetItem META#keyIndexComplete', 'GetItem CRL#issuing-1', 'GetItem LOG#KEYS', 'PutItem CA#root-1', 'PutItem CA#issuing-2', 'PutItem CA_ACTIVE#issuing', 'PutItem META#keyIndexComplete', 'PutItem LOG#KEYS', 'UpdateItem CRL#issuing-1'],
      CrlReadRole: ['GetItem CRL#issuing-1'],
      HealthRole: [],
      OpenapiRole: [],
      // The log's items, but never the log key state (the lifecycle's): it reads which keys sign, never chooses them.
      LogSequencerRole: ['GetItem CERT#0a1b', 'GetItem LOT#L-1', 'GetItem LOG#HEAD', 'GetItem LOG#KEYS', 'GetItem LOG#LEAF#3', 'PutItem LOG#LEAF#3', 'UpdateItem CERT#0a1b', 'UpdateItem LOT#L-1', 'UpdateItem LOG#HEAD', 'BatchGetItem LOG#HEAD', 'BatchGetItem LOG#KEYS', 'BatchGetItem LOG#LEAF#3', 'BatchWriteItem LOG#LEAF#3'],
      LogReadRole: ['GetItem LOG#HEAD', 'GetItem LOG#KEYS', 'GetItem LOG#LEAF#3', 'BatchGetItem LOG#HEAD', 'BatchGetItem LOG#KEYS', 'BatchGetItem LOG#LEAF#3'],
    });
    // A request naming an allowed and a forbidden item at once is refused (ForAllValues).
    expect(allowed('IssueRole', { ...item('GetItem', 'CA#root-1'), context: { 'dynamodb:LeadingKeys': ['CA#root-1', 'CN#x'] } })).toBe(false);
  });

  it('lets no role delete anything but a claim, and no role but the issuing one delete at all', () => {
    for (const role of FUNCTION_ROLES) {
      for (const s of policyOf(role).filter((st) => st.Effect === 'Allow' && ([] as string[]).concat(st.Action).some((a) => like(a, 'dynamodb:DeleteItem')))) {
        expect([role === 'ReenrollRole' ? 'IssueRole' : role, s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']]).toEqual(['IssueRole', ['CLAIM#*']]);
      }
    }
  });

  it('lets the lifecycle update only the AWS IoT CA registrations tagged for this stage\'s table, and register only such', () => {
    const table = resources.BootstrapLambdaFunction!.Properties.Environment.Variables.TABLE_NAME as string;
    const cacert = `arn:aws:iot:${REGION}:${ACCOUNT}:cacert/${'ab'.repeat(32)}`;
    const update = (tags: Context): Request => ({ action: 'iot:UpdateCACertificate', resource: cacert, context: tags });
    const [statement] = policyOf('LifecycleRole').filter((s) => ([] as string[]).concat(s.Action).includes('iot:UpdateCACertificate'));
    expect(statement!.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/factory-ca:table': table } });
    expect(allowed('LifecycleRole', update({ 'aws:ResourceTag/factory-ca:table': table }))).toBe(true);
    expect(allowed('LifecycleRole', update({ 'aws:ResourceTag/factory-ca:table': 'factory-ca-other-ledger' }))).toBe(false);
    expect(allowed('LifecycleRole', update({}))).toBe(false);
    // The registration carries the tags the lifecycle gives it (src/compose/operations.ts, src/service/ca-lifecycle.ts).
    const register = (tags: Record<string, string>): Request => ({
      action: 'iot:RegisterCACertificate',
      resource: '*',
      context: { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), 'aws:TagKeys': Object.keys(tags) },
    });
    expect(allowed('LifecycleRole', register({ 'factory-ca:table': table, 'factory-ca:ca-id': 'issuing-1', 'factory-ca:role': 'issuing' }))).toBe(true);
    expect(allowed('LifecycleRole', register({ 'factory-ca:ca-id': 'issuing-1' }))).toBe(false);
    // Tags are given at registration only: no role may retag a CA into this stage.
    for (const role of FUNCTION_ROLES) expect([role, allowed(role, { action: 'iot:TagResource', resource: cacert })]).toEqual([role, false]);
  });

  it('lets only the re-enrolling and revoking roles change a device certificate in AWS IoT, in this account and Region; re-enrollment never registers one', () => {
    const cert = (account: string, region = REGION) => `arn:aws:iot:${region}:${account}:cert/${'cd'.repeat(32)}`;
    const update = (resource: string): Request => ({ action: 'iot:UpdateCertificate', resource });
    for (const role of FUNCTION_ROLES) expect([role, allowed(role, update(cert(ACCOUNT)))]).toEqual([role, role === 'ReenrollRole' || role === 'RevokeRole']);
    expect(allowed('ReenrollRole', update(cert('210987654321')))).toBe(false);
    expect(allowed('ReenrollRole', update(cert(ACCOUNT, 'us-east-1')))).toBe(false);
    expect(allowed('ReenrollRole', update(`arn:aws:iot:${REGION}:${ACCOUNT}:cacert/${'ab'.repeat(32)}`))).toBe(false);
    expect(allowed('ReenrollRole', { action: 'iot:RegisterCertificate', resource: '*' })).toBe(false);
    expect(allowed('IssueRole', update(cert(ACCOUNT)))).toBe(false);
  });

  it('declares the EST custom domain with mutual TLS only when its params are given, mapped to this stage once it is deployed', () => {
    const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
    // Packaged without the params: the condition is false, nothing is created.
    expect(template.Conditions.HasEstDomain).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    const domain = resources.EstDomainName as Resource & { Condition: string };
    expect(domain.Condition).toBe('HasEstDomain');
    expect(domain.Properties).toMatchObject({ EndpointConfiguration: { Types: ['REGIONAL'] }, SecurityPolicy: 'TLS_1_2', MutualTlsAuthentication: { TruststoreUri: '' } });
    const mapping = resources.EstBasePathMapping as Resource & { Condition: string; DependsOn: string[] };
    expect(mapping).toMatchObject({ Condition: 'HasEstDomain', Properties: { DomainName: { Ref: 'EstDomainName' }, RestApiId: { Ref: 'ApiGatewayRestApi' }, Stage: 'ci' } });
    expect(mapping.DependsOn).toEqual(ofType('AWS::ApiGateway::Deployment').map(([id]) => id));
  });

  it('lets AWS IoT assume the JITP role only for this account, from AWS IoT in this Region', () => {
    const [trust] = resolve(resources.JitpRole!.Properties.AssumeRolePolicyDocument.Statement) as Statement[];
    expect(trust).toMatchObject({
      Principal: { Service: 'iot.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnLike: { 'aws:SourceArn': `arn:aws:iot:${REGION}:${ACCOUNT}:*` } },
    });
    const assume = (context: Context): Request => ({ action: 'sts:AssumeRole', resource: '*', context });
    expect(allowedBy([trust!], assume({ 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:iot:${REGION}:${ACCOUNT}:cacert/x` }))).toBe(true);
    expect(allowedBy([trust!], assume({ 'aws:SourceAccount': '210987654321', 'aws:SourceArn': `arn:aws:iot:${REGION}:210987654321:cacert/x` }))).toBe(false);
    expect(allowedBy([trust!], assume({ 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:iot:us-east-1:${ACCOUNT}:cacert/x` }))).toBe(false);
    expect(allowedBy([trust!], assume({}))).toBe(false);
  });

  it('writes every CA key alias pattern up to the separator after root, issuing or log, never the bare stage prefix', () => {
    const patterns = JSON.stringify(policyOf('IssueRole').concat(policyOf('LifecycleRole'), policyOf('LogSequencerRole'))).match(/alias\/[^"]*/g)!;
    expect(patterns.length).toBeGreaterThan(0);
    for (const p of patterns) expect(p).toMatch(/^alias\/factory-ca-ci-(root|issuing|log)-\*(-\*)?$/);
  });

  it('lets the lifecycle create, tag and name only this stage\'s CA keys, as the key manager does it', async () => {
    // The requests of the real key manager creating both keys (on the KMS fake).
    const kms = new FakeKms();
    const prefix = resources.BootstrapLambdaFunction!.Properties.Environment.Variables.KEY_ALIAS_PREFIX as string;
    const table = resources.BootstrapLambdaFunction!.Properties.Environment.Variables.TABLE_NAME as string;
    const roles = { issueRoleArn: `arn:aws:iam::${ACCOUNT}:role/IssueRole`, lifecycleRoleArn: `arn:aws:iam::${ACCOUNT}:role/LifecycleRole`, logSequencerRoleArn: `arn:aws:iam::${ACCOUNT}:role/LogSequencerRole` };
    const keys = kmsKeyManager(kms.install().client, { keySpec: 'ECC_NIST_P256', keyPolicy: (purpose) => caKeyPolicy({ purpose, ...roles }), tags: { 'factory-ca:table': table } });
    await keys.createKey(`${prefix}-root-1`, 'root');
    await keys.createKey(`${prefix}-issuing-2`, 'issuing');
    await keys.createKey(`${prefix}-log-1`, 'log');
    expect(kms.callsOf('CreateKey').map((c) => c.KeySpec)).toEqual(['ECC_NIST_P256', 'ECC_NIST_P256', 'ECC_NIST_P256']);
    const tagging = (tags: Array<{ TagKey?: string; TagValue?: string }>): Context => ({
      ...Object.fromEntries(tags.map((t) => [`aws:RequestTag/${t.TagKey}`, t.TagValue!])),
      'aws:TagKeys': tags.map((t) => t.TagKey!),
    });
    for (const c of kms.callsOf('CreateKey')) {
      const context = { ...tagging(c.Tags!), 'kms:KeyUsage': c.KeyUsage!, 'kms:KeySpec': c.KeySpec!, 'kms:KeyOrigin': 'AWS_KMS', 'kms:MultiRegion': 'false' };
      expect(allowed('LifecycleRole', { action: 'kms:CreateKey', resource: '*', context })).toBe(true);
      expect(allowed('LifecycleRole', { action: 'kms:TagResource', resource: KEY_ARN, context: tagging(c.Tags!) })).toBe(true);
      expect(allowed('LifecycleRole', { action: 'kms:CreateKey', resource: '*', context: { ...context, 'kms:MultiRegion': 'true' } })).toBe(false);
      expect(allowed('LifecycleRole', { action: 'kms:CreateKey', resource: '*', context: { ...context, 'kms:KeyUsage': 'ENCRYPT_DECRYPT' } })).toBe(false);
    }
    for (const c of kms.callsOf('CreateAlias')) {
      // Authorized on the alias and on the key (tagged at creation, no alias yet).
      expect(allowed('LifecycleRole', { action: 'kms:CreateAlias', resource: aliasArn(c.AliasName!) })).toBe(true);
      expect(allowed('LifecycleRole', { action: 'kms:CreateAlias', resource: KEY_ARN, context: { 'aws:ResourceTag/factory-ca:table': table } })).toBe(true);
    }
    // Tags of another table, another stage's alias tag, or any other tag key: refused.
    const ours = { 'factory-ca:table': table, 'factory-ca:role': 'issuing', 'factory-ca:alias': `${prefix}-issuing-3` };
    const tag = (t: Record<string, string>) => allowed('LifecycleRole', { action: 'kms:TagResource', resource: KEY_ARN, context: tagging(Object.entries(t).map(([TagKey, TagValue]) => ({ TagKey, TagValue }))) });
    expect(tag(ours)).toBe(true);
    expect(tag({ ...ours, 'factory-ca:table': 'factory-ca-other-ledger' })).toBe(false);
    expect(tag({ ...ours, 'factory-ca:alias': 'alias/factory-ca-ci-x-issuing-1' })).toBe(false);
    expect(tag({ ...ours, owner: 'someone' })).toBe(false);
    // The key side: only keys tagged for this table whose aliases are all this stage's.
    const nameKey = (context: Context) => allowed('LifecycleRole', { action: 'kms:CreateAlias', resource: KEY_ARN, context });
    expect(nameKey({ 'aws:ResourceTag/factory-ca:table': 'factory-ca-other-ledger' })).toBe(false);
    expect(nameKey({})).toBe(false);
    expect(nameKey({ 'aws:ResourceTag/factory-ca:table': table, 'kms:ResourceAliases': ['alias/someone-elses'] })).toBe(false);
  });

  it.each([
    ['this stage\'s next issuing alias', 'alias/factory-ca-ci-issuing-3', true],
    ['this stage\'s root alias', 'alias/factory-ca-ci-root-1', true],
    ['an alias of stage ci-x', 'alias/factory-ca-ci-x-issuing-1', false],
    ['an alias of stage cix', 'alias/factory-ca-cix-root-1', false],
    ['the root alias of stage ci-root', 'alias/factory-ca-ci-root-root-1', false],
    ['an issuing alias of stage ci-issuing', 'alias/factory-ca-ci-issuing-issuing-1', false],
    ['this stage\'s next log key alias', 'alias/factory-ca-ci-log-2', true],
    ['the root alias of stage ci-log', 'alias/factory-ca-ci-log-root-1', false],
    ['an alias outside the CA', 'alias/payments', false],
  ])('lets the lifecycle create %s: %s → %s', (_case, alias, expected) => {
    expect(allowed('LifecycleRole', { action: 'kms:CreateAlias', resource: aliasArn(alias) })).toBe(expected);
    for (const role of FUNCTION_ROLES.filter((r) => r !== 'LifecycleRole')) expect([role, allowed(role, { action: 'kms:CreateAlias', resource: aliasArn(alias) })]).toEqual([role, false]);
  });

  it.each([
    [['alias/factory-ca-ci-root-1'], { IssueRole: false, LifecycleRole: true }],
    [['alias/factory-ca-ci-issuing-2'], { IssueRole: true, LifecycleRole: true }],
    [['alias/factory-ca-cix-issuing-1'], { IssueRole: false, LifecycleRole: false }],
    [['alias/factory-ca-ci-x-root-1'], { IssueRole: false, LifecycleRole: false }],
    [['alias/factory-ca-ci-issuing-root-1'], { IssueRole: false, LifecycleRole: false }],
    [['alias/factory-ca-ci-root-issuing-1'], { IssueRole: false, LifecycleRole: false }],
    [[], { IssueRole: false, LifecycleRole: false }],
  ])('lets roles sign (through IAM) with a key aliased %j: %j', (aliases, expected) => {
    const sign: Request = { action: 'kms:Sign', resource: KEY_ARN, context: { 'kms:ResourceAliases': aliases } };
    expect({ IssueRole: allowed('IssueRole', sign), LifecycleRole: allowed('LifecycleRole', sign) }).toEqual(expected);
  });
});
