import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IotCaRegistration, IotRegistrar } from '../service/ports.js';

/** Stands in for the registration code until an operator supplies a real one (IOT_REGISTRATION_CODE). */
export const PLACEHOLDER_REGISTRATION_CODE = 'PLACEHOLDERREGISTRATIONCODE0000';
/** The role ARN written into a bundle when no JITP role is configured. */
export const PLACEHOLDER_JITP_ROLE_ARN = 'arn:aws:iam::000000000000:role/REPLACE-WITH-JITP-ROLE';

interface DryRunState extends IotCaRegistration {
  registrationCode: string;
  directory: string;
  writtenAt: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Local mode's AWS IoT: nothing is sent. Registering a CA writes the bundle an
 * operator needs to register it by hand under `<dir>/<ca id>/` (the CA and root
 * PEMs, the verification certificate, registration-config.json with the
 * escaped template and the role ARN, and the equivalent AWS CLI command);
 * revocations are appended to `<dir>/revocations.jsonl` with their CLI command,
 * deactivations (a device re-enrolled) to `<dir>/deactivations.jsonl`.
 * A bundle made with the placeholder code is made again once a real code is given.
 */
export function dryRunRegistrar(dir: string, options: { registrationCode?: string; print?: (line: string) => void } = {}): IotRegistrar {
  const code = options.registrationCode ?? PLACEHOLDER_REGISTRATION_CODE;
  const print = options.print ?? (() => undefined);
  const statePath = (certificateId: string) => join(dir, 'registrations', `${certificateId}.json`);
  const read = (certificateId: string): DryRunState | undefined =>
    existsSync(statePath(certificateId)) ? (JSON.parse(readFileSync(statePath(certificateId), 'utf8')) as DryRunState) : undefined;
  const write = (state: DryRunState) => {
    mkdirSync(join(dir, 'registrations'), { recursive: true });
    writeFileSync(statePath(state.certificateId), JSON.stringify(state, null, 2) + '\n');
  };
  const view = ({ certificateId, status, autoRegistration, templateBody, roleArn }: DryRunState): IotCaRegistration => ({
    certificateId,
    status,
    autoRegistration,
    ...(templateBody ? { templateBody } : {}),
    ...(roleArn ? { roleArn } : {}),
  });

  return {
    mode: 'dry-run',
    async getRegistrationCode() {
      return code;
    },
    async describeCa(certificateId) {
      const state = read(certificateId);
      return state && state.registrationCode === code ? view(state) : undefined;
    },
    async registerCa(r) {
      const name = r.tags['factory-ca:ca-id'] ?? r.certificateId.slice(0, 16);
      const bundle = join(dir, name);
      mkdirSync(bundle, { recursive: true });
      writeFileSync(join(bundle, 'issuing-ca.pem'), r.caCertificatePem);
      writeFileSync(join(bundle, 'root-ca.pem'), r.rootCertificatePem);
      writeFileSync(join(bundle, 'verification-cert.pem'), r.verificationCertificatePem);
      writeFileSync(join(bundle, 'registration-config.json'), JSON.stringify({ templateBody: r.templateBody, roleArn: r.roleArn }, null, 2) + '\n');
      const tags = Object.entries(r.tags).map(([k, v]) => shellQuote(`Key=${k},Value=${v}`)).join(' ');
      const command = [
        'aws iot register-ca-certificate',
        '--ca-certificate file://issuing-ca.pem',
        '--verification-cert file://verification-cert.pem',
        '--set-as-active --allow-auto-registration --certificate-mode DEFAULT',
        '--registration-config file://registration-config.json',
        `--tags ${tags}`,
      ].join(' \\\n    ');
      const placeholder = code === PLACEHOLDER_REGISTRATION_CODE;
      writeFileSync(
        join(bundle, 'register-ca-certificate.sh'),
        [
          '#!/bin/sh',
          '# Registers this issuing CA with AWS IoT for just-in-time provisioning (made by factory-ca).',
          ...(placeholder
            ? ['# The verification certificate carries a PLACEHOLDER code: make it again with the account\'s code first:', '#   IOT_REGISTRATION_CODE=$(aws iot get-registration-code --query registrationCode --output text) npm run bootstrap', 'exit 1']
            : []),
          ...(r.roleArn === PLACEHOLDER_JITP_ROLE_ARN ? ['# Replace the placeholder roleArn in registration-config.json with your JITP role first.'] : []),
          'set -e',
          `cd ${shellQuote(bundle)}`,
          command,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      const state: DryRunState = {
        certificateId: r.certificateId,
        status: 'DRY_RUN',
        autoRegistration: true,
        templateBody: r.templateBody,
        roleArn: r.roleArn,
        registrationCode: code,
        directory: bundle,
        writtenAt: new Date().toISOString(),
      };
      write(state);
      print(`AWS IoT dry run: registration bundle for ${name} written to ${bundle}`);
      if (placeholder) print('  (placeholder registration code: set IOT_REGISTRATION_CODE and run npm run bootstrap again to register for real)');
      print(`  cd ${shellQuote(bundle)} && ${command}`);
      return view(state);
    },
    async updateCa(certificateId, { templateBody, roleArn }) {
      const state = read(certificateId);
      if (!state) throw new Error(`dry run: CA ${certificateId} has no bundle to update`);
      const updated = { ...state, templateBody, roleArn, status: 'DRY_RUN', autoRegistration: true, writtenAt: new Date().toISOString() };
      writeFileSync(join(state.directory, 'registration-config.json'), JSON.stringify({ templateBody, roleArn }, null, 2) + '\n');
      write(updated);
      print(`AWS IoT dry run: ${state.directory}/registration-config.json updated`);
      print(`  aws iot update-ca-certificate --certificate-id ${certificateId} --new-status ACTIVE --new-auto-registration-status ENABLE --registration-config ${shellQuote(`file://${state.directory}/registration-config.json`)}`);
      return view(updated);
    },
    async revokeCertificate(c) {
      mkdirSync(dir, { recursive: true });
      const command = `aws iot update-certificate --certificate-id ${c.certificateId} --new-status REVOKED`;
      appendFileSync(join(dir, 'revocations.jsonl'), JSON.stringify({ certificateId: c.certificateId, at: new Date().toISOString(), command }) + '\n');
      print(`AWS IoT dry run: ${command}`);
      return 'DRY_RUN';
    },
    async deactivateCertificate(certificateId) {
      mkdirSync(dir, { recursive: true });
      const command = `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`;
      appendFileSync(join(dir, 'deactivations.jsonl'), JSON.stringify({ certificateId, at: new Date().toISOString(), command }) + '\n');
      print(`AWS IoT dry run: ${command}`);
      return 'DRY_RUN';
    },
  };
}
