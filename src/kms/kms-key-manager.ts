import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  ListResourceTagsCommand,
  type KMSClient,
  type KeyMetadata,
  type KeySpec,
} from '@aws-sdk/client-kms';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../service/errors.js';
import type { KeyManager, KeyPurpose, KeyReference } from '../service/ports.js';
import { keyPolicyDifferences } from './key-policy.js';

type Purpose = KeyPurpose;

export interface KmsKeyManagerOptions {
  keySpec: KeySpec;
  /** The key policy of a new key (see caKeyPolicy); a key found by alias must grant signing as this one does. */
  keyPolicy: (purpose: Purpose) => string;
  /** Tags of every CA key; a key found by alias must carry them. */
  tags?: Record<string, string>;
}

const nameOf = (e: unknown) => (e as { name?: string })?.name ?? '';

/** A KMS key-administration failure as a domain error: SIGNER_UNAVAILABLE (retry later) or INTERNAL. */
export function keyAdminError(what: string, e: unknown): CaError {
  return isTransientAwsError(e)
    ? new CaError('SIGNER_UNAVAILABLE', 'AWS KMS is unavailable; retry later', { cause: e, retryAfterSeconds: 5 })
    : new CaError('INTERNAL', `KMS refused to ${what}`, { cause: e });
}

/** How a key's metadata differs from a key the CA creates (its own, in KMS, in this Region only). */
function originDifferences(meta: KeyMetadata): string[] {
  const out: string[] = [];
  if (meta.Origin !== 'AWS_KMS') out.push(`key material origin ${meta.Origin} (not generated in AWS KMS)`);
  if (meta.CustomKeyStoreId) out.push(`key in custom key store ${meta.CustomKeyStoreId}`);
  if (meta.MultiRegion) out.push('multi-Region key (its material is shared with keys elsewhere)');
  if (meta.KeyManager !== 'CUSTOMER') out.push(`key managed by ${meta.KeyManager}`);
  return out;
}

function tagDifferences(found: Record<string, string>, expected: Record<string, string>): string[] {
  return Object.entries(expected).flatMap(([key, value]) =>
    found[key] === undefined ? [`tag ${key} is missing`] : found[key] !== value ? [`tag ${key} is "${found[key]}", not "${value}"`] : [],
  );
}

/**
 * CA keys in AWS KMS, found by alias. A new key is created with its key policy
 * and tags, then given its alias; when another run created the alias first,
 * theirs is used (the extra key stays, tagged with the alias it was meant for).
 * A key found under an alias is used only if it is one the CA would have
 * created: the CA's tags, and a key policy letting exactly the CA's roles sign.
 * Anyone able to create keys and aliases could otherwise prepare a key they can
 * sign with under the next alias and have a rotation adopt it.
 * Keys are never deleted here.
 */
export function kmsKeyManager(client: KMSClient, options: KmsKeyManagerOptions): KeyManager {
  const tagsFor = (alias: string, purpose: Purpose) => ({ ...options.tags, 'factory-ca:role': purpose, 'factory-ca:alias': alias });

  async function tagsOf(keyId: string, alias: string): Promise<Record<string, string>> {
    const tags: Record<string, string> = {};
    let marker: string | undefined;
    do {
      let out;
      try {
        out = await client.send(new ListResourceTagsCommand({ KeyId: keyId, ...(marker ? { Marker: marker } : {}) }));
      } catch (e) {
        throw keyAdminError(`list the tags of ${alias}`, e);
      }
      for (const t of out.Tags ?? []) if (t.TagKey !== undefined) tags[t.TagKey] = t.TagValue ?? '';
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    return tags;
  }

  async function policyOf(keyId: string, alias: string): Promise<string> {
    try {
      return (await client.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy ?? '';
    } catch (e) {
      throw keyAdminError(`read the key policy of ${alias}`, e);
    }
  }

  const findKey = async (alias: string, purpose: Purpose): Promise<KeyReference | undefined> => {
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
    // Read by key ARN: what is checked is the key described, whatever the alias points at meanwhile.
    const differences = [
      ...originDifferences(meta),
      ...tagDifferences(await tagsOf(meta.Arn, alias), tagsFor(alias, purpose)),
      ...keyPolicyDifferences(await policyOf(meta.Arn, alias), options.keyPolicy(purpose)),
    ];
    if (differences.length) {
      throw new CaError('INTERNAL', 'The key under a CA key alias is not one the CA created; an operator must check it', {
        logDetail: `${alias} (${meta.Arn}): ${differences.join('; ')}`,
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
            // Checkpoints are signed notes of type 0x02: ECDSA P-256 only, whatever the CA keys are.
            KeySpec: purpose === 'log' ? 'ECC_NIST_P256' : options.keySpec,
            Description: purpose === 'log' ? `factory-ca issuance log key (${alias})` : `factory-ca ${purpose} CA key (${alias})`,
            Policy: options.keyPolicy(purpose),
            Tags: Object.entries(tagsFor(alias, purpose)).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
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
        // Another run named its key first: use it only if it passes the same checks as any key found.
        const winner = await findKey(alias, purpose);
        if (winner) return winner;
        throw keyAdminError(`create alias ${alias}`, e);
      }
      return { kind: 'kms', keyId: arn };
    },
    async disableKey(key) {
      if (key.kind !== 'kms') throw new CaError('INTERNAL', 'A CA key is not in KMS', { logDetail: `disableKey: ${JSON.stringify(key)}` });
      try {
        await client.send(new DisableKeyCommand({ KeyId: key.keyId }));
      } catch (e) {
        // A key pending deletion (or gone) signs nothing already: what disabling is for. A disabled key is disabled again without error.
        if (nameOf(e) === 'KMSInvalidStateException' || nameOf(e) === 'NotFoundException') return;
        throw keyAdminError(`disable ${key.keyId}`, e);
      }
    },
  };
}
