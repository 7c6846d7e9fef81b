import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { CaError } from '../../../src/service/errors.js';
import type { CaKeySpec } from '../../../src/config/config.js';
import { awsIotRegistrar } from '../../../src/iot/iot-registrar.js';
import { caKeyPolicy } from '../../../src/kms/key-policy.js';
import { kmsKeyManager } from '../../../src/kms/kms-key-manager.js';
import { createKmsSigner } from '../../../src/kms/kms-signer.js';
import { systemRandom } from '../../../src/pki/serial.js';
import { x509 } from '../../../src/pki/x509.js';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { bootstrap, rotate, type LifecycleDeps } from '../../../src/service/ca-lifecycle.js';
import { issueCertificate, type IssueDeps } from '../../../src/service/issue-certificate.js';
import { revokeCertificate, type RevokeDeps } from '../../../src/service/revoke-certificate.js';
import { realSleep, type CaRecord, type SignerFactory } from '../../../src/service/ports.js';
import { chainProblems } from '../../helpers/chain.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { FakeIot, iotError, type FakeIotOperation } from '../../helpers/iot-fake.js';
import { ConnectionRefused, JitpSimulator } from '../../helpers/jitp-simulator.js';
import { FakeKms, kmsError, type FakeKmsOperation } from '../../helpers/kms-fake.js';
import { MemoryLogStore } from '../../helpers/memory-log-store.js';
import { MemoryLotStore } from '../../helpers/memory-lot-store.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { NAMING, shippedPolicy, shippedTemplate } from '../../helpers/shipped-config.js';

const DAY = 86_400_000;
const ROLES = {
  JITP_ROLE_ARN: 'arn:aws:iam::111122223333:role/factory-ca-test-jitp',
  ISSUE_ROLE_ARN: 'arn:aws:iam::111122223333:role/factory-ca-test-issue',
  LIFECYCLE_ROLE_ARN: 'arn:aws:iam::111122223333:role/factory-ca-test-lifecycle',
};

interface World {
  kms: FakeKms;
  iot: FakeIot;
  /** Devices connecting to AWS IoT. */
  jitp: JitpSimulator;
  /** The ledger; its faults stop a run between two of its writes. */
  store: MemoryStore;
  deps: LifecycleDeps;
  revoke: RevokeDeps;
  now: { t: number };
  /** Issues a device certificate with the active issuing CA. */
  issue(cn: string): Promise<{ pem: string; chain: string; root: string; ca: string; issuingCaId: string }>;
}

interface WorldOptions {
  keySpec?: CaKeySpec;
  rotation?: LifecycleDeps['rotation'];
}

/** The lifecycle with its CA keys in (fake) KMS, AWS IoT faked, and the ledger in memory. */
function world(o: WorldOptions = {}): World {
  const now = { t: Date.parse('2026-11-26T12:00:00Z') };
  const clock = () => new Date(now.t);
  const kms = new FakeKms();
  const kmsClient = kms.install().client;
  const iot = new FakeIot({ clock });
  const store = new MemoryStore();
  const signerFactory: SignerFactory = async (key) => {
    if (key.kind !== 'kms') throw new Error(`not a KMS key: ${JSON.stringify(key)}`);
    return createKmsSigner(kmsClient, key.keyId);
  };
  const policy = shippedPolicy();
  const tags = { 'factory-ca:table': 'ledger-test' };
  const deps: LifecycleDeps = {
    store,
    keys: kmsKeyManager(kmsClient, {
      keySpec: o.keySpec ?? 'ECC_NIST_P256',
      keyPolicy: (purpose) => caKeyPolicy({ purpose, issueRoleArn: ROLES.ISSUE_ROLE_ARN, lifecycleRoleArn: ROLES.LIFECYCLE_ROLE_ARN }),
      tags,
    }),
    iot: awsIotRegistrar(iot.install().client),
    signerFactory,
    clock,
    random: systemRandom,
    naming: NAMING,
    keyAliasPrefix: 'alias/factory-ca-test',
    template: shippedTemplate(),
    jitpRoleArn: ROLES.JITP_ROLE_ARN,
    rotation: o.rotation ?? { periodDays: 365, minRemainingDays: policy.validityDays },
    tags,
    logKeys: new MemoryLogStore(),
    logKeyRotation: { periodDays: 365, cosignDays: 30 },
  };
  // No CA cache: a rotation is seen by the next issuance.
  const cas = new CaDirectory(store, signerFactory, clock, 0);
  const issuance: IssueDeps = { policy, store, lots: new MemoryLotStore(), cas, clock, random: systemRandom, sleep: realSleep, claimLeaseMs: 120_000, inFlightWaitMs: 5_000 };
  let n = 0;
  const issue = async (cn: string) => {
    const csr = buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
    const r = await issueCertificate(issuance, { csr, stationId: `station-${++n}` });
    return {
      pem: r.record.certificatePem,
      chain: r.record.certificatePem + r.ca.caCertificatePem,
      root: r.ca.rootCertificatePem,
      ca: r.ca.caCertificatePem,
      issuingCaId: r.record.issuingCaId,
    };
  };
  return { kms, iot, jitp: new JitpSimulator(iot), store, deps, revoke: { store, cas, iot: () => deps.iot, clock }, now, issue };
}

/** What is wrong with a certificate's chain at the world's time (the tests move the clock years ahead). */
const chainAt = (w: World, c: { root: string; ca: string; pem: string }) => chainProblems(c, new Date(w.now.t));
const aliases = (kms: FakeKms) => kms.keys.flatMap((k) => k.aliases).sort();
const record = async (w: World, id: string) => (await w.store.getCa(id)) as CaRecord;

/** What a complete bootstrap leaves, whatever happened on the way. */
async function expectBootstrapped(w: World): Promise<void> {
  expect(await w.store.getActiveIssuingCaId()).toBe('issuing-1');
  expect(aliases(w.kms)).toEqual(['alias/factory-ca-test-issuing-1', 'alias/factory-ca-test-root-1']);
  const root = await record(w, 'root-1');
  const issuing = await record(w, 'issuing-1');
  expect(root).toMatchObject({ role: 'root', status: 'ACTIVE', keyAlias: 'alias/factory-ca-test-root-1' });
  expect(issuing).toMatchObject({
    role: 'issuing',
    generation: 1,
    parentId: 'root-1',
    status: 'ACTIVE',
    iotCertificateId: issuing.fingerprintSha256,
    iotStatus: 'ACTIVE',
  });
  // The CA records name the KMS keys their aliases point at.
  const keyOf = (alias: string) => w.kms.keys.find((k) => k.aliases.includes(alias))!.arn;
  expect(root.key).toEqual({ kind: 'kms', keyId: keyOf('alias/factory-ca-test-root-1') });
  expect(issuing.key).toEqual({ kind: 'kms', keyId: keyOf('alias/factory-ca-test-issuing-1') });
  // Exactly one AWS IoT registration: the issuing CA, active, with the template and the role.
  expect([...w.iot.cas.keys()]).toEqual([issuing.fingerprintSha256]);
  expect(w.iot.cas.get(issuing.fingerprintSha256)).toMatchObject({
    status: 'ACTIVE',
    autoRegistrationStatus: 'ENABLE',
    certificateMode: 'DEFAULT',
    registrationConfig: { templateBody: w.deps.template.body, roleArn: ROLES.JITP_ROLE_ARN },
  });
  // It works: a device certificate verifies against the root and provisions itself on first connection.
  const device = await w.issue(`device-${Math.random().toString(16).slice(2, 10)}`);
  expect(await chainAt(w, device)).toEqual([]);
  expect(await w.jitp.connect(device.pem)).toMatchObject({ status: 'ACTIVE', provisioned: true });
  // And a further run changes nothing: no key, no signature, no registration.
  const writes = () => [
    w.kms.callsOf('CreateKey').length,
    w.kms.callsOf('CreateAlias').length,
    w.kms.callsOf('Sign').length,
    ...(['GetRegistrationCode', 'RegisterCACertificate', 'UpdateCACertificate'] as const).map((op) => w.iot.callsOf(op).length),
  ];
  const before = writes();
  expect((await bootstrap(w.deps)).actions).toEqual([]);
  expect(writes()).toEqual(before);
}

describe('Use case: bootstrap (KMS and AWS IoT fakes, the ledger in memory)', () => {
  it('creates the keys and the hierarchy, and registers the issuing CA for JITP with a verification certificate', async () => {
    const w = world();

    const report = await bootstrap(w.deps);

    expect(report.activeIssuingCaId).toBe('issuing-1');
    expect(report.actions).toEqual([
      'created root CA key alias/factory-ca-test-root-1',
      'created root CA root-1 (C=US, O=Example Corp, CN=Example Corp Root CA)',
      'created issuing CA key alias/factory-ca-test-issuing-1',
      'created issuing CA issuing-1 (C=US, O=Example Corp, CN=Example Corp Issuing CA G1)',
      expect.stringMatching(/^registered issuing-1 with AWS IoT: [0-9a-f]{64} ACTIVE$/),
      'issuance now uses issuing-1',
      'issuing-1: PENDING → ACTIVE',
    ]);
    // Keys: SIGN_VERIFY P-256, each with a key policy naming who may sign.
    const created = w.kms.callsOf('CreateKey');
    expect(created.map((c) => [c.KeyUsage, c.KeySpec])).toEqual([
      ['SIGN_VERIFY', 'ECC_NIST_P256'],
      ['SIGN_VERIFY', 'ECC_NIST_P256'],
    ]);
    const signers = created.map((c) => JSON.parse(c.Policy!).Statement[1].Principal.AWS);
    expect(signers).toEqual([[ROLES.LIFECYCLE_ROLE_ARN], [ROLES.ISSUE_ROLE_ARN, ROLES.LIFECYCLE_ROLE_ARN]]);
    // The registration request, as the walkthrough makes it by hand.
    const [registration] = w.iot.callsOf('RegisterCACertificate');
    expect(registration).toMatchObject({
      setAsActive: true,
      allowAutoRegistration: true,
      certificateMode: 'DEFAULT',
      registrationConfig: { templateBody: w.deps.template.body, roleArn: ROLES.JITP_ROLE_ARN },
    });
    expect(registration!.tags).toEqual(expect.arrayContaining([{ Key: 'factory-ca:ca-id', Value: 'issuing-1' }]));
    // The verification certificate: CN = the registration code, signed by the issuing CA, chaining to the root.
    const verification = new x509.X509Certificate(registration!.verificationCertificate!);
    expect(verification.subject).toBe(`CN=${w.iot.registrationCode}`);
    const root = await record(w, 'root-1');
    expect(await chainProblems({ root: root.certificatePem, ca: registration!.caCertificate!, pem: verification.toString('pem') })).toEqual([]);
    // The issuing CA: pathLen 0, signed by the root.
    const issuingCert = new x509.X509Certificate(registration!.caCertificate!);
    expect(issuingCert.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0, critical: true });
    await expectBootstrapped(w);
  });

  it('creates RSA CA keys when CA_KEY_SPEC asks for them', async () => {
    const w = world({ keySpec: 'RSA_2048' });
    await bootstrap(w.deps);
    expect(w.kms.callsOf('CreateKey').map((c) => c.KeySpec)).toEqual(['RSA_2048', 'RSA_2048']);
    await expectBootstrapped(w);
  });

  type Fault = [string, (w: World) => void];
  const kmsFault = (op: FakeKmsOperation, skip = 0): Fault[1] => (w) => {
    // Let `skip` calls through, then fail one.
    let seen = 0;
    const original = (w.kms as unknown as Record<string, (i: unknown) => unknown>)[op[0]!.toLowerCase() + op.slice(1)]!.bind(w.kms);
    (w.kms as unknown as Record<string, (i: unknown) => unknown>)[op[0]!.toLowerCase() + op.slice(1)] = (input: unknown) => {
      if (seen++ === skip) throw kmsError('KMSInternalException', 'injected', 'server', 500);
      return original(input);
    };
  };
  const iotFault = (op: FakeIotOperation): Fault[1] => (w) => void w.iot.failNext(op, iotError('ServiceUnavailableException', 'injected', 'server', 503));
  /** The registration lands, but its answer is lost (a timeout after AWS IoT applied it). */
  const lostAnswer: Fault[1] = (w) => {
    const original = w.iot.registerCACertificate.bind(w.iot);
    w.iot.registerCACertificate = async (input) => {
      await original(input);
      w.iot.registerCACertificate = original;
      throw iotError('TimeoutError', 'socket timeout after the request was sent', 'server', 500);
    };
  };

  it.each<Fault>([
    ['creating the root key', kmsFault('CreateKey', 0)],
    ['naming the root key (an orphan key is left)', kmsFault('CreateAlias', 0)],
    ['self-signing the root', kmsFault('Sign', 0)],
    ['recording the root', (w) => void w.store.failNext('putCa')],
    ['recording the root (it landed)', (w) => void w.store.failNext('putCa', { when: 'after' })],
    ['creating the issuing key', kmsFault('CreateKey', 1)],
    ['signing the issuing CA with the root', kmsFault('Sign', 1)],
    ['recording the issuing CA', (w) => void w.store.failNext('putCa', { skip: 1 })],
    ['getting the registration code', iotFault('GetRegistrationCode')],
    ['signing the verification certificate', kmsFault('Sign', 2)],
    ['registering with AWS IoT', iotFault('RegisterCACertificate')],
    ['reading the registration answer (it landed)', lostAnswer],
    ['recording the registration', (w) => void w.store.failNext('updateCa')],
    ['switching issuance to the issuing CA', (w) => void w.store.failNext('setActiveIssuingCa')],
    ['switching issuance to the issuing CA (it landed)', (w) => void w.store.failNext('setActiveIssuingCa', { when: 'after' })],
    ['marking the issuing CA active', (w) => void w.store.failNext('updateCa', { skip: 1 })],
  ])('finishes, when run again, a bootstrap interrupted at %s', async (_step, inject) => {
    const w = world();
    inject(w);

    await expect(bootstrap(w.deps)).rejects.toBeInstanceOf(Error);
    const second = await bootstrap(w.deps);

    expect(second.activeIssuingCaId).toBe('issuing-1');
    await expectBootstrapped(w);
  });

  it('brings the template and role of every registered issuing CA up to date', async () => {
    const w = world();
    await bootstrap(w.deps);
    await rotate(w.deps, { force: true });
    const changed = { ...w.deps, jitpRoleArn: 'arn:aws:iam::111122223333:role/new-jitp', template: { ...w.deps.template, body: w.deps.template.body.replace('factory-ca', 'factory-ca-v2') } };

    const report = await bootstrap(changed);

    expect(report.actions).toEqual([
      'updated the AWS IoT registration of issuing-1 (template, role, ACTIVE, auto-registration)',
      'updated the AWS IoT registration of issuing-2 (template, role, ACTIVE, auto-registration)',
    ]);
    for (const ca of w.iot.cas.values()) expect(ca.registrationConfig).toEqual({ templateBody: changed.template.body, roleArn: changed.jitpRoleArn });
  });

  it('re-activates a CA registration someone set INACTIVE', async () => {
    const w = world();
    await bootstrap(w.deps);
    const [ca] = w.iot.cas.values();
    ca!.status = 'INACTIVE';
    await bootstrap(w.deps);
    expect(ca!.status).toBe('ACTIVE');
  });
});

describe('Use case: rotate', () => {
  it('refuses to run before the bootstrap', async () => {
    const w = world();
    await expect(rotate(w.deps)).rejects.toMatchObject({ code: 'CA_NOT_READY' });
  });

  it('does nothing while the issuing CA is not due', async () => {
    const w = world();
    await bootstrap(w.deps);
    const calls = [w.kms.calls.length, w.iot.calls.length];
    w.now.t += 364 * DAY;

    const report = await rotate(w.deps);

    expect(report).toMatchObject({ rotated: false, reason: 'not due', activeIssuingCaId: 'issuing-1', actions: [] });
    expect(report.nextDueAt).toBe(new Date(Date.parse('2026-11-26T12:00:00Z') + 365 * DAY).toISOString());
    expect([w.kms.calls.length, w.iot.calls.length]).toEqual(calls);
  });

  it('rotates when the issuing CA has issued for the period; old and new certificates keep verifying and provisioning', async () => {
    const w = world();
    await bootstrap(w.deps);
    const before = await w.issue('device-before');
    w.now.t += 366 * DAY;

    const report = await rotate(w.deps);

    expect(report).toMatchObject({ rotated: true, reason: 'issuing-1 has issued for 365 days', activeIssuingCaId: 'issuing-2', previousIssuingCaId: 'issuing-1' });
    const [old, next] = [await record(w, 'issuing-1'), await record(w, 'issuing-2')];
    expect(old).toMatchObject({ status: 'RETIRED', retiredAt: new Date(w.now.t).toISOString() });
    expect(next).toMatchObject({ status: 'ACTIVE', generation: 2, iotStatus: 'ACTIVE', subject: 'C=US, O=Example Corp, CN=Example Corp Issuing CA G2' });
    // The old issuing CA stays registered and active in AWS IoT.
    expect(w.iot.cas.get(old.fingerprintSha256)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
    expect(w.iot.cas.get(next.fingerprintSha256)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });

    const after = await w.issue('device-after');
    expect([before.issuingCaId, after.issuingCaId]).toEqual(['issuing-1', 'issuing-2']);
    expect(after.root).toBe(before.root);
    expect(await chainAt(w, before)).toEqual([]);
    expect(await chainAt(w, after)).toEqual([]);
    expect(await w.jitp.connect(before.pem)).toMatchObject({ provisioned: true });
    expect(await w.jitp.connect(after.pem)).toMatchObject({ provisioned: true });
    // Not due again until a period after the switch.
    expect(await rotate(w.deps)).toMatchObject({ rotated: false });
  });

  it('rotates when too few days remain before the issuing CA expires, but not when the root would end sooner', async () => {
    const w = world({ rotation: { periodDays: 7300, minRemainingDays: 7000 } });
    await bootstrap(w.deps);
    w.now.t += 400 * DAY;
    expect(await rotate(w.deps)).toMatchObject({ rotated: true, reason: 'issuing-1 expires in less than 7000 days' });

    const late = world({ rotation: { periodDays: 7300, minRemainingDays: 7400 } });
    await bootstrap(late.deps);
    const report = await rotate(late.deps);
    expect(report).toMatchObject({ rotated: false, reason: expect.stringContaining('the root CA root-1 expires too soon') });
    expect(await late.store.getCa('issuing-2')).toBeUndefined();
  });

  type Fault = [string, (w: World) => void];
  it.each<Fault>([
    ['creating the new key', (w) => void w.kms.failNext('CreateKey', kmsError('ThrottlingException'))],
    ['naming the new key', (w) => void w.kms.failNext('CreateAlias', kmsError('ThrottlingException'))],
    ['signing the new CA with the root', (w) => void w.kms.failNext('Sign', kmsError('ThrottlingException'))],
    ['recording the new CA', (w) => void w.store.failNext('putCa')],
    ['recording the new CA (it landed)', (w) => void w.store.failNext('putCa', { when: 'after' })],
    ['getting the registration code', (w) => void w.iot.failNext('GetRegistrationCode', iotError('ThrottlingException'))],
    ['registering with AWS IoT', (w) => void w.iot.failNext('RegisterCACertificate', iotError('ThrottlingException'))],
    ['recording the registration', (w) => void w.store.failNext('updateCa')],
    ['switching issuance', (w) => void w.store.failNext('setActiveIssuingCa')],
    ['switching issuance (it landed)', (w) => void w.store.failNext('setActiveIssuingCa', { when: 'after' })],
    ['retiring the old CA', (w) => void w.store.failNext('updateCa', { skip: 1 })],
  ])('finishes a rotation interrupted at %s, and issuance never stops', async (_step, inject) => {
    const w = world();
    await bootstrap(w.deps);
    w.now.t += 366 * DAY;
    inject(w);

    await expect(rotate(w.deps)).rejects.toBeInstanceOf(Error);
    const meanwhile = await w.issue('device-meanwhile');
    const report = await rotate(w.deps);

    // (Interrupted after the switch, the second run only repairs the record statuses.)
    expect(report.activeIssuingCaId).toBe('issuing-2');
    expect(await w.store.getCa('issuing-3')).toBeUndefined();
    expect(aliases(w.kms).filter((a) => a.includes('issuing'))).toEqual(['alias/factory-ca-test-issuing-1', 'alias/factory-ca-test-issuing-2']);
    expect([...w.iot.cas.values()].map((c) => c.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect((await record(w, 'issuing-1')).status).toBe('RETIRED');
    expect((await record(w, 'issuing-2')).status).toBe('ACTIVE');
    expect(await chainAt(w, meanwhile)).toEqual([]);
    const after = await w.issue('device-after');
    expect(after.issuingCaId).toBe('issuing-2');
  });

  it('keeps every issuing CA subject distinct, within AWS IoT\'s limit of 10 CA certificates per subject', async () => {
    const w = world();
    await bootstrap(w.deps);

    for (let i = 0; i < 11; i++) await rotate(w.deps, { force: true });

    const cas = [...w.iot.cas.values()];
    expect(cas).toHaveLength(12);
    expect(new Set(cas.map((c) => c.subject)).size).toBe(12);
    expect(cas.every((c) => c.status === 'ACTIVE')).toBe(true);
    expect(await w.store.getActiveIssuingCaId()).toBe('issuing-12');
  });

  it('a revoked device certificate is refused by AWS IoT, whether or not it had connected before', async () => {
    const w = world();
    await bootstrap(w.deps);
    const connected = await w.issue('device-connected');
    await w.jitp.connect(connected.pem);
    const never = await w.issue('device-never');
    const serialOf = (pem: string) => new x509.X509Certificate(pem).serialNumber.toLowerCase();

    const a = await revokeCertificate(w.revoke, serialOf(connected.pem), 'keyCompromise');
    const b = await revokeCertificate(w.revoke, serialOf(never.pem), 'cessationOfOperation');

    expect([a.iot.outcome, b.iot.outcome]).toEqual(['REVOKED', 'REGISTERED_AS_REVOKED']);
    for (const pem of [connected.pem, never.pem]) {
      const refused = await w.jitp.connect(pem).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConnectionRefused);
      expect((refused as ConnectionRefused).reason).toBe('CERTIFICATE_REVOKED');
    }
  });
});

const TABLE_TAG = 'ledger-test';

describe('Use case: a key planted under the next CA key alias', () => {
  const MALLORY = 'arn:aws:iam::111122223333:user/mallory';
  /** A key with the CA's tags and key policy for `alias`, plus a statement letting mallory sign. */
  const plant = (w: World, alias: string, purpose: 'root' | 'issuing') => {
    const policy = JSON.parse(caKeyPolicy({ purpose, issueRoleArn: ROLES.ISSUE_ROLE_ARN, lifecycleRoleArn: ROLES.LIFECYCLE_ROLE_ARN }));
    policy.Statement.push({ Sid: 'Backdoor', Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:Sign', Resource: '*' });
    return w.kms.addKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {
      aliases: [alias],
      policy: JSON.stringify(policy),
      tags: { 'factory-ca:table': TABLE_TAG, 'factory-ca:role': purpose, 'factory-ca:alias': alias },
    });
  };
  /** What a refused run must not have done: name or create a key, sign, store a CA, touch AWS IoT. */
  const changes = (w: World) => [
    w.kms.callsOf('CreateKey').length,
    w.kms.callsOf('CreateAlias').length,
    w.kms.callsOf('Sign').length,
    ...(['GetRegistrationCode', 'RegisterCACertificate', 'UpdateCACertificate'] as const).map((op) => w.iot.callsOf(op).length),
  ];

  it('stops the bootstrap before anything is created when the root alias names a key someone else may sign with', async () => {
    const w = await world();
    const planted = plant(w, 'alias/factory-ca-test-root-1', 'root');

    const error = (await bootstrap(w.deps).catch((e: unknown) => e)) as CaError;

    expect(error).toBeInstanceOf(CaError);
    expect([error.code, error.logDetail]).toEqual(['INTERNAL', `alias/factory-ca-test-root-1 (${planted.arn}): key policy lets ${MALLORY} sign`]);
    expect(changes(w)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await w.store.getCa('root-1')).toBeUndefined();
    expect(await w.store.getActiveIssuingCaId()).toBeUndefined();
    expect(planted.aliases).toEqual(['alias/factory-ca-test-root-1']);
  });

  it('stops the rotation before the new CA exists: no alias change, no CA record, no AWS IoT registration, issuance unchanged', async () => {
    const w = await world();
    await bootstrap(w.deps);
    const planted = plant(w, 'alias/factory-ca-test-issuing-2', 'issuing');
    const before = changes(w);

    const error = (await rotate(w.deps, { force: true }).catch((e: unknown) => e)) as CaError;

    expect([error.code, error.logDetail]).toEqual(['INTERNAL', `alias/factory-ca-test-issuing-2 (${planted.arn}): key policy lets ${MALLORY} sign`]);
    expect(changes(w)).toEqual(before);
    expect(await w.store.getCa('issuing-2')).toBeUndefined();
    expect(await w.store.getActiveIssuingCaId()).toBe('issuing-1');
    expect([...w.iot.cas.keys()]).toEqual([(await record(w, 'issuing-1')).fingerprintSha256]);
    expect((await w.issue('device-after-refusal')).issuingCaId).toBe('issuing-1');
    // Once an operator has removed the alias, the next run rotates with a key of its own.
    planted.aliases.length = 0;
    expect(await rotate(w.deps, { force: true })).toMatchObject({ rotated: true, activeIssuingCaId: 'issuing-2' });
    expect((await record(w, 'issuing-2')).key).not.toEqual({ kind: 'kms', keyId: planted.arn });
  });

  it('adopts a key the CA made and named before it stopped (same tags, same key policy)', async () => {
    const w = await world();
    await bootstrap(w.deps);
    const made = await w.deps.keys.createKey('alias/factory-ca-test-issuing-2', 'issuing');

    const report = await rotate(w.deps, { force: true });

    expect(report.actions).not.toContain('created issuing CA key alias/factory-ca-test-issuing-2');
    expect((await record(w, 'issuing-2')).key).toEqual(made);
  });
});

describe('Use case: rotate for a compromised key', () => {
  it('rotates at once, then disables the old key in KMS and records when; the report says so', async () => {
    const w = world();
    await bootstrap(w.deps);
    const old = await record(w, 'issuing-1');

    const report = await rotate(w.deps, { reason: 'keyCompromise' });

    expect(report).toMatchObject({ rotated: true, activeIssuingCaId: 'issuing-2', previousIssuingCaId: 'issuing-1', reason: 'the key of issuing-1 is compromised' });
    expect(report.actions).toContain('disabled the key of issuing-1 (alias/factory-ca-test-issuing-1): it signs nothing more');
    const key = w.kms.find(old.key.kind === 'kms' ? old.key.keyId : '');
    expect(key.state).toBe('Disabled');
    expect((await record(w, 'issuing-1')).keyDisabledAt).toBe(new Date(w.now.t).toISOString());
    expect(w.kms.callsOf('DisableKey')).toHaveLength(1);
    // The switch came first: the pointer had moved before the key was disabled.
    expect(await w.store.getActiveIssuingCaId()).toBe('issuing-2');
  });

  it('a warm issuing function whose cached CA key was disabled issues with the new CA at once, not a 503', async () => {
    const w = world();
    await bootstrap(w.deps);
    const clock = () => new Date(w.now.t);
    // A function that cached issuing-1 and its signer for 5 minutes.
    const warm: IssueDeps = {
      policy: shippedPolicy(),
      store: w.store,
      lots: new MemoryLotStore(),
      cas: new CaDirectory(w.store, w.deps.signerFactory, clock, 300_000),
      clock,
      random: systemRandom,
      sleep: realSleep,
      claimLeaseMs: 120_000,
      inFlightWaitMs: 5_000,
    };
    const csr = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
    expect((await issueCertificate(warm, { csr: csr('warm-before'), stationId: 's' })).record.issuingCaId).toBe('issuing-1');

    await rotate(w.deps, { reason: 'keyCompromise' });

    const after = await issueCertificate(warm, { csr: csr('warm-after'), stationId: 's' });
    expect(after.record.issuingCaId).toBe('issuing-2');
    expect(await chainAt(w, { root: after.ca.rootCertificatePem, ca: after.ca.caCertificatePem, pem: after.record.certificatePem })).toEqual([]);
  });
});
