/**
 * AWS identity for the command line: which profile, which region, which
 * credentials. Credentials come from the SDK's own default chain (environment,
 * shared files, SSO, credential_process, web identity, container and instance
 * roles); the region is found the way the AWS CLI finds it.
 */
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { CliError, EXIT } from './errors.js';

export type Env = Record<string, string | undefined>;

/** A source of AWS credentials, as the SDK's providers are. */
export type CredentialProvider = () => Promise<Credentials>;
export type Credentials = Awaited<ReturnType<ReturnType<typeof fromNodeProviderChain>>>;

/** The profile a command acts as: --aws-profile, else AWS_PROFILE, else `default`. */
export function profileName(explicit: string | undefined, env: Env): string {
  return explicit || env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
}

/** One section of an INI file as key → value (top-level keys only). */
function iniSection(text: string, section: string): Record<string, string> | undefined {
  let current: string | undefined;
  let found: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s*[#;].*$/, '');
    const header = /^\s*\[\s*([^\]]+?)\s*\]\s*$/.exec(line);
    if (header) {
      current = header[1]!.replace(/\s+/g, ' ');
      if (current === section) found ??= {};
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line); // indented lines are sub-properties: not matched
    if (kv && current === section && found) found[kv[1]!.toLowerCase()] = kv[2]!;
  }
  return found;
}

/** The `region` of a profile in the shared config file (AWS_CONFIG_FILE or ~/.aws/config). */
export function profileRegion(profile: string, env: Env): string | undefined {
  let text: string;
  try {
    text = readFileSync(env.AWS_CONFIG_FILE || join(env.HOME || homedir(), '.aws', 'config'), 'utf8');
  } catch {
    return undefined;
  }
  const section = profile === 'default' ? (iniSection(text, 'default') ?? iniSection(text, 'profile default')) : iniSection(text, `profile ${profile}`);
  return section?.region || undefined;
}

/** The region as the AWS CLI resolves it: explicit, AWS_REGION, AWS_DEFAULT_REGION, then the profile's. */
export function resolveRegion(explicit: string | undefined, profile: string, env: Env): string | undefined {
  return explicit || env.AWS_REGION || env.AWS_DEFAULT_REGION || profileRegion(profile, env);
}

export function requireRegion(explicit: string | undefined, profile: string, env: Env, hint = '--region <region>'): string {
  const region = resolveRegion(explicit, profile, env);
  if (!region) {
    throw new CliError(
      EXIT.FAILED,
      `no AWS region: give ${hint}, set AWS_REGION, or set a region for profile ${profile} (aws configure --profile ${profile})`,
    );
  }
  return region;
}

/** Asks for an MFA code on the terminal (profiles with mfa_serial). */
async function askMfaCode(serial: string): Promise<string> {
  if (!process.stdin.isTTY) throw new Error(`profile needs an MFA code for ${serial}, and there is no terminal to ask it on`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`MFA code for ${serial}: `)).trim();
  } finally {
    rl.close();
  }
}

/** The SDK's default credential chain, acting as `profile` when one is named. */
export function defaultCredentialChain(profile: string | undefined): CredentialProvider {
  return fromNodeProviderChain({ ...(profile ? { profile } : {}), mfaCodeProvider: askMfaCode });
}

const GENERIC = /Could not load credentials from any providers/;

/**
 * Resolves credentials now, so that a missing identity is said plainly before
 * anything else is attempted.
 */
export async function resolveCredentials(provider: CredentialProvider, profile: string): Promise<Credentials> {
  try {
    return await provider();
  } catch (e) {
    const detail = e instanceof Error && !GENERIC.test(e.message) ? `\n  (${e.message})` : '';
    throw new CliError(
      EXIT.FAILED,
      `no AWS credentials found for profile ${profile}: run aws configure / aws sso login, or set AWS_PROFILE${detail}`,
    );
  }
}

/** The region of an API Gateway endpoint URL (`https://<id>.execute-api.<region>.amazonaws.com/...`), if it is one. */
export function apiGatewayRegion(url: URL): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/i.exec(url.hostname)?.[1]?.toLowerCase();
}
