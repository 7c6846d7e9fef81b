/**
 * What AWS IoT does when a device connects with a certificate, played against
 * the AWS IoT SDK fake's registrations (iot-fake.ts): a registered certificate
 * connects only when ACTIVE; an unregistered one is registered on the spot
 * (just in time) when a registered CA that is ACTIVE with auto-registration
 * ENABLE issued it. With the CA's provisioning template it becomes ACTIVE
 * (JITP; the template that applied is kept on the record); without one it is
 * left PENDING_ACTIVATION (JITR) and the connection is refused. A connection
 * is no API call: it is not in the fake's `calls`.
 *
 * A choice where AWS IoT's behaviour is not pinned down here: a registered,
 * ACTIVE device certificate connects whatever its CA's status.
 */
import { x509 } from '../../src/pki/x509.js';
import { iotCertificateId, type FakeIot, type FakeIotCertificate } from './iot-fake.js';

/** Why AWS IoT refused a device's connection. */
export type ConnectionRefusal =
  | 'MALFORMED_CERTIFICATE'
  /** The certificate is registered with status REVOKED. */
  | 'CERTIFICATE_REVOKED'
  /** The certificate is registered with another status than ACTIVE or REVOKED (INACTIVE, PENDING_ACTIVATION…). */
  | 'CERTIFICATE_NOT_ACTIVE'
  /** Outside its validity period. */
  | 'CERTIFICATE_EXPIRED'
  /** Not registered, and no registered CA (issuer DN and signature) issued it. */
  | 'UNKNOWN_CA'
  /** Not registered, and its CA is not ACTIVE. */
  | 'CA_NOT_ACTIVE'
  /** Not registered, and its CA has auto-registration DISABLE. */
  | 'AUTO_REGISTRATION_DISABLED';

/** Thrown by `JitpSimulator.connect` when AWS IoT would refuse the device's TLS connection. */
export class ConnectionRefused extends Error {
  constructor(
    readonly reason: ConnectionRefusal,
    readonly certificateId: string | undefined,
    detail: string,
  ) {
    super(`AWS IoT refused the connection (${reason}): ${detail}`);
    this.name = 'ConnectionRefused';
  }
}

export interface DeviceConnection {
  certificateId: string;
  status: FakeIotCertificate['status'];
  /** True when this connection registered the certificate (JITP). */
  provisioned: boolean;
}

export class JitpSimulator {
  constructor(private readonly iot: FakeIot) {}

  /** A device's TLS connection with `certificatePem`; refusals throw ConnectionRefused. */
  async connect(certificatePem: string): Promise<DeviceConnection> {
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certificatePem);
    } catch (e) {
      throw new ConnectionRefused('MALFORMED_CERTIFICATE', undefined, (e as Error).message);
    }
    const certificateId = iotCertificateId(cert.rawData);
    const now = this.iot.clock();
    if (now < cert.notBefore || now > cert.notAfter) throw new ConnectionRefused('CERTIFICATE_EXPIRED', certificateId, 'outside its validity');
    const known = this.iot.certificates.get(certificateId);
    if (known) return admit(known, false);
    const ca = await this.iot.issuerOf(cert);
    if (!ca) throw new ConnectionRefused('UNKNOWN_CA', certificateId, `no registered CA issued it (issuer ${cert.issuer})`);
    if (ca.status !== 'ACTIVE') throw new ConnectionRefused('CA_NOT_ACTIVE', certificateId, `CA ${ca.certificateId} is ${ca.status}`);
    if (ca.autoRegistrationStatus !== 'ENABLE') {
      throw new ConnectionRefused('AUTO_REGISTRATION_DISABLED', certificateId, `CA ${ca.certificateId} has auto-registration ${ca.autoRegistrationStatus}`);
    }
    // Registered while we verified (another connection or a RegisterCertificate): that registration stands.
    const raced = this.iot.certificates.get(certificateId);
    if (raced) return admit(raced, false);
    const template = ca.registrationConfig?.templateBody ? { ...ca.registrationConfig } : undefined;
    const record = this.iot.recordCertificate(certificatePem, cert, {
      caCertificateId: ca.certificateId,
      status: template ? 'ACTIVE' : 'PENDING_ACTIVATION',
      registeredBy: 'JITP',
      ...(template ? { jitp: template } : {}),
    });
    return admit(record, true);
  }
}

function admit(c: FakeIotCertificate, provisioned: boolean): DeviceConnection {
  if (c.status === 'REVOKED') throw new ConnectionRefused('CERTIFICATE_REVOKED', c.certificateId, 'the certificate is REVOKED');
  if (c.status !== 'ACTIVE') throw new ConnectionRefused('CERTIFICATE_NOT_ACTIVE', c.certificateId, `the certificate is ${c.status}`);
  return { certificateId: c.certificateId, status: c.status, provisioned };
}
