import {
  DescribeCACertificateCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../service/errors.js';
import type { IotCaRegistration, IotRegistrar } from '../service/ports.js';

const nameOf = (e: unknown) => (e as { name?: string })?.name ?? '';

/** AWS IoT errors become IOT_UNAVAILABLE (retry later) or INTERNAL (needs an operator); the cause is for the log. */
export function iotError(what: string, e: unknown): CaError {
  if (e instanceof CaError) return e;
  return isTransientAwsError(e)
    ? new CaError('IOT_UNAVAILABLE', 'AWS IoT is unavailable; retry later', { cause: e, retryAfterSeconds: 5 })
    : new CaError('INTERNAL', `AWS IoT refused to ${what}`, { cause: e });
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw iotError(what, e);
  }
}

/** The AWS IoT side of the CA lifecycle: CA registration for JITP, certificate revocation, and deactivation of a re-enrolled device's old certificate. */
export function awsIotRegistrar(client: IoTClient): IotRegistrar {
  const describeCa = async (certificateId: string): Promise<IotCaRegistration | undefined> => {
    try {
      const out = await client.send(new DescribeCACertificateCommand({ certificateId }));
      const d = out.certificateDescription;
      if (!d?.certificateId) return undefined;
      return {
        certificateId: d.certificateId,
        status: d.status ?? 'UNKNOWN',
        autoRegistration: d.autoRegistrationStatus === 'ENABLE',
        ...(out.registrationConfig?.templateBody ? { templateBody: out.registrationConfig.templateBody } : {}),
        ...(out.registrationConfig?.roleArn ? { roleArn: out.registrationConfig.roleArn } : {}),
      };
    } catch (e) {
      if (nameOf(e) === 'ResourceNotFoundException') return undefined;
      throw iotError('describe a CA certificate', e);
    }
  };
  const updateCa: IotRegistrar['updateCa'] = async (certificateId, { templateBody, roleArn }) => {
    await call('update a CA certificate', () =>
      client.send(
        new UpdateCACertificateCommand({
          certificateId,
          newStatus: 'ACTIVE',
          newAutoRegistrationStatus: 'ENABLE',
          registrationConfig: { templateBody, roleArn },
        }),
      ),
    );
    const after = await describeCa(certificateId);
    if (!after) throw iotError('update a CA certificate', new Error(`CA certificate ${certificateId} vanished after UpdateCACertificate`));
    return after;
  };
  return {
    mode: 'aws',
    async getRegistrationCode() {
      const out = await call('give a registration code', () => client.send(new GetRegistrationCodeCommand({})));
      if (!out.registrationCode) throw iotError('give a registration code', new Error('GetRegistrationCode returned no code'));
      return out.registrationCode;
    },
    describeCa,
    async registerCa(r) {
      let certificateId: string | undefined;
      try {
        const out = await client.send(
          new RegisterCACertificateCommand({
            caCertificate: r.caCertificatePem,
            verificationCertificate: r.verificationCertificatePem,
            setAsActive: true,
            allowAutoRegistration: true,
            certificateMode: 'DEFAULT',
            registrationConfig: { templateBody: r.templateBody, roleArn: r.roleArn },
            tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        certificateId = out.certificateId;
      } catch (e) {
        // Registered by an earlier run whose answer was lost: bring it up to date instead.
        if (nameOf(e) === 'ResourceAlreadyExistsException' && r.certificateId) return updateCa(r.certificateId, r);
        throw iotError('register the CA certificate', e);
      }
      const registered = certificateId ? await describeCa(certificateId) : undefined;
      if (!registered) throw iotError('register the CA certificate', new Error('RegisterCACertificate returned no usable certificateId'));
      return registered;
    },
    updateCa,
    async revokeCertificate(c) {
      try {
        await client.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'REVOKED' }));
        return 'REVOKED';
      } catch (e) {
        if (nameOf(e) !== 'ResourceNotFoundException') throw iotError('revoke the certificate', e);
      }
      // JITP has not seen this certificate yet: register it as REVOKED so its first connection is refused.
      try {
        await client.send(new RegisterCertificateCommand({ certificatePem: c.certificatePem, caCertificatePem: c.caCertificatePem, status: 'REVOKED' }));
      } catch (e) {
        // Registered in between (the device connected): revoke that registration.
        if (nameOf(e) !== 'ResourceAlreadyExistsException') throw iotError('register the certificate as revoked', e);
        await call('revoke the certificate', () => client.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'REVOKED' })));
        return 'REVOKED';
      }
      return 'REGISTERED_AS_REVOKED';
    },
    async deactivateCertificate(certificateId) {
      try {
        await client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
        return 'INACTIVE';
      } catch (e) {
        // The device never connected with it, so JITP never registered it: nothing to deactivate.
        if (nameOf(e) === 'ResourceNotFoundException') return 'NOT_REGISTERED';
        throw iotError('deactivate the certificate', e);
      }
    },
  };
}
