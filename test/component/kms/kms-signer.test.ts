import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { DisabledException, KMSClient, SignCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { createKmsSigner } from '../../../src/kms/kms-signer.js';
import { CaError } from '../../../src/service/errors.js';
import type { SigningAlgorithm } from '../../../src/pki/algorithms.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { deviceValidity } from '../../../src/pki/validity.js';
import { parseCsr, verifyCsr } from '../../../src/pki/csr.js';
import { newSerial } from '../../../src/pki/serial.js';
import { toPem } from '../../../src/pki/pem.js';
import { x509 } from '../../../src/pki/x509.js';
import { createIssuingCa, createRootCa, type CaKey } from '../../../src/service/ca-setup.js';
import type { CaRecord } from '../../../src/service/ports.js';
import { FakeKms, installKmsFake, kmsError, kmsSignDigest, newFakeKmsClient, type InstalledKmsFake } from '../../helpers/kms-fake.js';
import { csrFixture } from '../../helpers/fixtures.js';
import { opensslVerify } from '../../helpers/openssl.js';

type KeyName = 'P-256' | 'P-384' | 'RSA-2048';

const keys = {} as Record<KeyName, KeyObject>;
beforeAll(() => {
  keys['P-256'] = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  keys['P-384'] = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  keys['RSA-2048'] = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
});

const CASES: Array<[KeyName, SigningAlgorithm, 'sha256' | 'sha384', number]> = [
  ['P-256', 'ECDSA_SHA_256', 'sha256', 32],
  ['P-384', 'ECDSA_SHA_384', 'sha384', 48],
  ['RSA-2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256', 32],
];

const naming = { organization: 'Example Corp', country: 'US' };
const clock = () => new Date();
const spkiOf = (key: KeyObject) => new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));

/** Verifies a signature as X.509 carries it (DER ECDSA-Sig-Value, or PKCS#1 v1.5). */
const verifies = (hash: string, key: KeyObject, data: Uint8Array, signature: Uint8Array) =>
  verify(hash, data, { key: createPublicKey(key), dsaEncoding: 'der' }, signature);

/** The rejection of a promise (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<CaError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(CaError);
    return e as CaError;
  }
  throw new Error('expected a rejection');
}

let fake: InstalledKmsFake | undefined;
const install = (key: KeyObject, options: Parameters<typeof installKmsFake>[1] = {}) => (fake = installKmsFake(key, options));
afterEach(() => {
  fake?.restore();
  fake = undefined;
  jest.restoreAllMocks();
});

describe('Function: createKmsSigner', () => {
  it.each(CASES)('reads the %s public key with one GetPublicKey however many signatures follow', async (name) => {
    // Prepare
    const { client, mock, key } = install(keys[name]);

    // Act
    const signer = await createKmsSigner(client, key.keyId);
    for (let i = 0; i < 5; i++) await signer.sign(Buffer.from(`tbs ${i}`));

    // Assess
    expect(mock.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    expect(mock.commandCalls(GetPublicKeyCommand)[0]!.args[0].input).toEqual({ KeyId: key.keyId });
    expect(mock.commandCalls(SignCommand)).toHaveLength(5);
    expect(Buffer.from(signer.publicKey).equals(Buffer.from(spkiOf(keys[name])))).toBe(true);
  });

  it.each(CASES)('gives a %s key the algorithm %s', async (name, algorithm) => {
    // Prepare
    const { client, key } = install(keys[name]);

    // Act
    const signer = await createKmsSigner(client, key.keyId);

    // Assess
    expect(signer.algorithm).toBe(algorithm);
  });

  it.each(CASES)('signs with a %s key (%s) by sending the %s digest of the TBS (%i bytes) as MessageType DIGEST', async (name, algorithm, hash, length) => {
    // Prepare
    const { client, mock, key } = install(keys[name], { aliases: ['alias/factory-ca-issuing'] });
    const tbs = new Uint8Array(Buffer.from('a TBSCertificate that never leaves the service'.repeat(20)));

    // Act
    const signer = await createKmsSigner(client, 'alias/factory-ca-issuing');
    const signature = await signer.sign(tbs);

    // Assess
    const input = mock.commandCalls(SignCommand)[0]!.args[0].input;
    expect(input.MessageType).toBe('DIGEST');
    expect(input.SigningAlgorithm).toBe(algorithm);
    expect(input.Message).toHaveLength(length);
    expect(Buffer.from(input.Message!).equals(createHash(hash).update(tbs).digest())).toBe(true);
    // The key ARN GetPublicKey resolved, not the alias the signer was created with.
    expect(input.KeyId).toBe(key.arn);
    expect(verifies(hash, keys[name], tbs, signature)).toBe(true);
  });

  it('passes the bytes it is given, not a copy of a larger buffer they are a view of', async () => {
    // Prepare
    const { client, mock, key } = install(keys['P-256']);
    const backing = Buffer.from('HEADER|the tbs|TRAILER');
    const tbs = new Uint8Array(backing.buffer, backing.byteOffset + 7, 7);

    // Act
    const signer = await createKmsSigner(client, key.keyId);
    const signature = await signer.sign(tbs);

    // Assess
    const message = mock.commandCalls(SignCommand)[0]!.args[0].input.Message!;
    expect(Buffer.from(message).equals(createHash('sha256').update('the tbs').digest())).toBe(true);
    expect(verifies('sha256', keys['P-256'], Buffer.from('the tbs'), signature)).toBe(true);
  });

  describe('with the issuing CA key in KMS', () => {
    /** Root (software or KMS) → issuing (KMS) → device certificate for the ec-p256.csr fixture. */
    async function issueDevice(issuingSigner: Signer, root: CaKey): Promise<{ root: CaRecord; issuing: CaRecord; devicePem: string }> {
      const rootRecord = await createRootCa(root, naming, clock);
      const issuing = await createIssuingCa(
        { ref: { kind: 'kms', keyId: 'alias/factory-ca-issuing' }, signer: issuingSigner },
        { record: rootRecord, signer: root.signer },
        naming,
        clock,
      );
      const issuingCert = new x509.X509Certificate(x509.PemConverter.decodeFirst(issuing.certificatePem));
      const csr = parseCsr(csrFixture('ec-p256.csr'));
      verifyCsr(csr);
      const notAfter = new Date(issuing.notAfter);
      const device = await fastDeviceCertificate(
        csr,
        {
          subjectDer: new Uint8Array(issuingCert.subjectName.toArrayBuffer()),
          keyIdentifier: issuing.keyIdentifier,
          notAfter,
          signer: issuingSigner,
        },
        newSerial(),
        deviceValidity(new Date(), 365, 300, notAfter),
      );
      return { root: rootRecord, issuing, devicePem: toPem('CERTIFICATE', device.der) };
    }

    it.each(CASES)('issues a device certificate openssl verifies up to the root when the issuing key is %s', async (name) => {
      // Prepare
      const { client, mock, key } = install(keys[name], { aliases: ['alias/factory-ca-issuing'] });
      const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
      const root: CaKey = { ref: { kind: 'software', file: 'ca/root.key' }, signer: createSoftwareSigner(rootKey, {}) };
      const issuingSigner = await createKmsSigner(client, 'alias/factory-ca-issuing');

      // Act
      const { root: rootRecord, issuing, devicePem } = await issueDevice(issuingSigner, root);

      // Assess
      expect(opensslVerify(rootRecord.certificatePem, issuing.certificatePem, devicePem)).toContain('device.pem: OK');
      // Only the device certificate was signed in KMS (the issuing CA was signed by the root).
      expect(mock.commandCalls(SignCommand)).toHaveLength(1);
      expect(mock.commandCalls(SignCommand)[0]!.args[0].input.KeyId).toBe(key.arn);
    });

    it('issues a verifiable chain when the root key is in KMS as well (two keys behind one client)', async () => {
      // Prepare
      const kms = new FakeKms();
      kms.addKey(keys['P-384'], { aliases: ['alias/factory-ca-root'] });
      kms.addKey(keys['P-256'], { aliases: ['alias/factory-ca-issuing'] });
      const { client, mock } = kms.install();
      try {
        const rootSigner = await createKmsSigner(client, 'alias/factory-ca-root');
        const issuingSigner = await createKmsSigner(client, 'alias/factory-ca-issuing');

        // Act
        const { root, issuing, devicePem } = await issueDevice(issuingSigner, { ref: { kind: 'kms', keyId: 'alias/factory-ca-root' }, signer: rootSigner });

        // Assess
        expect(opensslVerify(root.certificatePem, issuing.certificatePem, devicePem)).toContain('device.pem: OK');
        expect(kms.callsOf('Sign').map((s) => s.SigningAlgorithm)).toEqual(['ECDSA_SHA_384', 'ECDSA_SHA_384', 'ECDSA_SHA_256']);
      } finally {
        mock.restore();
      }
    });
  });

  describe('when KMS fails', () => {
    it('turns a throttled Sign into SIGNER_UNAVAILABLE, retry after 2 s, keeping the AWS error only as the cause', async () => {
      // Prepare
      const { client, kms, key } = install(keys['P-256']);
      const signer = await createKmsSigner(client, key.keyId);
      const throttled = kmsError('ThrottlingException', `Rate exceeded for key ${key.arn}`);
      kms.failNext('Sign', throttled);

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(2);
      expect(error.cause).toBe(throttled);
      expect(error.message).not.toContain('Rate exceeded');
      expect(error.message).not.toContain(key.arn);
    });

    it('treats a dropped connection as transient (retry after 2 s)', async () => {
      // Prepare
      const { client, kms, key } = install(keys['P-256']);
      const signer = await createKmsSigner(client, key.keyId);
      kms.failNext('Sign', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect([error.code, error.retryAfterSeconds]).toEqual(['SIGNER_UNAVAILABLE', 2]);
    });

    it.each([
      ['KMSInternalException', 'server'],
      ['KeyUnavailableException', 'server'],
      ['DependencyTimeoutException', 'server'],
    ] as const)('treats %s on Sign as transient (retry after 2 s)', async (name, fault) => {
      // Prepare
      const { client, kms, key } = install(keys['P-256']);
      const signer = await createKmsSigner(client, key.keyId);
      kms.failNext('Sign', kmsError(name, 'transient', fault, 500));

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(2);
    });

    it.each([
      ['DisabledException', () => new DisabledException({ message: 'arn:aws:kms:… is disabled.', $metadata: {} })],
      ['AccessDeniedException', () => kmsError('AccessDeniedException', 'User: arn:aws:sts::111122223333:assumed-role/x is not authorized to perform: kms:Sign')],
      ['KMSInvalidStateException', () => kmsError('KMSInvalidStateException', 'key is pending deletion')],
    ])('turns %s on Sign into SIGNER_UNAVAILABLE with retry after 30 s', async (_name, makeError) => {
      // Prepare
      const { client, kms, key } = install(keys['RSA-2048']);
      const signer = await createKmsSigner(client, key.keyId);
      const cause = makeError();
      kms.failNext('Sign', cause);

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(30);
      expect(error.cause).toBe(cause);
      expect(error.message).not.toContain(cause.message);
    });

    it('turns a failing GetPublicKey into SIGNER_UNAVAILABLE and never signs', async () => {
      // Prepare
      const { client, kms, key, mock } = install(keys['P-256']);
      const cause = kmsError('AccessDeniedException', 'not authorized to perform: kms:GetPublicKey');
      kms.failNext('GetPublicKey', cause);

      // Act
      const error = await rejectionOf(createKmsSigner(client, key.keyId));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(30);
      expect(error.cause).toBe(cause);
      expect(mock.commandCalls(SignCommand)).toHaveLength(0);
    });

    it('turns a throttled GetPublicKey into SIGNER_UNAVAILABLE with retry after 2 s', async () => {
      // Prepare
      const { client, kms, key } = install(keys['P-256']);
      kms.failNext('GetPublicKey', kmsError('ThrottlingException', 'Rate exceeded'));

      // Act
      const error = await rejectionOf(createKmsSigner(client, key.keyId));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(2);
    });

    it('turns an unknown key into SIGNER_UNAVAILABLE', async () => {
      // Prepare
      const { client } = install(keys['P-256']);

      // Act
      const error = await rejectionOf(createKmsSigner(client, 'alias/no-such-key'));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect((error.cause as Error).name).toBe('NotFoundException');
    });

    it('turns a Sign answer without a signature into SIGNER_UNAVAILABLE', async () => {
      // Prepare
      const kms = new FakeKms();
      const key = kms.addKey(keys['P-256']);
      const client = newFakeKmsClient();
      const mock = mockClient(client);
      try {
        mock.on(GetPublicKeyCommand).callsFake(async (input) => kms.getPublicKey(input));
        mock.on(SignCommand).resolves({ KeyId: key.arn, SigningAlgorithm: 'ECDSA_SHA_256' });
        const signer = await createKmsSigner(client, key.keyId);

        // Act
        const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

        // Assess
        expect(error.code).toBe('SIGNER_UNAVAILABLE');
      } finally {
        mock.restore();
      }
    });
  });

  describe('with a key that cannot sign certificates', () => {
    it.each([
      ['as KMS reports it (no SigningAlgorithms)', { signingAlgorithms: undefined }],
      ['even if SigningAlgorithms were listed', {}],
    ])('refuses an RSA key whose usage is ENCRYPT_DECRYPT with INTERNAL, %s', async (_case, extra) => {
      // Prepare
      const { client, key, mock } = install(keys['RSA-2048'], { keyUsage: 'ENCRYPT_DECRYPT', ...extra });

      // Act
      const error = await rejectionOf(createKmsSigner(client, key.keyId));

      // Assess
      expect(error.code).toBe('INTERNAL');
      expect(error.retryAfterSeconds).toBeUndefined();
      expect(error.logDetail).toContain('ENCRYPT_DECRYPT');
      expect(mock.commandCalls(SignCommand)).toHaveLength(0);
    });

    it('refuses a secp256k1 (ECC_SECG_P256K1) key with INTERNAL although it offers ECDSA_SHA_256', async () => {
      // Prepare
      const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
      const { client, key } = install(k1);
      expect(key.keySpec).toBe('ECC_SECG_P256K1');
      expect(key.signingAlgorithms).toEqual(['ECDSA_SHA_256']);

      // Act
      const error = await rejectionOf(createKmsSigner(client, key.keyId));

      // Assess
      expect(error.code).toBe('INTERNAL');
      expect(error.logDetail).toContain('ECC_SECG_P256K1');
    });

    it('refuses an RSA key that does not offer RSASSA_PKCS1_V1_5_SHA_256 with INTERNAL', async () => {
      // Prepare
      const { client, key } = install(keys['RSA-2048'], { signingAlgorithms: ['RSASSA_PSS_SHA_256'] });

      // Act
      const error = await rejectionOf(createKmsSigner(client, key.keyId));

      // Assess
      expect(error.code).toBe('INTERNAL');
    });
  });

  describe('through the real SDK client (wire-level fake)', () => {
    it('recognises a ThrottlingException as the SDK deserialises it (retry after 2 s) after one attempt', async () => {
      // Prepare
      const kms = new FakeKms();
      const key = kms.addKey(keys['P-256']);
      const http = kms.httpHandler();
      const client = new KMSClient({ region: 'us-east-1', maxAttempts: 1, requestHandler: http });
      const signer = await createKmsSigner(client, key.keyId);
      kms.failNext('Sign', kmsError('ThrottlingException', 'Rate exceeded'));

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(2);
      expect((error.cause as Error).name).toBe('ThrottlingException');
      expect(error.message).not.toContain('Rate exceeded');
      expect(http.requests).toBe(2); // GetPublicKey + one Sign
    });

    it('recognises an AccessDeniedException as the SDK deserialises it (retry after 30 s)', async () => {
      // Prepare
      const kms = new FakeKms();
      const key = kms.addKey(keys['RSA-2048']);
      const client = new KMSClient({ region: 'us-east-1', maxAttempts: 1, requestHandler: kms.httpHandler() });
      const signer = await createKmsSigner(client, key.keyId);
      kms.failNext('Sign', kmsError('AccessDeniedException', 'not authorized'));

      // Act
      const error = await rejectionOf(signer.sign(Buffer.from('tbs')));

      // Assess
      expect(error.code).toBe('SIGNER_UNAVAILABLE');
      expect(error.retryAfterSeconds).toBe(30);
    });

    it('returns a valid signature when the SDK (maxAttempts 3) retries a Sign throttled twice', async () => {
      // Prepare
      jest.spyOn(Math, 'random').mockReturnValue(0.01); // keeps the SDK's jittered backoff to a few ms
      const kms = new FakeKms();
      const key = kms.addKey(keys['P-384']);
      const http = kms.httpHandler();
      const client = new KMSClient({ region: 'us-east-1', maxAttempts: 3, requestHandler: http });
      const signer = await createKmsSigner(client, key.keyId);
      kms.failNext('Sign', kmsError('ThrottlingException', 'Rate exceeded'), 2);
      const tbs = Buffer.from('tbs retried by the SDK');
      const started = Date.now();

      // Act
      const signature = await signer.sign(tbs);

      // Assess
      expect(Date.now() - started).toBeLessThan(2000);
      expect(http.requests).toBe(1 + 3);
      expect(kms.callsOf('Sign')).toHaveLength(1); // the two throttled attempts never reached the key
      expect(verifies('sha384', keys['P-384'], tbs, signature)).toBe(true);
    });
  });
});

describe('Class: FakeKms (test helper)', () => {
  it.each(CASES)('signs a precomputed digest with a %s key (%s) so that node verifies it over the message', (name, algorithm, hash) => {
    // Prepare
    const message = Buffer.from('message hashed outside the key');

    // Act
    const signature = kmsSignDigest(keys[name], algorithm, createHash(hash).update(message).digest());

    // Assess
    expect(verifies(hash, keys[name], message, signature)).toBe(true);
  });

  it('refuses what KMS refuses: a RAW message, a digest of the wrong length, an algorithm the key lacks', () => {
    // Prepare
    const kms = new FakeKms();
    const key = kms.addKey(keys['P-256']);
    const digest32 = createHash('sha256').update('x').digest();
    const digest48 = createHash('sha384').update('x').digest();

    // Act
    const attempt = (input: Parameters<FakeKms['sign']>[0]) => {
      try {
        kms.sign(input);
        return 'signed';
      } catch (e) {
        return (e as Error).name;
      }
    };

    // Assess
    expect(attempt({ KeyId: key.keyId, Message: digest32, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' })).toBe('ValidationException');
    expect(attempt({ KeyId: key.keyId, Message: digest48, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })).toBe('ValidationException');
    expect(attempt({ KeyId: key.keyId, Message: digest48, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_384' })).toBe('InvalidKeyUsageException');
    expect(attempt({ KeyId: 'alias/unknown', Message: digest32, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })).toBe('NotFoundException');
    expect(attempt({ KeyId: key.arn, Message: digest32, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })).toBe('signed');
  });
});
