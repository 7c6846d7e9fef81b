/**
 * An in-process stand-in for the AWS IoT control plane (the CA registration and
 * certificate calls a CA needs), for tests that must never reach AWS: what AWS
 * IoT answers to each command. What AWS IoT does when a device connects
 * (just-in-time provisioning) is simulated apart, in jitp-simulator.ts.
 *
 * The fake does the work AWS IoT does, on real certificates (@peculiar/x509):
 * - certificate ids are the lower-case hex SHA-256 of the certificate DER;
 * - RegisterCACertificate checks that the certificate is a CA (basicConstraints
 *   CA:TRUE) within its validity, and in DEFAULT mode that the verification
 *   certificate names the account's registration code as its subject CN and is
 *   signed by the CA's key; at most 10 CA certificates may share a subject DN;
 * - RegisterCertificate checks the device certificate is signed by a registered CA;
 * - UpdateCertificate keeps REVOKED final.
 *
 * Errors are IoTServiceException instances named as AWS IoT names them (see
 * `iotError`). Choices where AWS IoT's behaviour is not pinned down here:
 * - RegisterCertificate for a device certificate whose CA is not registered
 *   (or does not verify it) throws CertificateValidationException, not
 *   ResourceNotFoundException (the API documents no ResourceNotFoundException).
 *
 * Transport: `FakeIot.install` puts aws-sdk-client-mock handlers on an IoTClient's
 * `send` (the SDK middleware, retries included, is bypassed), each typed with its
 * command's input and output. Any command the fake does not implement is
 * rejected, never sent.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  IoTServiceException,
  ListCACertificatesCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
  type AutoRegistrationStatus,
  type CACertificateStatus,
  type CertificateMode,
  type CertificateStatus,
  type DescribeCACertificateCommandInput,
  type DescribeCACertificateCommandOutput,
  type DescribeCertificateCommandInput,
  type DescribeCertificateCommandOutput,
  type GetRegistrationCodeCommandInput,
  type GetRegistrationCodeCommandOutput,
  type IoTClientConfig,
  type ListCACertificatesCommandInput,
  type ListCACertificatesCommandOutput,
  type RegisterCACertificateCommandInput,
  type RegisterCACertificateCommandOutput,
  type RegisterCertificateCommandInput,
  type RegisterCertificateCommandOutput,
  type RegistrationConfig,
  type Tag,
  type UpdateCACertificateCommandInput,
  type UpdateCACertificateCommandOutput,
  type UpdateCertificateCommandInput,
  type UpdateCertificateCommandOutput,
} from '@aws-sdk/client-iot';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { x509 } from '../../src/pki/x509.js';
import { answerAll, offlineClientConfig, type CommandCall, type CommandHandlers, type CommandInputs } from './aws-sdk-fake.js';

export const FAKE_IOT_REGION = 'us-east-1';
export const FAKE_IOT_ACCOUNT = '111122223333';
/** AWS IoT's limit on registered CA certificates that share one subject DN. */
export const FAKE_IOT_MAX_CAS_PER_SUBJECT = 10;

export const iotCaArn = (certificateId: string): string => `arn:aws:iot:${FAKE_IOT_REGION}:${FAKE_IOT_ACCOUNT}:cacert/${certificateId}`;
export const iotCertArn = (certificateId: string): string => `arn:aws:iot:${FAKE_IOT_REGION}:${FAKE_IOT_ACCOUNT}:cert/${certificateId}`;

/** An error shaped like the ones the IoT client throws (name, $fault, $metadata). */
export function iotError(name: string, message = `${name} (fake IoT)`, fault: 'client' | 'server' = 'client', httpStatusCode = fault === 'server' ? 500 : 400): IoTServiceException {
  return new IoTServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode, requestId: randomUUID() } });
}

/** The id AWS IoT gives a certificate: lower-case hex SHA-256 of its DER. */
export function iotCertificateId(certificate: string | Uint8Array | ArrayBuffer): string {
  const der = typeof certificate === 'string' ? new Uint8Array(x509.PemConverter.decodeFirst(certificate)) : new Uint8Array(certificate);
  return createHash('sha256').update(der).digest('hex');
}

/** A registered CA certificate, as the fake holds it. */
export interface FakeIotCa {
  certificateId: string;
  certificateArn: string;
  /** The PEM as it was registered. */
  pem: string;
  cert: x509.X509Certificate;
  /** The subject DN (RFC 4514 string form). */
  subject: string;
  /** Hex of the subject Name DER: what the same-subject limit and issuer matching compare. */
  subjectKey: string;
  status: CACertificateStatus;
  autoRegistrationStatus: AutoRegistrationStatus;
  registrationConfig?: RegistrationConfig;
  tags: Tag[];
  certificateMode: CertificateMode;
  creationDate: Date;
  lastModifiedDate: Date;
  customerVersion: number;
}

/** A registered device certificate, as the fake holds it. */
export interface FakeIotCertificate {
  certificateId: string;
  certificateArn: string;
  pem: string;
  cert: x509.X509Certificate;
  caCertificateId?: string;
  status: CertificateStatus;
  /** How it got registered: the RegisterCertificate API, JIT registration on a first connection (jitp-simulator.ts), or `seedCertificate`. */
  registeredBy: 'RegisterCertificate' | 'JITP' | 'seed';
  /** For JITP: the CA's registration config (template and role) that applied. */
  jitp?: RegistrationConfig;
  creationDate: Date;
  lastModifiedDate: Date;
  customerVersion: number;
}

/** The commands the fake answers; any other is rejected. */
export const FAKE_IOT_COMMANDS = {
  GetRegistrationCode: GetRegistrationCodeCommand,
  RegisterCACertificate: RegisterCACertificateCommand,
  DescribeCACertificate: DescribeCACertificateCommand,
  ListCACertificates: ListCACertificatesCommand,
  UpdateCACertificate: UpdateCACertificateCommand,
  RegisterCertificate: RegisterCertificateCommand,
  DescribeCertificate: DescribeCertificateCommand,
  UpdateCertificate: UpdateCertificateCommand,
};

export type FakeIotOperation = keyof typeof FAKE_IOT_COMMANDS;

export type FakeIotInputs = CommandInputs<typeof FAKE_IOT_COMMANDS>;
export type FakeIotCall = CommandCall<typeof FAKE_IOT_COMMANDS>;

export interface FakeIotOptions {
  /** The account's registration code (64 random hex characters by default). */
  registrationCode?: string;
  /** The time validity periods are checked against (the system clock by default). */
  clock?: () => Date;
}

export interface SeedCaOptions {
  status?: CACertificateStatus;
  autoRegistrationStatus?: AutoRegistrationStatus;
  registrationConfig?: RegistrationConfig;
  tags?: Tag[];
  certificateMode?: CertificateMode;
}

const metadata = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });
const hex = (b: ArrayBuffer) => Buffer.from(b).toString('hex');

function parseCertificate(pem: string | undefined, what: string): x509.X509Certificate {
  if (!pem) throw iotError('InvalidRequestException', `${what} is required`);
  try {
    return new x509.X509Certificate(pem);
  } catch (e) {
    throw iotError('CertificateValidationException', `${what} could not be parsed: ${(e as Error).message}`);
  }
}

/** Whether `issuer`'s public key verifies `cert`'s signature (false on any error). */
async function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** A stateful fake of the AWS IoT control plane calls a CA makes. */
export class FakeIot implements CommandHandlers<typeof FAKE_IOT_COMMANDS> {
  readonly registrationCode: string;
  /** Registered CA certificates by certificate id. */
  readonly cas = new Map<string, FakeIotCa>();
  /** Registered device certificates by certificate id. */
  readonly certificates = new Map<string, FakeIotCertificate>();
  /** Every call that reached the fake (after any injected failure), in order. */
  readonly calls: FakeIotCall[] = [];
  /** The time validity periods are checked against. */
  readonly clock: () => Date;
  private readonly failures = new Map<FakeIotOperation, Error[]>();

  constructor(options: FakeIotOptions = {}) {
    this.registrationCode = options.registrationCode ?? randomBytes(32).toString('hex');
    this.clock = options.clock ?? (() => new Date());
  }

  /** The next `times` calls of `operation` fail with `error` (queued after earlier injected failures). */
  failNext(operation: FakeIotOperation, error: Error, times = 1): this {
    const queue = this.failures.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(operation, queue);
    return this;
  }

  /** Inputs of the calls of one operation that reached the fake. */
  callsOf<K extends FakeIotOperation>(operation: K): Array<FakeIotInputs[K]> {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.input as FakeIotInputs[K]);
  }

  private enter<K extends FakeIotOperation>(operation: K, input: FakeIotInputs[K]): void {
    const error = this.failures.get(operation)?.shift();
    if (error) throw error;
    this.calls.push({ operation, input } as FakeIotCall);
  }

  private checkValidity(cert: x509.X509Certificate, what: string): void {
    const now = this.clock();
    if (now < cert.notBefore || now > cert.notAfter) {
      throw iotError('CertificateValidationException', `${what} is not valid now (${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()})`);
    }
  }

  /** The registered CA that issued `cert`: subject DN = its issuer DN, and its key verifies the signature. */
  async issuerOf(cert: x509.X509Certificate): Promise<FakeIotCa | undefined> {
    const issuerKey = hex(cert.issuerName.toArrayBuffer());
    for (const ca of [...this.cas.values()].filter((c) => c.subjectKey === issuerKey)) {
      if (await signedBy(cert, ca.cert)) return ca;
    }
    return undefined;
  }

  /** Registers a CA certificate directly (no verification certificate, no limit check, no call recorded). */
  seedCa(pem: string, options: SeedCaOptions = {}): FakeIotCa {
    const cert = new x509.X509Certificate(pem);
    const certificateId = iotCertificateId(cert.rawData);
    const now = this.clock();
    const ca: FakeIotCa = {
      certificateId,
      certificateArn: iotCaArn(certificateId),
      pem,
      cert,
      subject: cert.subject,
      subjectKey: hex(cert.subjectName.toArrayBuffer()),
      status: options.status ?? 'ACTIVE',
      autoRegistrationStatus: options.autoRegistrationStatus ?? 'DISABLE',
      ...(options.registrationConfig ? { registrationConfig: { ...options.registrationConfig } } : {}),
      tags: options.tags ?? [],
      certificateMode: options.certificateMode ?? 'DEFAULT',
      creationDate: now,
      lastModifiedDate: now,
      customerVersion: 1,
    };
    this.cas.set(certificateId, ca);
    return ca;
  }

  /** Registers a device certificate directly (no checks, no call recorded). */
  seedCertificate(pem: string, options: { status?: CertificateStatus; caCertificateId?: string } = {}): FakeIotCertificate {
    return this.recordCertificate(pem, new x509.X509Certificate(pem), { status: options.status ?? 'ACTIVE', registeredBy: 'seed', ...options });
  }

  /** Adds a device certificate registration as it is (no checks, no call recorded), replacing any of the same id. */
  recordCertificate(
    pem: string,
    cert: x509.X509Certificate,
    fields: Pick<FakeIotCertificate, 'status' | 'registeredBy'> & Partial<Pick<FakeIotCertificate, 'caCertificateId' | 'jitp'>>,
  ): FakeIotCertificate {
    const certificateId = iotCertificateId(cert.rawData);
    const now = this.clock();
    const record: FakeIotCertificate = {
      certificateId,
      certificateArn: iotCertArn(certificateId),
      pem,
      cert,
      ...fields,
      creationDate: now,
      lastModifiedDate: now,
      customerVersion: 1,
    };
    this.certificates.set(certificateId, record);
    return record;
  }

  private ca(certificateId: string | undefined): FakeIotCa {
    const ca = certificateId ? this.cas.get(certificateId) : undefined;
    if (!ca) throw iotError('ResourceNotFoundException', `CA certificate ${certificateId} does not exist`);
    return ca;
  }

  private certificate(certificateId: string | undefined): FakeIotCertificate {
    const c = certificateId ? this.certificates.get(certificateId) : undefined;
    if (!c) throw iotError('ResourceNotFoundException', `Certificate ${certificateId} does not exist`);
    return c;
  }

  async getRegistrationCode(input: GetRegistrationCodeCommandInput = {}): Promise<GetRegistrationCodeCommandOutput> {
    this.enter('GetRegistrationCode', input);
    return { $metadata: metadata(), registrationCode: this.registrationCode };
  }

  async registerCACertificate(input: RegisterCACertificateCommandInput): Promise<RegisterCACertificateCommandOutput> {
    this.enter('RegisterCACertificate', input);
    const caCert = parseCertificate(input.caCertificate, 'caCertificate');
    const certificateId = iotCertificateId(caCert.rawData);
    const alreadyExists = () =>
      Object.assign(iotError('ResourceAlreadyExistsException', `CA certificate ${certificateId} is already registered`, 'client', 409), {
        resourceId: certificateId,
        resourceArn: iotCaArn(certificateId),
      });
    if (this.cas.has(certificateId)) throw alreadyExists();
    if (!caCert.getExtension(x509.BasicConstraintsExtension)?.ca) {
      throw iotError('CertificateValidationException', 'caCertificate is not a CA certificate (basicConstraints CA:TRUE missing)');
    }
    this.checkValidity(caCert, 'caCertificate');
    const mode: CertificateMode = input.certificateMode ?? 'DEFAULT';
    if (mode === 'DEFAULT') {
      if (!input.verificationCertificate) throw iotError('CertificateValidationException', 'verificationCertificate is required in DEFAULT mode');
      const verification = parseCertificate(input.verificationCertificate, 'verificationCertificate');
      const cn = verification.subjectName.getField('CN');
      if (cn.length !== 1 || cn[0] !== this.registrationCode) {
        throw iotError('CertificateValidationException', `verificationCertificate subject CN ${JSON.stringify(cn)} is not the registration code`);
      }
      if (!(await signedBy(verification, caCert))) {
        throw iotError('CertificateValidationException', 'verificationCertificate is not signed by the CA certificate key');
      }
      this.checkValidity(verification, 'verificationCertificate');
    }
    // No await below: the checks and the insertion are atomic for concurrent calls.
    if (this.cas.has(certificateId)) throw alreadyExists();
    const subjectKey = hex(caCert.subjectName.toArrayBuffer());
    const sameSubject = [...this.cas.values()].filter((c) => c.subjectKey === subjectKey).length;
    if (sameSubject >= FAKE_IOT_MAX_CAS_PER_SUBJECT) {
      throw iotError('LimitExceededException', `${sameSubject} CA certificates with subject ${caCert.subject} are registered already (limit ${FAKE_IOT_MAX_CAS_PER_SUBJECT})`, 'client', 410);
    }
    const now = this.clock();
    this.cas.set(certificateId, {
      certificateId,
      certificateArn: iotCaArn(certificateId),
      pem: input.caCertificate!,
      cert: caCert,
      subject: caCert.subject,
      subjectKey,
      status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
      ...(input.registrationConfig ? { registrationConfig: { ...input.registrationConfig } } : {}),
      tags: (input.tags ?? []).map((t) => ({ ...t })),
      certificateMode: mode,
      creationDate: now,
      lastModifiedDate: now,
      customerVersion: 1,
    });
    return { $metadata: metadata(), certificateArn: iotCaArn(certificateId), certificateId };
  }

  async describeCACertificate(input: DescribeCACertificateCommandInput): Promise<DescribeCACertificateCommandOutput> {
    this.enter('DescribeCACertificate', input);
    const ca = this.ca(input.certificateId);
    return {
      $metadata: metadata(),
      certificateDescription: {
        certificateArn: ca.certificateArn,
        certificateId: ca.certificateId,
        status: ca.status,
        certificatePem: ca.pem,
        ownedBy: FAKE_IOT_ACCOUNT,
        creationDate: ca.creationDate,
        autoRegistrationStatus: ca.autoRegistrationStatus,
        lastModifiedDate: ca.lastModifiedDate,
        customerVersion: ca.customerVersion,
        generationId: randomUUID(),
        validity: { notBefore: ca.cert.notBefore, notAfter: ca.cert.notAfter },
        certificateMode: ca.certificateMode,
      },
      ...(ca.registrationConfig ? { registrationConfig: { ...ca.registrationConfig } } : {}),
    };
  }

  async listCACertificates(input: ListCACertificatesCommandInput = {}): Promise<ListCACertificatesCommandOutput> {
    this.enter('ListCACertificates', input);
    return {
      $metadata: metadata(),
      certificates: [...this.cas.values()].map((ca) => ({
        certificateArn: ca.certificateArn,
        certificateId: ca.certificateId,
        status: ca.status,
        creationDate: ca.creationDate,
      })),
    };
  }

  async updateCACertificate(input: UpdateCACertificateCommandInput): Promise<UpdateCACertificateCommandOutput> {
    this.enter('UpdateCACertificate', input);
    const ca = this.ca(input.certificateId);
    if (input.newStatus !== undefined && input.newStatus !== 'ACTIVE' && input.newStatus !== 'INACTIVE') {
      throw iotError('InvalidRequestException', `newStatus ${input.newStatus} is not a CA certificate status`);
    }
    if (input.removeAutoRegistration && input.registrationConfig) {
      throw iotError('InvalidRequestException', 'registrationConfig and removeAutoRegistration are exclusive');
    }
    if (input.newStatus) ca.status = input.newStatus;
    if (input.newAutoRegistrationStatus) ca.autoRegistrationStatus = input.newAutoRegistrationStatus;
    if (input.registrationConfig) ca.registrationConfig = { ...input.registrationConfig };
    if (input.removeAutoRegistration) delete ca.registrationConfig;
    ca.lastModifiedDate = this.clock();
    ca.customerVersion++;
    return { $metadata: metadata() };
  }

  async registerCertificate(input: RegisterCertificateCommandInput): Promise<RegisterCertificateCommandOutput> {
    this.enter('RegisterCertificate', input);
    const cert = parseCertificate(input.certificatePem, 'certificatePem');
    const certificateId = iotCertificateId(cert.rawData);
    const alreadyExists = () =>
      Object.assign(iotError('ResourceAlreadyExistsException', `Certificate ${certificateId} is already registered`, 'client', 409), {
        resourceId: certificateId,
        resourceArn: iotCertArn(certificateId),
      });
    if (this.certificates.has(certificateId)) throw alreadyExists();
    let ca: FakeIotCa | undefined;
    if (input.caCertificatePem) {
      const caId = iotCertificateId(parseCertificate(input.caCertificatePem, 'caCertificatePem').rawData);
      ca = this.cas.get(caId);
      if (!ca) throw iotError('CertificateValidationException', `CA certificate ${caId} is not registered`);
      if (!(await signedBy(cert, ca.cert))) throw iotError('CertificateValidationException', `certificate is not signed by CA certificate ${caId}`);
    } else {
      ca = await this.issuerOf(cert);
      if (!ca) throw iotError('CertificateValidationException', 'certificate is not signed by a registered CA certificate');
    }
    this.checkValidity(cert, 'certificatePem');
    const status: CertificateStatus = input.status ?? (input.setAsActive ? 'ACTIVE' : 'INACTIVE');
    if (this.certificates.has(certificateId)) throw alreadyExists();
    this.recordCertificate(input.certificatePem!, cert, { caCertificateId: ca.certificateId, status, registeredBy: 'RegisterCertificate' });
    return { $metadata: metadata(), certificateArn: iotCertArn(certificateId), certificateId };
  }

  async describeCertificate(input: DescribeCertificateCommandInput): Promise<DescribeCertificateCommandOutput> {
    this.enter('DescribeCertificate', input);
    const c = this.certificate(input.certificateId);
    return {
      $metadata: metadata(),
      certificateDescription: {
        certificateArn: c.certificateArn,
        certificateId: c.certificateId,
        ...(c.caCertificateId ? { caCertificateId: c.caCertificateId } : {}),
        status: c.status,
        certificatePem: c.pem,
        ownedBy: FAKE_IOT_ACCOUNT,
        creationDate: c.creationDate,
        lastModifiedDate: c.lastModifiedDate,
        customerVersion: c.customerVersion,
        generationId: randomUUID(),
        validity: { notBefore: c.cert.notBefore, notAfter: c.cert.notAfter },
        certificateMode: 'DEFAULT',
      },
    };
  }

  async updateCertificate(input: UpdateCertificateCommandInput): Promise<UpdateCertificateCommandOutput> {
    this.enter('UpdateCertificate', input);
    const c = this.certificate(input.certificateId);
    const to = input.newStatus;
    if (!to) throw iotError('InvalidRequestException', 'newStatus is required');
    if (to === 'PENDING_TRANSFER' || to === 'PENDING_ACTIVATION') throw iotError('InvalidRequestException', `newStatus cannot be ${to}`);
    if (c.status === 'REVOKED' && to !== 'REVOKED') {
      throw iotError('CertificateStateException', `Certificate ${c.certificateId} is REVOKED; it cannot become ${to}`, 'client', 406);
    }
    c.status = to;
    c.lastModifiedDate = this.clock();
    c.customerVersion++;
    return { $metadata: metadata() };
  }

  /**
   * Routes an IoTClient's `send` (via aws-sdk-client-mock) to this fake. Commands
   * the fake does not implement are rejected with an Error naming them.
   */
  install(client: IoTClient = newFakeIotClient()): { client: IoTClient; mock: AwsClientStub<IoTClient> } {
    const mock = mockClient(client);
    // The stub's default behaviour: the per-command handlers below take precedence over it.
    mock.send.callsFake(async (command: { constructor: { name: string } }) => {
      throw new Error(`iot-fake: ${command.constructor.name} is not implemented by the fake`);
    });
    answerAll(mock, FAKE_IOT_COMMANDS, this);
    return { client, mock };
  }
}

/**
 * An IoTClient that can never reach AWS: dummy credentials, and a request handler
 * that fails if a call ever gets past the mock. `maxAttempts` defaults to 1.
 */
export function newFakeIotClient(config: IoTClientConfig = {}): IoTClient {
  return new IoTClient({ ...offlineClientConfig('iot-fake', FAKE_IOT_REGION), ...config });
}
