/**
 * An in-process stand-in for AWS KMS asymmetric signing keys, for tests that
 * must never reach AWS.
 *
 * The fake signs for real, the way KMS does with `MessageType: 'DIGEST'`:
 * - ECDSA: the digest is signed as is (no second hash) with @noble/curves and
 *   the signature is returned as a DER ECDSA-Sig-Value, as KMS returns it
 *   (node:crypto cannot sign a precomputed digest);
 * - RSASSA_PKCS1_V1_5_*: EMSA-PKCS1-v1_5 over DigestInfo(hash) || digest via
 *   `privateEncrypt` with PKCS#1 v1.5 padding.
 * It checks what KMS checks: the key exists (by key id, key ARN or alias), its
 * usage is SIGN_VERIFY, the algorithm is one the key supports, and the digest
 * length matches the algorithm's hash. Keys carry a key policy and tags
 * (GetKeyPolicy, ListResourceTags), so a test can plant a key that is not the CA's.
 *
 * Two transports over the same fake keys:
 * - `installKmsFake` / `FakeKms.install`: aws-sdk-client-mock handlers on a
 *   KMSClient's `send`, each typed with its command's input and output (fast;
 *   the SDK middleware, including its retries, is bypassed);
 * - `FakeKms.httpHandler()`: a request handler speaking the KMS JSON wire
 *   protocol, for a real KMSClient whose serializers, error deserialisation and
 *   retry strategy should run (`new KMSClient({ requestHandler: kms.httpHandler() })`).
 */
import { constants, createPublicKey, generateKeyPairSync, privateEncrypt, randomUUID, type KeyObject } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListResourceTagsCommand,
  KMSServiceException,
  SignCommand,
  type CreateAliasCommandInput,
  type CreateAliasCommandOutput,
  type CreateKeyCommandInput,
  type CreateKeyCommandOutput,
  type DescribeKeyCommandInput,
  type DescribeKeyCommandOutput,
  type DisableKeyCommandInput,
  type DisableKeyCommandOutput,
  type GetKeyPolicyCommandInput,
  type GetKeyPolicyCommandOutput,
  type GetPublicKeyCommandInput,
  type GetPublicKeyCommandOutput,
  type KMSClientConfig,
  type KeySpec,
  type KeyUsageType,
  type ListResourceTagsCommandInput,
  type ListResourceTagsCommandOutput,
  type OriginType,
  type SignCommandInput,
  type SignCommandOutput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { p256, p384, p521 } from '@noble/curves/nist';
import { secp256k1 } from '@noble/curves/secp256k1';
import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import { answerAll, offlineClientConfig, type CommandCall, type CommandHandlers, type CommandInputs } from './aws-sdk-fake.js';

export const FAKE_KMS_REGION = 'us-east-1';
export const FAKE_KMS_ACCOUNT = '111122223333';

/** The key ARN KMS reports for a key id. */
export const kmsKeyArn = (keyId: string): string => `arn:aws:kms:${FAKE_KMS_REGION}:${FAKE_KMS_ACCOUNT}:key/${keyId}`;

/** The hash each signing algorithm applies (and so the digest length KMS expects with MessageType DIGEST). */
export const KMS_DIGEST_OF: Partial<Record<SigningAlgorithmSpec, { hash: 'sha256' | 'sha384' | 'sha512'; length: number }>> = {
  ECDSA_SHA_256: { hash: 'sha256', length: 32 },
  ECDSA_SHA_384: { hash: 'sha384', length: 48 },
  ECDSA_SHA_512: { hash: 'sha512', length: 64 },
  RSASSA_PKCS1_V1_5_SHA_256: { hash: 'sha256', length: 32 },
  RSASSA_PKCS1_V1_5_SHA_384: { hash: 'sha384', length: 48 },
  RSASSA_PKCS1_V1_5_SHA_512: { hash: 'sha512', length: 64 },
};

/** DER DigestInfo prefixes (RFC 8017 9.2 note 1). */
const DIGEST_INFO_PREFIX: Record<'sha256' | 'sha384' | 'sha512', Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

const EC_CURVES = { ECC_NIST_P256: p256, ECC_NIST_P384: p384, ECC_NIST_P521: p521, ECC_SECG_P256K1: secp256k1 } as const;

/** The KMS key spec of a node private (or public) key. */
export function kmsKeySpecOf(key: KeyObject): KeySpec {
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits === 2048) return 'RSA_2048';
    if (bits === 3072) return 'RSA_3072';
    if (bits === 4096) return 'RSA_4096';
  }
  if (key.asymmetricKeyType === 'ec') {
    switch (key.asymmetricKeyDetails?.namedCurve) {
      case 'prime256v1':
        return 'ECC_NIST_P256';
      case 'secp384r1':
        return 'ECC_NIST_P384';
      case 'secp521r1':
        return 'ECC_NIST_P521';
      case 'secp256k1':
        return 'ECC_SECG_P256K1';
    }
  }
  throw new Error(`kms-fake: no KMS key spec for ${key.asymmetricKeyType} ${JSON.stringify(key.asymmetricKeyDetails)}`);
}

/** The signing algorithms KMS lists for a key spec (PSS is listed by KMS but not implemented by this fake). */
export function kmsSigningAlgorithmsOf(spec: KeySpec): SigningAlgorithmSpec[] {
  switch (spec) {
    case 'ECC_NIST_P256':
    case 'ECC_SECG_P256K1':
      return ['ECDSA_SHA_256'];
    case 'ECC_NIST_P384':
      return ['ECDSA_SHA_384'];
    case 'ECC_NIST_P521':
      return ['ECDSA_SHA_512'];
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return [
        'RSASSA_PSS_SHA_256',
        'RSASSA_PSS_SHA_384',
        'RSASSA_PSS_SHA_512',
        'RSASSA_PKCS1_V1_5_SHA_256',
        'RSASSA_PKCS1_V1_5_SHA_384',
        'RSASSA_PKCS1_V1_5_SHA_512',
      ];
    default:
      return [];
  }
}

/** An error shaped like the ones the KMS client throws (name, $fault, $metadata). */
export function kmsError(name: string, message = `${name} (fake KMS)`, fault: 'client' | 'server' = 'client', httpStatusCode = 400): KMSServiceException {
  return new KMSServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode, requestId: randomUUID() } });
}

/**
 * Signs a precomputed digest as KMS Sign does with MessageType DIGEST. Returns
 * the signature bytes KMS would return (DER ECDSA-Sig-Value for ECDSA).
 */
export function kmsSignDigest(privateKey: KeyObject, algorithm: SigningAlgorithmSpec, digest: Uint8Array): Uint8Array {
  const spec = kmsKeySpecOf(privateKey);
  const expected = KMS_DIGEST_OF[algorithm];
  if (!expected || !kmsSigningAlgorithmsOf(spec).includes(algorithm)) {
    throw kmsError('InvalidKeyUsageException', `fake KMS: ${algorithm} is not supported for ${spec}`);
  }
  if (digest.length !== expected.length) {
    throw kmsError('ValidationException', `fake KMS: digest of ${digest.length} bytes for ${algorithm} (expects ${expected.length})`);
  }
  if (privateKey.asymmetricKeyType === 'rsa') {
    return new Uint8Array(
      privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO_PREFIX[expected.hash], digest])),
    );
  }
  const curve = EC_CURVES[spec as keyof typeof EC_CURVES];
  const d = privateKey.export({ format: 'jwk' }).d;
  if (!curve || !d) throw new Error(`fake KMS: cannot sign with ${spec}`);
  return curve.sign(digest, Buffer.from(d, 'base64url'), { prehash: false, lowS: false }).toBytes('der');
}

export interface FakeKmsKeyOptions {
  /** Key id (a UUID by default). The key is found by this id, by its ARN and by its aliases. */
  keyId?: string;
  /** Alias names ("alias/…") that resolve to this key. */
  aliases?: string[];
  /** What GetPublicKey reports; defaults follow the key (override to simulate an unsuitable key). */
  keySpec?: KeySpec;
  keyUsage?: KeyUsageType;
  signingAlgorithms?: SigningAlgorithmSpec[] | undefined;
  /** The key policy (JSON); without one, KMS's default key policy (the account may do everything). */
  policy?: string;
  tags?: Record<string, string>;
  /** Where the key material comes from (AWS_KMS by default; EXTERNAL is imported material). */
  origin?: OriginType;
  multiRegion?: boolean;
}

/** The key policy KMS gives a key created without one: the account may do everything, through IAM. */
export const kmsDefaultKeyPolicy = (): string =>
  JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${FAKE_KMS_ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
    ],
  });

export interface FakeKmsKey {
  keyId: string;
  arn: string;
  aliases: string[];
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER, as GetPublicKey returns it. */
  publicKeyDer: Uint8Array;
  keySpec: KeySpec;
  keyUsage: KeyUsageType;
  signingAlgorithms: SigningAlgorithmSpec[] | undefined;
  /** As given to CreateKey or addKey (GetKeyPolicy answers KMS's default key policy when there is none). */
  policy?: string;
  tags?: Record<string, string>;
  origin: OriginType;
  multiRegion: boolean;
  /** KMS key state; DescribeKey reports it and Sign refuses anything but Enabled. */
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
}

/** The commands the fake answers (through `install`). */
export const FAKE_KMS_COMMANDS = {
  GetPublicKey: GetPublicKeyCommand,
  Sign: SignCommand,
  CreateKey: CreateKeyCommand,
  CreateAlias: CreateAliasCommand,
  DescribeKey: DescribeKeyCommand,
  DisableKey: DisableKeyCommand,
  GetKeyPolicy: GetKeyPolicyCommand,
  ListResourceTags: ListResourceTagsCommand,
};

export type FakeKmsOperation = keyof typeof FAKE_KMS_COMMANDS;

export type FakeKmsInputs = CommandInputs<typeof FAKE_KMS_COMMANDS>;
export type FakeKmsCall = CommandCall<typeof FAKE_KMS_COMMANDS>;

/** A new private key of a KMS key spec (the ones a CA may use). */
function generateForSpec(spec: KeySpec): KeyObject {
  switch (spec) {
    case 'ECC_NIST_P256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ECC_NIST_P384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) }).privateKey;
    default:
      throw kmsError('UnsupportedOperationException', `fake KMS does not create ${spec} keys`);
  }
}

const metadata = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });

/** A set of fake KMS signing keys: what a KMS signer needs, and the key administration of the CA lifecycle (create, name, inspect). */
export class FakeKms implements CommandHandlers<typeof FAKE_KMS_COMMANDS> {
  readonly keys: FakeKmsKey[] = [];
  /** Every call that reached the fake (after any injected failure), in order. */
  readonly calls: FakeKmsCall[] = [];
  private readonly failures: Record<FakeKmsOperation, Error[]> = {
    GetPublicKey: [],
    Sign: [],
    CreateKey: [],
    CreateAlias: [],
    DescribeKey: [],
    DisableKey: [],
    GetKeyPolicy: [],
    ListResourceTags: [],
  };

  /** Adds a key backed by a node private key. */
  addKey(privateKey: KeyObject, options: FakeKmsKeyOptions = {}): FakeKmsKey {
    if (privateKey.type !== 'private') throw new Error('kms-fake: addKey needs a private key');
    const keySpec = options.keySpec ?? kmsKeySpecOf(privateKey);
    const keyId = options.keyId ?? randomUUID();
    const key: FakeKmsKey = {
      keyId,
      arn: kmsKeyArn(keyId),
      aliases: options.aliases ?? [],
      privateKey,
      publicKeyDer: new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })),
      keySpec,
      keyUsage: options.keyUsage ?? 'SIGN_VERIFY',
      signingAlgorithms: 'signingAlgorithms' in options ? options.signingAlgorithms : kmsSigningAlgorithmsOf(keySpec),
      state: 'Enabled',
      origin: options.origin ?? 'AWS_KMS',
      multiRegion: options.multiRegion ?? false,
      ...(options.policy !== undefined ? { policy: options.policy } : {}),
      ...(options.tags ? { tags: { ...options.tags } } : {}),
    };
    this.keys.push(key);
    return key;
  }

  /** The next `times` calls of `operation` fail with `error` (queued after earlier injected failures). */
  failNext(operation: FakeKmsOperation, error: Error, times = 1): this {
    for (let i = 0; i < times; i++) this.failures[operation].push(error);
    return this;
  }

  /** Calls of one operation that reached the fake. */
  callsOf<K extends FakeKmsOperation>(operation: K): Array<FakeKmsInputs[K]> {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.input as FakeKmsInputs[K]);
  }

  /** Finds a key as KMS does: by key id, key ARN, alias name or alias ARN. */
  find(keyId: string | undefined): FakeKmsKey {
    const aliasArn = (alias: string) => `arn:aws:kms:${FAKE_KMS_REGION}:${FAKE_KMS_ACCOUNT}:${alias}`;
    const key = this.keys.find(
      (k) => k.keyId === keyId || k.arn === keyId || k.aliases.some((a) => a === keyId || aliasArn(a) === keyId),
    );
    if (!key) throw kmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  private failure(operation: FakeKmsOperation): void {
    const error = this.failures[operation].shift();
    if (error) throw error;
  }

  getPublicKey(input: GetPublicKeyCommandInput): GetPublicKeyCommandOutput {
    this.failure('GetPublicKey');
    this.calls.push({ operation: 'GetPublicKey', input });
    const key = this.find(input.KeyId);
    return {
      $metadata: metadata(),
      KeyId: key.arn,
      PublicKey: key.publicKeyDer.slice(),
      KeySpec: key.keySpec,
      CustomerMasterKeySpec: key.keySpec as GetPublicKeyCommandOutput['CustomerMasterKeySpec'],
      KeyUsage: key.keyUsage,
      ...(key.signingAlgorithms ? { SigningAlgorithms: [...key.signingAlgorithms] } : {}),
      ...(key.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: ['RSAES_OAEP_SHA_256'] } : {}),
    };
  }

  /** CreateKey: a real key of the requested spec, with its policy and tags kept for assertions. */
  createKey(input: CreateKeyCommandInput): CreateKeyCommandOutput {
    this.failure('CreateKey');
    this.calls.push({ operation: 'CreateKey', input });
    if (input.KeyUsage !== 'SIGN_VERIFY') throw kmsError('ValidationException', `fake KMS creates signing keys only, got ${input.KeyUsage}`);
    if (input.Policy !== undefined) {
      try {
        JSON.parse(input.Policy);
      } catch {
        throw kmsError('MalformedPolicyDocumentException', 'key policy is not JSON');
      }
    }
    const key = this.addKey(generateForSpec(input.KeySpec ?? 'SYMMETRIC_DEFAULT'));
    if (input.Policy !== undefined) key.policy = input.Policy;
    key.tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.TagKey!, t.TagValue!]));
    return { $metadata: metadata(), KeyMetadata: this.metadataOf(key) };
  }

  /** CreateAlias: alias names are unique in the account. */
  createAlias(input: CreateAliasCommandInput): CreateAliasCommandOutput {
    this.failure('CreateAlias');
    this.calls.push({ operation: 'CreateAlias', input });
    const alias = input.AliasName ?? '';
    if (!alias.startsWith('alias/') || alias.startsWith('alias/aws/')) throw kmsError('ValidationException', `invalid alias name ${alias}`);
    if (this.keys.some((k) => k.aliases.includes(alias))) throw kmsError('AlreadyExistsException', `An alias with the name ${alias} already exists`);
    this.find(input.TargetKeyId).aliases.push(alias);
    return { $metadata: metadata() };
  }

  /** DisableKey: the key stays, but signs nothing until enabled again. */
  disableKey(input: DisableKeyCommandInput): DisableKeyCommandOutput {
    this.failure('DisableKey');
    this.calls.push({ operation: 'DisableKey', input });
    const key = this.find(input.KeyId);
    // As KMS: Enabled or Disabled become Disabled; a key pending deletion is in no state to change.
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion`);
    key.state = 'Disabled';
    return { $metadata: metadata() };
  }

  describeKey(input: DescribeKeyCommandInput): DescribeKeyCommandOutput {
    this.failure('DescribeKey');
    this.calls.push({ operation: 'DescribeKey', input });
    return { $metadata: metadata(), KeyMetadata: this.metadataOf(this.find(input.KeyId)) };
  }

  /** GetKeyPolicy: the one policy a key has, named "default". */
  getKeyPolicy(input: GetKeyPolicyCommandInput): GetKeyPolicyCommandOutput {
    this.failure('GetKeyPolicy');
    this.calls.push({ operation: 'GetKeyPolicy', input });
    const key = this.find(input.KeyId);
    if ((input.PolicyName ?? 'default') !== 'default') throw kmsError('NotFoundException', `No such key policy ${input.PolicyName}`);
    return { $metadata: metadata(), Policy: key.policy ?? kmsDefaultKeyPolicy(), PolicyName: 'default' };
  }

  /** ListResourceTags, in pages of `Limit` (50 by default) with a numeric marker. */
  listResourceTags(input: ListResourceTagsCommandInput): ListResourceTagsCommandOutput {
    this.failure('ListResourceTags');
    this.calls.push({ operation: 'ListResourceTags', input });
    const tags = Object.entries(this.find(input.KeyId).tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    const from = Number(input.Marker ?? 0);
    const to = from + (input.Limit ?? 50);
    return { $metadata: metadata(), Tags: tags.slice(from, to), Truncated: to < tags.length, ...(to < tags.length ? { NextMarker: String(to) } : {}) };
  }

  private metadataOf(key: FakeKmsKey): NonNullable<DescribeKeyCommandOutput['KeyMetadata']> {
    return {
      KeyId: key.keyId,
      Arn: key.arn,
      KeyUsage: key.keyUsage,
      KeySpec: key.keySpec,
      KeyState: key.state,
      Enabled: key.state === 'Enabled',
      KeyManager: 'CUSTOMER',
      Origin: key.origin,
      MultiRegion: key.multiRegion,
      ...(key.signingAlgorithms ? { SigningAlgorithms: [...key.signingAlgorithms] } : {}),
    };
  }

  sign(input: SignCommandInput): SignCommandOutput {
    this.failure('Sign');
    this.calls.push({ operation: 'Sign', input });
    const key = this.find(input.KeyId);
    if (key.state !== 'Enabled') throw kmsError(key.state === 'Disabled' ? 'DisabledException' : 'KMSInvalidStateException', `${key.arn} is ${key.state}`);
    if (key.keyUsage !== 'SIGN_VERIFY') throw kmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage}`);
    if (input.MessageType !== 'DIGEST') {
      throw kmsError('ValidationException', `fake KMS signs digests only, got MessageType ${input.MessageType}`);
    }
    const algorithm = input.SigningAlgorithm;
    if (!algorithm || !key.signingAlgorithms?.includes(algorithm)) {
      throw kmsError('InvalidKeyUsageException', `${algorithm} is not a signing algorithm of ${key.arn}`);
    }
    if (!input.Message) throw kmsError('ValidationException', 'Message is required');
    return {
      $metadata: metadata(),
      KeyId: key.arn,
      Signature: kmsSignDigest(key.privateKey, algorithm, input.Message),
      SigningAlgorithm: algorithm,
    };
  }

  /** Routes a KMSClient's `send` (via aws-sdk-client-mock) to this fake. */
  install(client: KMSClient = newFakeKmsClient()): { client: KMSClient; mock: AwsClientStub<KMSClient> } {
    const mock = mockClient(client);
    answerAll(mock, FAKE_KMS_COMMANDS, this);
    return { client, mock };
  }

  /**
   * A request handler that answers the KMS JSON protocol (TrentService.GetPublicKey
   * and TrentService.Sign) from this fake, so a real KMSClient runs its whole
   * middleware stack (serialisation, signing, error parsing, retries) without a network.
   * `requests` counts every HTTP request it received (retries included).
   */
  httpHandler(): FakeKmsHttpHandler {
    const handler: FakeKmsHttpHandler = {
      requests: 0,
      handle: async (request: HttpRequest) => {
        handler.requests++;
        const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'];
        const raw: unknown = request.body;
        const text =
          raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8') : String(raw ?? '{}');
        const body = JSON.parse(text) as Record<string, unknown>;
        try {
          if (target === 'TrentService.GetPublicKey') {
            const out = this.getPublicKey({ KeyId: body.KeyId as string });
            return jsonResponse(200, {
              KeyId: out.KeyId,
              PublicKey: Buffer.from(out.PublicKey!).toString('base64'),
              KeySpec: out.KeySpec,
              CustomerMasterKeySpec: out.CustomerMasterKeySpec,
              KeyUsage: out.KeyUsage,
              SigningAlgorithms: out.SigningAlgorithms,
              EncryptionAlgorithms: out.EncryptionAlgorithms,
            });
          }
          if (target === 'TrentService.Sign') {
            const out = this.sign({
              KeyId: body.KeyId as string,
              Message: typeof body.Message === 'string' ? new Uint8Array(Buffer.from(body.Message, 'base64')) : undefined,
              MessageType: body.MessageType as SignCommandInput['MessageType'],
              SigningAlgorithm: body.SigningAlgorithm as SigningAlgorithmSpec,
            });
            return jsonResponse(200, { KeyId: out.KeyId, Signature: Buffer.from(out.Signature!).toString('base64'), SigningAlgorithm: out.SigningAlgorithm });
          }
          return jsonResponse(400, { __type: 'UnknownOperationException', message: `fake KMS does not implement ${String(target)}` });
        } catch (e) {
          const err = e as { name?: string; message?: string; $fault?: string };
          return jsonResponse(err.$fault === 'server' ? 500 : 400, { __type: err.name ?? 'InternalFailure', message: err.message ?? '' });
        }
      },
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    };
    return handler;
  }
}

export type FakeKmsHttpHandler = RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> & {
  requests: number;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, never>;
};

function jsonResponse(statusCode: number, body: unknown): { response: HttpResponse } {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  return {
    response: {
      statusCode,
      reason: statusCode === 200 ? 'OK' : 'Error',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': String(bytes.length),
        'x-amzn-requestid': randomUUID(),
      },
      body: new Uint8Array(bytes),
    },
  };
}

/**
 * A KMSClient that can never reach AWS: dummy credentials, and a request handler
 * that fails if a call ever gets past the mock. `maxAttempts` defaults to 1.
 */
export function newFakeKmsClient(config: KMSClientConfig = {}): KMSClient {
  return new KMSClient({ ...offlineClientConfig('kms-fake', FAKE_KMS_REGION), ...config });
}

export interface InstalledKmsFake {
  kms: FakeKms;
  key: FakeKmsKey;
  client: KMSClient;
  mock: AwsClientStub<KMSClient>;
  /** Puts the client's original `send` back. */
  restore(): void;
}

/**
 * Fakes one KMS signing key behind a KMSClient: installs aws-sdk-client-mock
 * handlers for GetPublicKeyCommand and SignCommand on `options.client` (a new
 * client with maxAttempts 1 by default). Add more keys with `kms.addKey`.
 */
export function installKmsFake(privateKey: KeyObject, options: FakeKmsKeyOptions & { client?: KMSClient } = {}): InstalledKmsFake {
  const { client: given, ...keyOptions } = options;
  const kms = new FakeKms();
  const key = kms.addKey(privateKey, keyOptions);
  const { client, mock } = kms.install(given);
  return { kms, key, client, mock, restore: () => mock.restore() };
}
