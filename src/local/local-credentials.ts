/**
 * The credentials of local SigV4 mode: one access key and secret, made on the
 * first `LOCAL_AUTH=sigv4 npm start` and kept in `<state dir>/credentials` as an
 * AWS shared-credentials file (profile `factory-ca-local`, mode 0600), so the
 * AWS CLI, curl, botocore and the factory-ca CLI sign with them unchanged.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCredentials } from '../http/sigv4.js';

export const LOCAL_PROFILE = 'factory-ca-local';
/** The region local mode's signatures are scoped to. */
export const LOCAL_SIGNING_REGION = 'us-east-1';
export const credentialsFile = (stateDir: string) => join(stateDir, 'credentials');

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Reads the profile from the credentials file; undefined when there is none. */
export function readLocalCredentials(stateDir: string): LocalCredentials | undefined {
  const file = credentialsFile(stateDir);
  if (!existsSync(file)) return undefined;
  let section = '';
  const values: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const s = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (s) section = s[1]!.trim();
    const kv = /^\s*([a-z_]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (kv && section === LOCAL_PROFILE) values[kv[1]!] = kv[2]!;
  }
  const { aws_access_key_id: accessKeyId, aws_secret_access_key: secretAccessKey } = values;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, region: LOCAL_SIGNING_REGION } : undefined;
}

/** The local credentials, made (once, exclusively) when the file does not exist yet. */
export function ensureLocalCredentials(stateDir: string): LocalCredentials {
  const existing = readLocalCredentials(stateDir);
  if (existing) return existing;
  const id = Array.from(randomBytes(16), (b) => ALPHABET[b % 32]).join('');
  const accessKeyId = `AKIALOCAL${id}`.slice(0, 20);
  const secretAccessKey = randomBytes(30).toString('base64');
  const text = `# factory-ca local SigV4 mode (LOCAL_AUTH=sigv4 npm start)\n[${LOCAL_PROFILE}]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\nregion = ${LOCAL_SIGNING_REGION}\n`;
  try {
    writeFileSync(credentialsFile(stateDir), text, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readLocalCredentials(stateDir)!;
}
