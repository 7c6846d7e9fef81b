import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCredentialChain } from '../../../src/cli/aws.js';
import { runLifecycle, type LifecycleDeps } from '../../../src/cli/lifecycle.js';
import { captureIo } from './cli-io.js';

const STATIC = { accessKeyId: 'AKIDOPERATOR', secretAccessKey: 'operator-secret', sessionToken: 'token-1' };

interface Call {
  local?: { command: string; force: boolean };
  invoke?: { args: string[]; env: Record<string, string | undefined> };
}

async function lifecycle(argv: string[], env: Record<string, string | undefined> = {}, over: Partial<LifecycleDeps> = {}) {
  const io = captureIo(env);
  const call: Call = {};
  const code = await runLifecycle(argv, {
    io,
    local: async (command, { force }) => {
      call.local = { command, force };
      return 0;
    },
    credentials: () => async () => STATIC,
    invoke: (args, e) => {
      call.invoke = { args, env: e };
      return 0;
    },
    ...over,
  });
  return { code, out: io.stdoutText(), err: io.stderrText(), call };
}

const option = (args: string[], name: string) => args[args.indexOf(name) + 1];

describe('npm run bootstrap / rotate: arguments', () => {
  it.each(['bootstrap', 'rotate'])('%s --help prints the usage with --stage, --region and --aws-profile, exit 0', async (command) => {
    const r = await lifecycle([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: npm run ${command} -- [--stage <stage>] [--region <region>] [--aws-profile <profile>]`);
    expect(r.out).toContain('--region <region>');
    expect(r.out).toContain('--aws-profile <profile>');
    expect(r.out.includes('--force')).toBe(command === 'rotate');
    expect(r.call).toEqual({});
  });

  it.each([
    [['rotate', '--stage', 'prod', '--frobnicate'], "unknown option '--frobnicate'"],
    [['bootstrap', '--force'], "unknown option '--force'"],
    [['rotate', '--region'], "option '--region <region>' argument missing"],
    [['rotate', 'extra'], 'too many arguments'],
  ])('%j: a usage error, the usage, exit 2', async (argv, message) => {
    const r = await lifecycle(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain('Usage: npm run');
    expect(r.call).toEqual({});
  });

  it('no command: the usage, exit 2', async () => {
    const r = await lifecycle(['renew']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: tsx scripts/lifecycle.ts bootstrap|rotate');
  });

  it('no stage, or --stage local: local mode, --force passed on', async () => {
    expect((await lifecycle(['rotate', '--force'])).call).toEqual({ local: { command: 'rotate', force: true } });
    expect((await lifecycle(['bootstrap', '--stage', 'local'])).call).toEqual({ local: { command: 'bootstrap', force: false } });
    const r = await lifecycle(['rotate', '--region', 'eu-west-1']);
    expect(r.call.local).toEqual({ command: 'rotate', force: false });
    expect(r.err).toContain('--region and --aws-profile apply to a deployed stage');
  });
});

describe('npm run bootstrap / rotate: a deployed stage', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-lifecycle-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('invokes the function with --stage and --region, the credentials in the environment and no profile to override them', async () => {
    const r = await lifecycle(['rotate', '--stage', 'prod', '--region', 'eu-west-1', '--aws-profile', 'ops', '--force'], { AWS_PROFILE: 'other', AWS_PROD_PROFILE: 'x', PATH: '/bin' });
    expect(r.code).toBe(0);
    const { args, env } = r.call.invoke!;
    expect(args.slice(1, 4)).toEqual(['invoke', '--function', 'rotate']);
    expect(args[0]).toMatch(/node_modules\/serverless\/bin\/serverless\.js$/);
    expect(option(args, '--stage')).toBe('prod');
    expect(option(args, '--region')).toBe('eu-west-1');
    expect(option(args, '--data')).toBe('{"force":true}');
    expect(env).toMatchObject({ AWS_ACCESS_KEY_ID: 'AKIDOPERATOR', AWS_SECRET_ACCESS_KEY: 'operator-secret', AWS_SESSION_TOKEN: 'token-1', AWS_REGION: 'eu-west-1', PATH: '/bin' });
    expect(env.AWS_PROFILE).toBeUndefined();
    expect(env.AWS_PROD_PROFILE).toBeUndefined();
    expect(r.err).toContain('invoking the rotate function of stage prod in eu-west-1 as profile ops (forced)');
  });

  it('bootstrap sends no data', async () => {
    const r = await lifecycle(['bootstrap', '--stage', 'prod', '--region', 'ap-southeast-2']);
    expect(r.call.invoke!.args).not.toContain('--data');
    expect(option(r.call.invoke!.args, '--region')).toBe('ap-southeast-2');
  });

  it('the region defaults as the AWS CLI finds it: AWS_REGION, AWS_DEFAULT_REGION, then the profile', async () => {
    const config = join(dir, 'config');
    writeFileSync(config, '[default]\nregion = us-west-2\n\n[profile ops]\n# the operators\nregion=eu-north-1\ns3 =\n  region = ignored\n');
    const region = async (argv: string[], env: Record<string, string>) => option((await lifecycle(['bootstrap', '--stage', 'prod', ...argv], { AWS_CONFIG_FILE: config, ...env })).call.invoke!.args, '--region');
    expect(await region([], {})).toBe('us-west-2');
    expect(await region(['--aws-profile', 'ops'], {})).toBe('eu-north-1');
    expect(await region([], { AWS_PROFILE: 'ops' })).toBe('eu-north-1');
    expect(await region(['--aws-profile', 'ops'], { AWS_DEFAULT_REGION: 'sa-east-1' })).toBe('sa-east-1');
    expect(await region(['--aws-profile', 'ops'], { AWS_DEFAULT_REGION: 'sa-east-1', AWS_REGION: 'ca-central-1' })).toBe('ca-central-1');
    expect(await region(['--aws-profile', 'ops', '--region', 'me-south-1'], { AWS_REGION: 'ca-central-1' })).toBe('me-south-1');
  });

  it('no region anywhere: says where to give one, exit 1', async () => {
    const r = await lifecycle(['bootstrap', '--stage', 'prod', '--aws-profile', 'ops'], { AWS_CONFIG_FILE: join(dir, 'none') });
    expect(r.code).toBe(1);
    expect(r.err).toContain('no AWS region: give --region <region>, set AWS_REGION, or set a region for profile ops');
    expect(r.call.invoke).toBeUndefined();
  });

  it('with the SDK chain, a profile of the shared credentials file is used', async () => {
    const saved = { ...process.env };
    try {
      for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
      process.env.AWS_CONFIG_FILE = join(dir, 'config');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      writeFileSync(join(dir, 'credentials'), '[ops]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = file-secret\n');
      writeFileSync(join(dir, 'config'), '');
      const r = await lifecycle(['rotate', '--stage', 'prod', '--region', 'eu-west-1', '--aws-profile', 'ops'], { ...process.env }, { credentials: defaultCredentialChain });
      expect(r.code).toBe(0);
      expect(r.call.invoke!.env).toMatchObject({ AWS_ACCESS_KEY_ID: 'AKIDFROMFILE', AWS_SECRET_ACCESS_KEY: 'file-secret' });
      expect(r.call.invoke!.env.AWS_SESSION_TOKEN).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });
});

describe('without credentials (a real run, no AWS_* in the environment, empty shared files)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-nocreds-'));
    writeFileSync(join(dir, 'credentials'), '');
    writeFileSync(join(dir, 'config'), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cleanEnv = () => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && v !== undefined && k !== 'NODE_OPTIONS') env[k] = v;
    return { ...env, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_CONFIG_FILE: join(dir, 'config'), AWS_EC2_METADATA_DISABLED: 'true' };
  };
  const run = (args: string[]) => spawnSync(process.execPath, args, { encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });

  it.each([
    [['bootstrap', '--stage', 'prod', '--region', 'eu-west-1'], 'default'],
    [['rotate', '--stage', 'prod', '--region', 'eu-west-1', '--aws-profile', 'ops', '--force'], 'ops'],
  ])('npm run %j ends with the credentials message, exit 1', (argv, profile) => {
    const r = run(['node_modules/tsx/dist/cli.mjs', 'scripts/lifecycle.ts', ...argv]);
    expect(r.stderr).toContain(`no AWS credentials found for profile ${profile}: run aws configure / aws sso login, or set AWS_PROFILE`);
    expect(r.stderr).not.toMatch(/ERR_PARSE_ARGS|unknown option|Usage:/);
    expect(r.status).toBe(1);
  });

  it('factory-ca against an API Gateway URL ends with the credentials message, exit 1, before any request', () => {
    const r = run(['bin/factory-ca.mjs', 'list', '--url', 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod', '--common-name', 'device-0001', '--aws-profile', 'station']);
    expect(r.stderr).toContain('factory-ca: no AWS credentials found for profile station: run aws configure / aws sso login, or set AWS_PROFILE');
    expect(r.status).toBe(1);
  });
});
