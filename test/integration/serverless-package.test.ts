import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableDefinition } from '../../src/store/table.js';

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

  it('requires IAM auth on every route but GET /health', () => {
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods).toHaveLength(8);
    for (const [id, m] of methods) {
      expect([id, m.Properties.AuthorizationType]).toEqual([id, id === 'ApiGatewayMethodHealthGet' ? 'NONE' : 'AWS_IAM']);
    }
  });

  it('throttles the stage', () => {
    const [[, deployment]] = ofType('AWS::ApiGateway::Deployment') as [[string, Resource]];
    expect(deployment.Properties.StageDescription).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
  });

  it('runs the functions on nodejs22.x, and never enables the software signer', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(10);
    for (const [, f] of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Environment.Variables.ALLOW_SOFTWARE_SIGNER).toBe('false');
      expect(f.Properties.Environment.Variables.TRUST_STATION_HEADER).toBe('false');
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
    // Least privilege: the public routes touch no data; only listing may query the index; reads never write.
    for (const role of ['HealthRole', 'OpenapiRole']) expect(resources[role]!.Properties.Policies).toBeUndefined();
    const actionsOf = (role: string) => statementsOf(role).flatMap((st: any) => [].concat(st.Action)).sort();
    expect(actionsOf('GetCertificateRole')).toEqual(['dynamodb:GetItem']);
    expect(actionsOf('GetCaRole')).toEqual(['dynamodb:GetItem']);
    expect(actionsOf('ListCertificatesRole')).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(actionsOf('IssueRole')).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'kms:GetPublicKey', 'kms:Sign']);
    expect(roleOf('RevokeCertificateLambdaFunction')).toBe('RevokeRole');
    for (const fn of ['BootstrapLambdaFunction', 'RotateLambdaFunction', 'RotateCaLambdaFunction']) {
      expect(roleOf(fn)).toBe('LifecycleRole');
      expect(resources[fn]!.Properties.Environment.Variables).toMatchObject({
        JITP_ROLE_ARN: { 'Fn::GetAtt': ['JitpRole', 'Arn'] },
        ISSUE_ROLE_ARN: { 'Fn::GetAtt': ['IssueRole', 'Arn'] },
        LIFECYCLE_ROLE_ARN: { 'Fn::GetAtt': ['LifecycleRole', 'Arn'] },
        KEY_ALIAS_PREFIX: 'alias/factory-ca-ci',
      });
    }
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('runs the rotation daily', () => {
    const [[, rule]] = ofType('AWS::Events::Rule') as [[string, Resource]];
    expect(rule.Properties.ScheduleExpression).toBe('rate(1 day)');
    expect(JSON.stringify(rule.Properties.Targets)).toContain('RotateLambdaFunction');
  });

  it('defines the JITP role: trusted by AWS IoT only, with AWSIoTThingsRegistration', () => {
    const role = resources.JitpRole!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'iot.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(':iam::aws:policy/service-role/AWSIoTThingsRegistration');
  });

  it('outputs station and operator policies that allow only execute-api:Invoke', () => {
    const policies = ofType('AWS::IAM::ManagedPolicy');
    expect(policies.map(([id]) => id).sort()).toEqual(['OperatorPolicy', 'StationPolicy']);
    for (const [, p] of policies) {
      for (const s of p.Properties.PolicyDocument.Statement) expect(s.Action).toBe('execute-api:Invoke');
    }
  });

  const statementsOf = (role: string) => (resources[role]!.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
  const allowing = (role: string, action: string) => statementsOf(role).filter((s: any) => [].concat(s.Action).includes(action as never));

  it('lets the issuing function sign only with issuing-key aliases, and only the lifecycle role create keys or call the IoT CA APIs', () => {
    const [sign] = allowing('IssueRole', 'kms:Sign');
    expect(sign.Condition['ForAnyValue:StringLike']['kms:ResourceAliases']).toBe('alias/factory-ca-ci-issuing-*');
    const [lifecycleSign] = allowing('LifecycleRole', 'kms:Sign');
    expect(lifecycleSign.Condition['ForAnyValue:StringLike']['kms:ResourceAliases']).toBe('alias/factory-ca-ci-*');
    const [create] = allowing('LifecycleRole', 'kms:CreateKey');
    expect(create.Condition.StringEquals['kms:KeyUsage']).toBe('SIGN_VERIFY');
    for (const role of ['IssueRole', 'GetCertificateRole', 'ListCertificatesRole', 'GetCaRole', 'RevokeRole']) {
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

  it('keeps every function\'s logs for a bounded time', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBe(ofType('AWS::Lambda::Function').length);
    for (const [id, g] of groups) expect([id, g.Properties.RetentionInDays]).toEqual([id, 90]);
  });

  it('never lets code delete or disable a key: no source file sends such a KMS command (and no role may, above)', () => {
    const sources = execFileSync('git', ['ls-files', 'src'], { encoding: 'utf8' }).trim().split('\n');
    for (const file of sources) {
      expect([file, /(ScheduleKeyDeletion|DeleteAlias|DisableKey|PutKeyPolicy|DeleteImportedKeyMaterial)Command/.test(readFileSync(file, 'utf8'))]).toEqual([file, false]);
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
