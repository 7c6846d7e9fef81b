import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  DeleteCACertificateCommand,
  DescribeCertificateCommand,
  ListCACertificatesCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { awsIotRegistrar } from '../../../src/iot/iot-registrar.js';
import { CaError } from '../../../src/service/errors.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { toPem } from '../../../src/pki/pem.js';
import { fastDeviceCertificate } from '../../../src/pki/fast-certificate.js';
import { buildVerificationCertificate } from '../../../src/pki/profile.js';
import { deviceValidity } from '../../../src/pki/validity.js';
import { newSerial } from '../../../src/pki/serial.js';
import { createSoftwareSigner, type Signer } from '../../../src/pki/signer.js';
import { x509 } from '../../../src/pki/x509.js';
import { createIssuingCa, createRootCa, type CaIdentity, type CaKey } from '../../../src/service/ca-setup.js';
import type { CaRecord, IotCaRegistrationRequest, IotRegistrar } from '../../../src/service/ports.js';
import { STRING, buildCsr, p256Key, subject } from '../../helpers/csr-builder.js';
import { rejectionOf } from '../../helpers/errors.js';
import { FAKE_IOT_MAX_CAS_PER_SUBJECT, FakeIot, iotCaArn, iotCertArn, iotError, newFakeIotClient } from '../../helpers/iot-fake.js';
import { ConnectionRefused, JitpSimulator } from '../../helpers/jitp-simulator.js';

const NAMING = { organization: 'Example Corp', country: 'US' };
const clock = () => new Date();
const TEMPLATE = JSON.stringify({ Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } }, Resources: {} });
const ROLE = 'arn:aws:iam::111122223333:role/factory-ca-jitp';
const TAGS = { project: 'factory-ca', 'factory-ca:role': 'issuing' };

type KeyType = 'P-256' | 'P-384' | 'RSA-2048';
const newKey = (type: KeyType): KeyObject =>
  type === 'RSA-2048'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : generateKeyPairSync('ec', { namedCurve: type }).privateKey;
const caKey = (key: KeyObject, file: string): CaKey => ({ ref: { kind: 'software', file }, signer: createSoftwareSigner(key, {}) });
const subjectDerOf = (pem: string) => new Uint8Array(new x509.X509Certificate(pem).subjectName.toArrayBuffer());

/** A CA of the project's making, with the signer of its key. */
interface TestCa {
  record: CaRecord;
  signer: Signer;
  pem: string;
  /** The AWS IoT certificate id (SHA-256 of the DER). */
  id: string;
}

let root: TestCa;
beforeAll(async () => {
  const k = caKey(newKey('P-256'), 'root.pem');
  const record = await createRootCa(k, NAMING, clock);
  root = { record, signer: k.signer, pem: record.certificatePem, id: record.fingerprintSha256 };
});

async function issuingCa(key: KeyObject = newKey('P-256'), identity: CaIdentity = {}): Promise<TestCa> {
  const k = caKey(key, 'issuing.pem');
  const record = await createIssuingCa(k, { record: root.record, signer: root.signer }, NAMING, clock, undefined, identity);
  return { record, signer: k.signer, pem: record.certificatePem, id: record.fingerprintSha256 };
}

/** A verification certificate (CN = code) with a throwaway key, signed by `signer` in the name of `ca`. */
async function verificationPem(ca: TestCa, code: string, signer: Signer = ca.signer): Promise<string> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Math.floor(Date.now() / 1000) * 1000;
  const cert = await buildVerificationCertificate({
    registrationCode: code,
    serialNumber: newSerial(),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    validity: { notBefore: new Date(now - 300_000), notAfter: new Date(now + 86_400_000) },
    issuer: { subjectDer: subjectDerOf(ca.pem), keyIdentifier: ca.record.keyIdentifier, signer },
  });
  return toPem('CERTIFICATE', cert.der);
}

/** A device certificate for `cn`, issued with the device profile by `ca` (or signed by another key in its name). */
async function devicePem(ca: TestCa, cn: string, signer: Signer = ca.signer): Promise<string> {
  const csr = parseCsr(buildCsr({ key: p256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) }));
  const notAfter = new Date(ca.record.notAfter);
  const built = await fastDeviceCertificate(
    csr,
    { subjectDer: subjectDerOf(ca.pem), keyIdentifier: ca.record.keyIdentifier, notAfter, signer },
    newSerial(),
    deviceValidity(new Date(), 365, 300, notAfter),
  );
  return toPem('CERTIFICATE', built.der);
}

/** The id AWS IoT gives a certificate: hex SHA-256 of its DER. */
const certificateIdOf = (pem: string) => createHash('sha256').update(new Uint8Array(x509.PemConverter.decodeFirst(pem))).digest('hex');

const registration = (ca: TestCa, verificationCertificatePem: string): IotCaRegistrationRequest => ({
  certificateId: ca.id,
  caCertificatePem: ca.pem,
  rootCertificatePem: root.pem,
  verificationCertificatePem,
  templateBody: TEMPLATE,
  roleArn: ROLE,
  tags: TAGS,
});

interface Setup {
  iot: FakeIot;
  /** Devices connecting to that AWS IoT. */
  jitp: JitpSimulator;
  client: IoTClient;
  mock: AwsClientStub<IoTClient>;
  registrar: IotRegistrar;
}
let mocks: Array<AwsClientStub<IoTClient>> = [];
function setup(): Setup {
  const iot = new FakeIot();
  const { client, mock } = iot.install();
  mocks.push(mock);
  return { iot, jitp: new JitpSimulator(iot), client, mock, registrar: awsIotRegistrar(client) };
}
afterEach(() => {
  for (const m of mocks) m.restore();
  mocks = [];
});

/** Registers `ca` through the registrar, as the CA lifecycle does (ACTIVE, auto-registration, template). */
async function registered(s: Setup, ca: TestCa) {
  const code = await s.registrar.getRegistrationCode();
  return s.registrar.registerCa(registration(ca, await verificationPem(ca, code)));
}

describe('Function: awsIotRegistrar', () => {
  it('gives the account registration code', async () => {
    const s = setup();
    expect(await s.registrar.getRegistrationCode()).toBe(s.iot.registrationCode);
    expect(s.iot.registrationCode).toMatch(/^[0-9a-f]{64}$/);
    expect(s.registrar.mode).toBe('aws');
  });

  it('describes an unknown CA as undefined', async () => {
    const s = setup();
    const ca = await issuingCa();
    expect(await s.registrar.describeCa(ca.id)).toBeUndefined();
    expect(s.iot.callsOf('DescribeCACertificate')).toEqual([{ certificateId: ca.id }]);
  });

  it('registers a CA as ACTIVE with auto-registration, the JITP template, role and tags', async () => {
    const s = setup();
    const ca = await issuingCa();
    const verification = await verificationPem(ca, s.iot.registrationCode);
    const result = await s.registrar.registerCa(registration(ca, verification));

    expect(result).toEqual({ certificateId: ca.id, status: 'ACTIVE', autoRegistration: true, templateBody: TEMPLATE, roleArn: ROLE });
    expect(s.iot.callsOf('RegisterCACertificate')).toEqual([
      {
        caCertificate: ca.pem,
        verificationCertificate: verification,
        setAsActive: true,
        allowAutoRegistration: true,
        certificateMode: 'DEFAULT',
        registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE },
        tags: [
          { Key: 'project', Value: 'factory-ca' },
          { Key: 'factory-ca:role', Value: 'issuing' },
        ],
      },
    ]);
    // AWS IoT ids a certificate by the SHA-256 of its DER, which the CA record holds as its fingerprint.
    const stored = s.iot.cas.get(ca.id)!;
    expect(stored).toMatchObject({
      certificateArn: iotCaArn(ca.id),
      status: 'ACTIVE',
      autoRegistrationStatus: 'ENABLE',
      registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE },
      certificateMode: 'DEFAULT',
      pem: ca.pem,
      subject: ca.record.subject,
    });
    expect(await s.registrar.describeCa(ca.id)).toEqual(result);
  });

  it('brings an existing registration up to date when the CA is registered already', async () => {
    const s = setup();
    const ca = await issuingCa();
    // An earlier run registered it (and its answer was lost); someone since deactivated it.
    s.iot.seedCa(ca.pem, { status: 'INACTIVE', autoRegistrationStatus: 'DISABLE', registrationConfig: { templateBody: '{"old":true}', roleArn: 'arn:aws:iam::111122223333:role/old' } });

    const result = await s.registrar.registerCa(registration(ca, await verificationPem(ca, s.iot.registrationCode)));

    expect(result).toEqual({ certificateId: ca.id, status: 'ACTIVE', autoRegistration: true, templateBody: TEMPLATE, roleArn: ROLE });
    expect(s.iot.calls.map((c) => c.operation)).toEqual(['RegisterCACertificate', 'UpdateCACertificate', 'DescribeCACertificate']);
    expect(s.iot.cas.size).toBe(1);
    expect(s.iot.cas.get(ca.id)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE } });
  });

  it('updates a CA registration: template, role, ACTIVE and auto-registration ENABLE', async () => {
    const s = setup();
    const ca = await issuingCa();
    s.iot.seedCa(ca.pem, { status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });

    const result = await s.registrar.updateCa(ca.id, { templateBody: TEMPLATE, roleArn: ROLE });

    expect(result).toEqual({ certificateId: ca.id, status: 'ACTIVE', autoRegistration: true, templateBody: TEMPLATE, roleArn: ROLE });
    expect(s.iot.callsOf('UpdateCACertificate')).toEqual([
      { certificateId: ca.id, newStatus: 'ACTIVE', newAutoRegistrationStatus: 'ENABLE', registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE } },
    ]);
    expect(s.iot.cas.get(ca.id)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE } });
  });

  it('reports an update of an unregistered CA as INTERNAL', async () => {
    const s = setup();
    const ca = await issuingCa();
    const err = await rejectionOf<CaError>(s.registrar.updateCa(ca.id, { templateBody: TEMPLATE, roleArn: ROLE }));
    expect(err).toBeInstanceOf(CaError);
    expect(err.code).toBe('INTERNAL');
    expect((err.cause as Error).name).toBe('ResourceNotFoundException');
  });

  it('reports a registration refused for a stale registration code as INTERNAL', async () => {
    const s = setup();
    const ca = await issuingCa();
    const err = await rejectionOf<CaError>(s.registrar.registerCa(registration(ca, await verificationPem(ca, 'f'.repeat(64)))));
    expect(err.code).toBe('INTERNAL');
    expect((err.cause as Error).name).toBe('CertificateValidationException');
    expect(s.iot.cas.size).toBe(0);
  });

  it('revokes a device certificate that JITP has registered', async () => {
    const s = setup();
    const ca = await issuingCa();
    await registered(s, ca);
    const device = await devicePem(ca, 'device-0001');
    const first = await s.jitp.connect(device);
    expect(first).toEqual({ certificateId: certificateIdOf(device), status: 'ACTIVE', provisioned: true });
    expect(s.iot.certificates.get(first.certificateId)).toMatchObject({ registeredBy: 'JITP', caCertificateId: ca.id, jitp: { templateBody: TEMPLATE, roleArn: ROLE } });
    expect(await s.jitp.connect(device)).toEqual({ ...first, provisioned: false });

    const outcome = await s.registrar.revokeCertificate({ certificateId: first.certificateId, certificatePem: device, caCertificatePem: ca.pem });

    expect(outcome).toBe('REVOKED');
    expect(s.iot.callsOf('UpdateCertificate')).toEqual([{ certificateId: first.certificateId, newStatus: 'REVOKED' }]);
    expect(s.iot.callsOf('RegisterCertificate')).toEqual([]);
    expect(s.iot.certificates.get(first.certificateId)!.status).toBe('REVOKED');
    const refused = await rejectionOf<ConnectionRefused>(s.jitp.connect(device));
    expect(refused).toBeInstanceOf(ConnectionRefused);
    expect(refused.reason).toBe('CERTIFICATE_REVOKED');
    // REVOKED is final in AWS IoT.
    const reactivate = await rejectionOf(s.client.send(new UpdateCertificateCommand({ certificateId: first.certificateId, newStatus: 'ACTIVE' })));
    expect(reactivate.name).toBe('CertificateStateException');
    expect(s.iot.certificates.get(first.certificateId)!.status).toBe('REVOKED');
  });

  it('registers a device certificate JITP has not seen as REVOKED, so its first connection is refused', async () => {
    const s = setup();
    const ca = await issuingCa();
    await registered(s, ca);
    const device = await devicePem(ca, 'device-0002');
    const certificateId = certificateIdOf(device);

    const outcome = await s.registrar.revokeCertificate({ certificateId, certificatePem: device, caCertificatePem: ca.pem });

    expect(outcome).toBe('REGISTERED_AS_REVOKED');
    expect(s.iot.callsOf('RegisterCertificate')).toEqual([{ certificatePem: device, caCertificatePem: ca.pem, status: 'REVOKED' }]);
    expect(s.iot.certificates.get(certificateId)).toMatchObject({ status: 'REVOKED', caCertificateId: ca.id, registeredBy: 'RegisterCertificate', certificateArn: iotCertArn(certificateId) });
    const described = await s.client.send(new DescribeCertificateCommand({ certificateId }));
    expect(described.certificateDescription).toMatchObject({ certificateId, status: 'REVOKED', caCertificateId: ca.id, certificatePem: device });

    const refused = await rejectionOf<ConnectionRefused>(s.jitp.connect(device));
    expect(refused).toMatchObject({ reason: 'CERTIFICATE_REVOKED', certificateId });
    expect(s.iot.certificates.get(certificateId)!.status).toBe('REVOKED');
    // Another device of the same CA is still provisioned just in time.
    expect((await s.jitp.connect(await devicePem(ca, 'device-0003'))).provisioned).toBe(true);
  });

  it('revokes the registration when the device connected between the two calls', async () => {
    const s = setup();
    const ca = await issuingCa();
    await registered(s, ca);
    const device = await devicePem(ca, 'device-0004');
    const certificateId = certificateIdOf(device);
    // The first UpdateCertificate finds nothing; the device then connects and JITP registers it.
    s.iot.failNext('UpdateCertificate', iotError('ResourceNotFoundException'));
    await s.jitp.connect(device);

    const outcome = await s.registrar.revokeCertificate({ certificateId, certificatePem: device, caCertificatePem: ca.pem });

    expect(outcome).toBe('REVOKED');
    expect(s.iot.calls.map((c) => c.operation)).toEqual(['GetRegistrationCode', 'RegisterCACertificate', 'DescribeCACertificate', 'RegisterCertificate', 'UpdateCertificate']);
    expect(s.iot.certificates.get(certificateId)).toMatchObject({ status: 'REVOKED', registeredBy: 'JITP' });
  });

  it.each([
    ['ThrottlingException', 'client'],
    ['ServiceUnavailableException', 'server'],
  ] as const)('turns %s into IOT_UNAVAILABLE with a retry delay, keeping the SDK error as cause', async (name, fault) => {
    const s = setup();
    const ca = await issuingCa();
    const error = iotError(name, 'Rate exceeded', fault);
    s.iot.failNext('DescribeCACertificate', error);
    const err = await rejectionOf<CaError>(s.registrar.describeCa(ca.id));
    expect(err).toBeInstanceOf(CaError);
    expect(err).toMatchObject({ code: 'IOT_UNAVAILABLE', retryAfterSeconds: 5 });
    expect(err.cause).toBe(error);
    // Injected failures are used once.
    expect(await s.registrar.describeCa(ca.id)).toBeUndefined();
  });

  it('turns a throttled revocation into IOT_UNAVAILABLE and registers nothing', async () => {
    const s = setup();
    const ca = await issuingCa();
    const device = await devicePem(ca, 'device-0005');
    const error = iotError('ThrottlingException');
    s.iot.failNext('UpdateCertificate', error);
    const err = await rejectionOf<CaError>(s.registrar.revokeCertificate({ certificateId: certificateIdOf(device), certificatePem: device, caCertificatePem: ca.pem }));
    expect(err).toMatchObject({ code: 'IOT_UNAVAILABLE', retryAfterSeconds: 5 });
    expect(err.cause).toBe(error);
    expect(s.iot.callsOf('RegisterCertificate')).toEqual([]);
  });

  it('turns AccessDeniedException into INTERNAL, keeping the SDK error as cause', async () => {
    const s = setup();
    const ca = await issuingCa();
    const error = iotError('AccessDeniedException', 'User is not authorized to perform iot:RegisterCACertificate');
    s.iot.failNext('RegisterCACertificate', error);
    const err = await rejectionOf<CaError>(s.registrar.registerCa(registration(ca, await verificationPem(ca, s.iot.registrationCode))));
    expect(err).toBeInstanceOf(CaError);
    expect(err.code).toBe('INTERNAL');
    expect(err.retryAfterSeconds).toBeUndefined();
    expect(err.cause).toBe(error);
    expect(s.iot.cas.size).toBe(0);
  });

  it('deactivates a replaced device certificate JITP registered (INACTIVE), and says NOT_REGISTERED for one AWS IoT never saw', async () => {
    const s = setup();
    const ca = await issuingCa();
    await registered(s, ca);
    const device = await devicePem(ca, 'device-0007');
    const { certificateId } = await s.jitp.connect(device);
    expect(await s.registrar.deactivateCertificate(certificateId)).toBe('INACTIVE');
    expect(s.iot.callsOf('UpdateCertificate')).toEqual([{ certificateId, newStatus: 'INACTIVE' }]);
    expect(s.iot.certificates.get(certificateId)!.status).toBe('INACTIVE');
    // The device can no longer connect with it.
    expect(await rejectionOf<ConnectionRefused>(s.jitp.connect(device))).toMatchObject({ reason: 'CERTIFICATE_NOT_ACTIVE', certificateId });
    expect(await s.registrar.deactivateCertificate(certificateIdOf(await devicePem(ca, 'device-0008')))).toBe('NOT_REGISTERED');
    // Nothing is registered for it.
    expect(s.iot.callsOf('RegisterCertificate')).toEqual([]);
  });

  it('turns a throttled deactivation into IOT_UNAVAILABLE', async () => {
    const s = setup();
    const error = iotError('ThrottlingException');
    s.iot.failNext('UpdateCertificate', error);
    const err = await rejectionOf<CaError>(s.registrar.deactivateCertificate('ab'.repeat(32)));
    expect(err).toMatchObject({ code: 'IOT_UNAVAILABLE', retryAfterSeconds: 5 });
    expect(err.cause).toBe(error);
  });

  it('reports a failed revocation registration (CA unknown to AWS IoT) as INTERNAL', async () => {
    const s = setup();
    const ca = await issuingCa();
    const device = await devicePem(ca, 'device-0006');
    const err = await rejectionOf<CaError>(s.registrar.revokeCertificate({ certificateId: certificateIdOf(device), certificatePem: device, caCertificatePem: ca.pem }));
    expect(err.code).toBe('INTERNAL');
    expect((err.cause as Error).name).toBe('CertificateValidationException');
  });
});

describe('Class: FakeIot', () => {
  it('refuses a verification certificate whose CN is not the registration code', async () => {
    const s = setup();
    const ca = await issuingCa();
    const err = await rejectionOf(
      s.client.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: await verificationPem(ca, `${s.iot.registrationCode.slice(1)}0`), setAsActive: true })),
    );
    expect(err.name).toBe('CertificateValidationException');
    expect(err.message).toMatch(/registration code/);
    expect(s.iot.cas.size).toBe(0);
  });

  it('refuses a verification certificate signed by another key', async () => {
    const s = setup();
    const ca = await issuingCa();
    const other = createSoftwareSigner(newKey('P-256'), {});
    const err = await rejectionOf(
      s.client.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: await verificationPem(ca, s.iot.registrationCode, other), setAsActive: true })),
    );
    expect(err.name).toBe('CertificateValidationException');
    expect(err.message).toMatch(/not signed by the CA/);
    expect(s.iot.cas.size).toBe(0);
  });

  it('refuses a missing verification certificate in DEFAULT mode and a certificate that is not a CA', async () => {
    const s = setup();
    const ca = await issuingCa();
    expect((await rejectionOf(s.client.send(new RegisterCACertificateCommand({ caCertificate: ca.pem })))).name).toBe('CertificateValidationException');
    const device = await devicePem(ca, 'not-a-ca');
    const err = await rejectionOf(s.client.send(new RegisterCACertificateCommand({ caCertificate: device, verificationCertificate: await verificationPem(ca, s.iot.registrationCode) })));
    expect(err.name).toBe('CertificateValidationException');
    expect(err.message).toMatch(/not a CA/);
    expect(s.iot.cas.size).toBe(0);
  });

  it.each(['P-256', 'P-384', 'RSA-2048'] as const)('checks the verification signature of a %s CA key', async (type) => {
    const s = setup();
    const ca = await issuingCa(newKey(type));
    const forger = createSoftwareSigner(newKey(type), {});
    const forged = await verificationPem(ca, s.iot.registrationCode, forger);
    expect((await rejectionOf(s.iot.registerCACertificate({ caCertificate: ca.pem, verificationCertificate: forged }))).name).toBe('CertificateValidationException');

    const out = await s.iot.registerCACertificate({ caCertificate: ca.pem, verificationCertificate: await verificationPem(ca, s.iot.registrationCode) });
    expect(out).toMatchObject({ certificateId: ca.id, certificateArn: iotCaArn(ca.id) });
    expect(s.iot.cas.get(ca.id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });

    // Device certificates are checked against the CA key as well.
    const stranger = await devicePem(ca, 'forged', forger);
    expect((await rejectionOf(s.iot.registerCertificate({ certificatePem: stranger, caCertificatePem: ca.pem }))).name).toBe('CertificateValidationException');
    const device = await devicePem(ca, 'genuine');
    expect((await s.iot.registerCertificate({ certificatePem: device, caCertificatePem: ca.pem, status: 'ACTIVE' })).certificateId).toBe(certificateIdOf(device));
  });

  it(`allows ${FAKE_IOT_MAX_CAS_PER_SUBJECT} registered CA certificates with the same subject, not one more`, async () => {
    const s = setup();
    const key = newKey('P-256');
    // The same generation gives the same subject; each certificate (its own serial) is a distinct CA certificate.
    const cas = await Promise.all(Array.from({ length: FAKE_IOT_MAX_CAS_PER_SUBJECT + 1 }, () => issuingCa(key, { generation: 7 })));
    expect(new Set(cas.map((c) => c.record.subject)).size).toBe(1);
    const register = async (ca: TestCa) =>
      s.client.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: await verificationPem(ca, s.iot.registrationCode), setAsActive: true }));
    for (const ca of cas.slice(0, -1)) expect((await register(ca)).certificateId).toBe(ca.id);

    const err = await rejectionOf(register(cas.at(-1)!));
    expect(err.name).toBe('LimitExceededException');
    expect(s.iot.cas.size).toBe(FAKE_IOT_MAX_CAS_PER_SUBJECT);
    // Another subject is not affected.
    const other = await issuingCa(key, { generation: 8 });
    expect((await register(other)).certificateId).toBe(other.id);
    expect((await s.client.send(new ListCACertificatesCommand({}))).certificates).toHaveLength(FAKE_IOT_MAX_CAS_PER_SUBJECT + 1);
  });

  it('refuses to register a CA or device certificate twice', async () => {
    const s = setup();
    const ca = await issuingCa();
    const input = { caCertificate: ca.pem, verificationCertificate: await verificationPem(ca, s.iot.registrationCode) };
    await s.iot.registerCACertificate(input);
    expect(await rejectionOf(s.iot.registerCACertificate(input))).toMatchObject({ name: 'ResourceAlreadyExistsException', resourceId: ca.id });
    const device = await devicePem(ca, 'twice');
    await s.client.send(new RegisterCertificateCommand({ certificatePem: device, caCertificatePem: ca.pem, status: 'INACTIVE' }));
    const again = await rejectionOf(s.client.send(new RegisterCertificateCommand({ certificatePem: device, caCertificatePem: ca.pem, status: 'ACTIVE' })));
    expect(again.name).toBe('ResourceAlreadyExistsException');
    expect(s.iot.certificates.get(certificateIdOf(device))!.status).toBe('INACTIVE');
  });

  it('answers ResourceNotFoundException for unknown certificates', async () => {
    const s = setup();
    const id = 'a'.repeat(64);
    for (const p of [
      s.iot.describeCACertificate({ certificateId: id }),
      s.iot.updateCACertificate({ certificateId: id, newStatus: 'ACTIVE' }),
      s.iot.describeCertificate({ certificateId: id }),
      s.iot.updateCertificate({ certificateId: id, newStatus: 'REVOKED' }),
    ]) {
      const err = await rejectionOf(p);
      expect(err.name).toBe('ResourceNotFoundException');
      expect(err).toMatchObject({ $fault: 'client', $metadata: { httpStatusCode: 400 } });
    }
  });

  it('never lets a request reach AWS, and rejects commands it does not implement', async () => {
    const bare = newFakeIotClient();
    expect((await rejectionOf(bare.send(new ListCACertificatesCommand({})))).message).toMatch(/escaped the fake/);
    const s = setup();
    expect((await rejectionOf(s.client.send(new DeleteCACertificateCommand({ certificateId: 'a'.repeat(64) })))).message).toMatch(/DeleteCACertificateCommand is not implemented/);
  });
});

describe('Class: JitpSimulator', () => {
  it('provisions just in time only for an ACTIVE CA with auto-registration ENABLE', async () => {
    const s = setup();
    const ca = await issuingCa();
    const unknown = await rejectionOf<ConnectionRefused>(s.jitp.connect(await devicePem(ca, 'early')));
    expect(unknown.reason).toBe('UNKNOWN_CA');
    s.iot.seedCa(ca.pem, { status: 'ACTIVE', autoRegistrationStatus: 'DISABLE', registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE } });
    expect((await rejectionOf<ConnectionRefused>(s.jitp.connect(await devicePem(ca, 'disabled')))).reason).toBe('AUTO_REGISTRATION_DISABLED');
    await s.iot.updateCACertificate({ certificateId: ca.id, newStatus: 'INACTIVE', newAutoRegistrationStatus: 'ENABLE' });
    expect((await rejectionOf<ConnectionRefused>(s.jitp.connect(await devicePem(ca, 'inactive')))).reason).toBe('CA_NOT_ACTIVE');
    // A certificate in the CA's name but not signed by its key is no device of this CA.
    const forged = await devicePem(ca, 'forged', createSoftwareSigner(newKey('P-256'), {}));
    await s.iot.updateCACertificate({ certificateId: ca.id, newStatus: 'ACTIVE' });
    expect((await rejectionOf<ConnectionRefused>(s.jitp.connect(forged))).reason).toBe('UNKNOWN_CA');
    expect(s.iot.certificates.size).toBe(0);
    expect((await s.jitp.connect(await devicePem(ca, 'welcome'))).provisioned).toBe(true);
    expect(s.iot.certificates.size).toBe(1);
  });

  it('leaves a certificate PENDING_ACTIVATION and refuses it when its CA has no provisioning template (JITR)', async () => {
    const s = setup();
    const ca = await issuingCa();
    s.iot.seedCa(ca.pem, { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
    const device = await devicePem(ca, 'jitr');

    const refused = await rejectionOf<ConnectionRefused>(s.jitp.connect(device));

    expect(refused).toMatchObject({ reason: 'CERTIFICATE_NOT_ACTIVE', certificateId: certificateIdOf(device) });
    expect(s.iot.certificates.get(certificateIdOf(device))).toMatchObject({ status: 'PENDING_ACTIVATION', registeredBy: 'JITP', caCertificateId: ca.id });
    expect(s.iot.certificates.get(certificateIdOf(device))).not.toHaveProperty('jitp');
    expect(s.iot.calls).toEqual([]);
  });

  it('refuses a certificate outside its validity and a malformed one, registering nothing', async () => {
    const ca = await issuingCa();
    const iot = new FakeIot({ clock: () => new Date(Date.now() + 2 * 365 * 86_400_000) });
    iot.seedCa(ca.pem, { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', registrationConfig: { templateBody: TEMPLATE, roleArn: ROLE } });
    const jitp = new JitpSimulator(iot);

    expect((await rejectionOf<ConnectionRefused>(jitp.connect(await devicePem(ca, 'expired')))).reason).toBe('CERTIFICATE_EXPIRED');
    expect((await rejectionOf<ConnectionRefused>(jitp.connect('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'))).reason).toBe('MALFORMED_CERTIFICATE');
    expect(iot.certificates.size).toBe(0);
  });
});
