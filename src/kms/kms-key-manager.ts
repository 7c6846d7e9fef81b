import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, type KMSClient, type KeySpec } from '@aws-sdk/client-kms';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../pki/errors.js';
import type { KeyManager, KeyReference } from '../service/ports.js';

export interface KmsKeyManagerOptions {
  keySpec: KeySpec;
  /** The key policy of a new key (see caKeyPolicy). */
  keyPolicy: (purpose: 'root' | 'issuing') => string;
  tags?: Record<string, string>;
}

const nameOf = (e: unknown) => (e as { name?: string })?.name ?? '';

/** A KMS key-administration failure as a domain error: SIGNER_UNAVAILABLE (retry later) or INTERNAL. */
export function keyAdminError(what: string, e: unknown): CaError {
  return isTransientAwsError(e)
    ? new CaError('SIGNER_UNAVAILABLE', 'AWS KMS is unavailable; retry later', { cause: e, retryAfterSeconds: 5 })
    : new CaError('INTERNAL', `KMS refused to ${what}`, { cause: e });
}

/**
 * CA keys in AWS KMS, found by alias. A new key is created with its key policy
 * and tags, then given its alias; when another run created the alias first,
 * theirs is used (the extra key stays, tagged with the alias it was meant for).
 * Keys are never deleted here.
 */
export function kmsKeyManager(client: KMSClient, options: KmsKeyManagerOptions): KeyManager {
  const findKey = async (alias: string): Promise<KeyReference | undefined> => {
    let meta;
    try {
      meta = (await client.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata;
    } catch (e) {
      if (nameOf(e) === 'NotFoundException') return undefined;
      throw keyAdminError(`describe ${alias}`, e);
    }
    if (!meta?.Arn || meta.KeyUsage !== 'SIGN_VERIFY' || meta.KeyState !== 'Enabled') {
      throw new CaError('INTERNAL', 'A CA key in KMS is not usable', {
        logDetail: `${alias}: usage ${meta?.KeyUsage}, state ${meta?.KeyState}`,
      });
    }
    return { kind: 'kms', keyId: meta.Arn };
  };
  return {
    findKey,
    async createKey(alias, purpose) {
      let arn: string | undefined;
      try {
        const out = await client.send(
          new CreateKeyCommand({
            KeyUsage: 'SIGN_VERIFY',
            KeySpec: options.keySpec,
            Description: `factory-ca ${purpose} CA key (${alias})`,
            Policy: options.keyPolicy(purpose),
            Tags: Object.entries({ ...options.tags, 'factory-ca:role': purpose, 'factory-ca:alias': alias }).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
          }),
        );
        arn = out.KeyMetadata?.Arn;
      } catch (e) {
        throw keyAdminError(`create a ${purpose} CA key`, e);
      }
      if (!arn) throw new CaError('INTERNAL', 'KMS created no key', { logDetail: 'CreateKey returned no KeyMetadata.Arn' });
      try {
        await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: arn }));
      } catch (e) {
        if (nameOf(e) !== 'AlreadyExistsException') throw keyAdminError(`create alias ${alias}`, e);
        const winner = await findKey(alias);
        if (winner) return winner;
        throw keyAdminError(`create alias ${alias}`, e);
      }
      return { kind: 'kms', keyId: arn };
    },
  };
}
