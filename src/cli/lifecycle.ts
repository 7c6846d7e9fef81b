/**
 * `npm run bootstrap` and `npm run rotate`: the arguments, and the deployed
 * half (scripts/lifecycle.ts holds the local half).
 *
 *   npm run bootstrap -- [--stage <stage>] [--region <region>] [--aws-profile <profile>]
 *   npm run rotate    -- [--stage <stage>] [--region <region>] [--aws-profile <profile>] [--force]
 *
 * With a deployed stage the stage's `bootstrap` or `rotate` function is invoked
 * through the Serverless Framework. The credentials are resolved first, with the
 * SDK's default chain and the profile, so that a missing identity is said as
 * such; they are handed to the Serverless Framework as environment credentials,
 * which makes every kind of profile the SDK understands (SSO included) work,
 * and the region goes with --region.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { defaultCredentialChain, profileName, requireRegion, resolveCredentials, type CredentialProvider, type Credentials, type Env } from './aws.js';
import { CliError, EXIT } from './errors.js';
import { processIo, type Io } from './io.js';

export type LifecycleCommand = 'bootstrap' | 'rotate';

export interface LifecycleOptions {
  stage?: string;
  region?: string;
  awsProfile?: string;
  force?: boolean;
}

export interface LifecycleDeps {
  io?: Io;
  /** Local mode: bootstrap or rotate the CA under .local/. Resolves to the exit status. */
  local(command: LifecycleCommand, options: { force: boolean }): Promise<number>;
  credentials?: (profile: string | undefined) => CredentialProvider;
  /** Runs the Serverless Framework; resolves to its exit status. */
  invoke?: (args: string[], env: Env) => number;
}

/** Usage errors end with 2, as before. */
const USAGE = 2;

export function lifecycleProgram(command: LifecycleCommand, io: Io, run: (options: LifecycleOptions) => Promise<void>): Command {
  const cmd = new Command(`npm run ${command} --`)
    .description(
      command === 'bootstrap'
        ? 'Create the CA (root and first issuing CA) and register it with AWS IoT; idempotent.'
        : 'Rotate the issuing CA when due (or now with --force); idempotent.',
    )
    .usage(`[--stage <stage>] [--region <region>] [--aws-profile <profile>]${command === 'rotate' ? ' [--force]' : ''}`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError()
    .allowExcessArguments(false)
    .option('--stage <stage>', 'a deployed stage (default: local, the CA of npm start under .local/)')
    .option('--region <region>', "the stage's region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)")
    .option('--aws-profile <profile>', 'the AWS profile to act as (default: AWS_PROFILE, else the default credential chain)');
  if (command === 'rotate') cmd.option('--force', 'rotate now, even if not due');
  cmd.addHelpText(
    'after',
    `
Examples:
  npm run ${command}${command === 'rotate' ? ' -- --force' : ''}                        local mode (.local/)
  npm run ${command} -- --stage prod --region eu-west-1 --aws-profile ops${command === 'rotate' ? ' --force' : ''}`,
  );
  return cmd.action(run);
}

/** The environment the Serverless Framework runs with: these credentials, and no profile to override them. */
export function invokeEnv(env: Env, credentials: Credentials, region: string, stage: string): Env {
  const out: Env = { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_REGION: region };
  const stageUpper = stage.toUpperCase();
  for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', `AWS_${stageUpper}_PROFILE`, `AWS_${stageUpper}_ACCESS_KEY_ID`, `AWS_${stageUpper}_SECRET_ACCESS_KEY`, `AWS_${stageUpper}_SESSION_TOKEN`]) delete out[k];
  out.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  out.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  if (credentials.sessionToken) out.AWS_SESSION_TOKEN = credentials.sessionToken;
  else delete out.AWS_SESSION_TOKEN;
  return out;
}

export function invokeArgs(command: LifecycleCommand, stage: string, region: string, force: boolean): string[] {
  const args = [resolve('node_modules/serverless/bin/serverless.js'), 'invoke', '--function', command, '--stage', stage, '--region', region, '--log'];
  if (command === 'rotate' && force) args.push('--data', '{"force":true}');
  return args;
}

const serverlessInvoke = (args: string[], env: Env): number => spawnSync(process.execPath, args, { stdio: 'inherit', env: env as NodeJS.ProcessEnv }).status ?? 1;

async function deployed(command: LifecycleCommand, stage: string, options: LifecycleOptions, io: Io, deps: LifecycleDeps): Promise<number> {
  const profile = profileName(options.awsProfile, io.env);
  const credentials = await resolveCredentials((deps.credentials ?? defaultCredentialChain)(options.awsProfile), profile);
  const region = requireRegion(options.region, profile, io.env);
  const who = options.awsProfile || io.env.AWS_PROFILE ? `as profile ${profile}` : 'with the default credentials';
  io.err(`${command}: invoking the ${command} function of stage ${stage} in ${region} ${who}${command === 'rotate' && options.force ? ' (forced)' : ''}`);
  return (deps.invoke ?? serverlessInvoke)(invokeArgs(command, stage, region, Boolean(options.force)), invokeEnv(io.env, credentials, region, stage));
}

/** Runs `bootstrap` or `rotate` with its arguments; resolves to the exit status. */
export async function runLifecycle(argv: string[], deps: LifecycleDeps): Promise<number> {
  const io = deps.io ?? processIo();
  const [command, ...rest] = argv;
  if (command !== 'bootstrap' && command !== 'rotate') {
    io.err('usage: tsx scripts/lifecycle.ts bootstrap|rotate [--stage <stage>] [--region <region>] [--aws-profile <profile>] [--force]');
    return USAGE;
  }
  let exit: number = EXIT.OK;
  const program = lifecycleProgram(command, io, async (options) => {
    if (options.stage && options.stage !== 'local') {
      exit = await deployed(command, options.stage, options, io, deps);
      return;
    }
    if (options.region || options.awsProfile) io.err('note: --region and --aws-profile apply to a deployed stage; local mode uses .local/');
    exit = await deps.local(command, { force: Boolean(options.force) });
  });
  try {
    await program.parseAsync(rest, { from: 'user' });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : USAGE;
    if (e instanceof CliError) {
      io.err(`${command}: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
