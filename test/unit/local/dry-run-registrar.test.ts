import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dryRunRegistrar, PLACEHOLDER_JITP_ROLE_ARN, PLACEHOLDER_REGISTRATION_CODE } from '../../../src/local/dry-run-registrar.js';
import type { IotCaRegistrationRequest } from '../../../src/service/ports.js';

/** A PEM-shaped certificate (this adapter only copies it). */
const pem = () => `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

const REAL_CODE = '4f8e2b1c9d3a7e6f0b5c8d2e1f4a9b7c3d6e0f1a2b5c8d9e4f7a0b3c6d9e2f5a';
const JITP_ROLE = 'arn:aws:iam::123456789012:role/factory-ca-jitp';
const TEMPLATE_BODY = JSON.stringify({
  Parameters: { 'AWS::IoT::Certificate::Id': { Type: 'String' } },
  Resources: { policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) } } },
});

const request = (over: Partial<IotCaRegistrationRequest> = {}): IotCaRegistrationRequest => ({
  certificateId: 'b7c1d2e3f4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f',
  caCertificatePem: pem(),
  rootCertificatePem: pem(),
  verificationCertificatePem: pem(),
  templateBody: TEMPLATE_BODY,
  roleArn: JITP_ROLE,
  tags: { 'factory-ca:ca-id': 'issuing-2', 'factory-ca:table': 'factory-ca-ledger' },
  ...over,
});

/** Runs a bundle's script with `aws` replaced by a stub that prints its working directory and arguments. */
function runScript(script: string, binDir: string) {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, 'aws'), '#!/bin/sh\necho "cwd=$(pwd)"\nfor a in "$@"; do echo "arg=$a"; done\n');
  chmodSync(join(binDir, 'aws'), 0o755);
  return spawnSync('/bin/sh', [script], { encoding: 'utf8', env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` } });
}

describe('Function: dryRunRegistrar', () => {
  let dir: string;
  let printed: string[];
  const print = (line: string) => void printed.push(line);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'factory-ca-dry-run-'));
    printed = [];
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is in dry-run mode and hands out the placeholder registration code by default', async () => {
    // Prepare
    const iot = dryRunRegistrar(dir);

    // Act + Assess
    expect(iot.mode).toBe('dry-run');
    await expect(iot.getRegistrationCode()).resolves.toBe(PLACEHOLDER_REGISTRATION_CODE);
    await expect(dryRunRegistrar(dir, { registrationCode: REAL_CODE }).getRegistrationCode()).resolves.toBe(REAL_CODE);
  });

  describe('registerCa', () => {
    it('writes the registration bundle under <dir>/<ca id>/', async () => {
      // Prepare
      const r = request();
      const iot = dryRunRegistrar(dir, { print });

      // Act
      const registration = await iot.registerCa(r);

      // Assess
      const bundle = join(dir, 'issuing-2');
      expect(registration).toEqual({ certificateId: r.certificateId, status: 'DRY_RUN', autoRegistration: true, templateBody: TEMPLATE_BODY, roleArn: JITP_ROLE });
      expect(readFileSync(join(bundle, 'issuing-ca.pem'), 'utf8')).toBe(r.caCertificatePem);
      expect(readFileSync(join(bundle, 'root-ca.pem'), 'utf8')).toBe(r.rootCertificatePem);
      expect(readFileSync(join(bundle, 'verification-cert.pem'), 'utf8')).toBe(r.verificationCertificatePem);
      const config = JSON.parse(readFileSync(join(bundle, 'registration-config.json'), 'utf8')) as { templateBody: unknown; roleArn: unknown };
      expect(config).toEqual({ templateBody: TEMPLATE_BODY, roleArn: JITP_ROLE });
      expect(typeof config.templateBody).toBe('string');
    });

    it('writes an executable script with the AWS CLI command', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir, { registrationCode: REAL_CODE });

      // Act
      await iot.registerCa(request());

      // Assess
      const script = join(dir, 'issuing-2', 'register-ca-certificate.sh');
      expect(statSync(script).mode & 0o111).toBe(0o111);
      const text = readFileSync(script, 'utf8');
      expect(text.startsWith('#!/bin/sh\n')).toBe(true);
      expect(text).toContain('aws iot register-ca-certificate');
      expect(text).toContain('--ca-certificate file://issuing-ca.pem');
      expect(text).toContain('--verification-cert file://verification-cert.pem');
      expect(text).toContain('--allow-auto-registration');
      expect(text).toContain('--registration-config file://registration-config.json');
      expect(text).toContain("--tags 'Key=factory-ca:ca-id,Value=issuing-2' 'Key=factory-ca:table,Value=factory-ca-ledger'");
      expect(text).not.toContain('exit 1');
      expect(text).not.toContain('PLACEHOLDER');
    });

    it('writes a script that runs the command in the bundle directory', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir, { registrationCode: REAL_CODE });
      await iot.registerCa(request());

      // Act
      const run = runScript(join(dir, 'issuing-2', 'register-ca-certificate.sh'), join(dir, 'bin'));

      // Assess
      expect(run.status).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe(`cwd=${join(dir, 'issuing-2')}`);
      expect(lines.slice(1)).toEqual(
        expect.arrayContaining(['arg=iot', 'arg=register-ca-certificate', 'arg=--allow-auto-registration', 'arg=--registration-config', 'arg=file://registration-config.json']),
      );
    });

    it("quotes a bundle directory with spaces and a ' for the shell", async () => {
      // Prepare
      const odd = join(dir, "state dir 'one'");
      const iot = dryRunRegistrar(odd, { registrationCode: REAL_CODE });
      await iot.registerCa(request());

      // Act
      const run = runScript(join(odd, 'issuing-2', 'register-ca-certificate.sh'), join(dir, 'bin'));

      // Assess
      expect(run.status).toBe(0);
      expect(run.stdout.split('\n')[0]).toBe(`cwd=${join(odd, 'issuing-2')}`);
    });

    it('writes a script that refuses to run with the placeholder code and says how to get a real one', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir);
      await iot.registerCa(request());
      const script = join(dir, 'issuing-2', 'register-ca-certificate.sh');

      // Act
      const run = runScript(script, join(dir, 'bin'));

      // Assess
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
      const text = readFileSync(script, 'utf8');
      expect(text).toContain('PLACEHOLDER');
      expect(text).toContain('aws iot get-registration-code');
      expect(text).toContain('IOT_REGISTRATION_CODE=');
      expect(text.indexOf('exit 1')).toBeLessThan(text.indexOf('aws iot register-ca-certificate'));
    });

    it('says in the script when the role ARN is the placeholder', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir, { registrationCode: REAL_CODE });

      // Act
      await iot.registerCa(request({ roleArn: PLACEHOLDER_JITP_ROLE_ARN }));

      // Assess
      expect(readFileSync(join(dir, 'issuing-2', 'register-ca-certificate.sh'), 'utf8')).toContain('Replace the placeholder roleArn');
    });

    it('names the bundle after the start of the certificate id without a ca-id tag', async () => {
      // Prepare
      const r = request({ tags: {} });
      const iot = dryRunRegistrar(dir);

      // Act
      await iot.registerCa(r);

      // Assess
      expect(existsSync(join(dir, r.certificateId.slice(0, 16), 'registration-config.json'))).toBe(true);
    });

    it('prints where the bundle is and the command', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir, { print });

      // Act
      await iot.registerCa(request());

      // Assess
      const bundle = join(dir, 'issuing-2');
      expect(printed).toHaveLength(3);
      expect(printed[0]).toBe(`AWS IoT dry run: registration bundle for issuing-2 written to ${bundle}`);
      expect(printed[1]).toContain('IOT_REGISTRATION_CODE');
      expect(printed[2]).toMatch(new RegExp(`^  cd '${bundle.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' && aws iot register-ca-certificate`));
      expect(printed[2]).toContain('--registration-config file://registration-config.json');
    });

    it('prints no placeholder note with a real code', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir, { registrationCode: REAL_CODE, print });

      // Act
      await iot.registerCa(request());

      // Assess
      expect(printed).toHaveLength(2);
      expect(printed.join('\n')).not.toContain('placeholder');
    });
  });

  describe('describeCa', () => {
    it('returns the registration a registrar with the same code made', async () => {
      // Prepare
      const r = request();
      await dryRunRegistrar(dir).registerCa(r);

      // Act
      const registration = await dryRunRegistrar(dir).describeCa(r.certificateId);

      // Assess
      expect(registration).toEqual({ certificateId: r.certificateId, status: 'DRY_RUN', autoRegistration: true, templateBody: TEMPLATE_BODY, roleArn: JITP_ROLE });
    });

    it('returns undefined for a CA it never registered', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir);
      await iot.registerCa(request());

      // Act + Assess
      await expect(iot.describeCa('0'.repeat(64))).resolves.toBeUndefined();
    });

    it('returns undefined for a bundle made with the placeholder once a real code is given, so the bundle is made again', async () => {
      // Prepare
      const r = request();
      await dryRunRegistrar(dir).registerCa(r);
      const real = dryRunRegistrar(dir, { registrationCode: REAL_CODE });

      // Act
      const before = await real.describeCa(r.certificateId);
      await real.registerCa(r);
      const after = await real.describeCa(r.certificateId);

      // Assess
      expect(before).toBeUndefined();
      expect(after?.status).toBe('DRY_RUN');
      expect(readFileSync(join(dir, 'issuing-2', 'register-ca-certificate.sh'), 'utf8')).not.toContain('exit 1');
      await expect(dryRunRegistrar(dir).describeCa(r.certificateId)).resolves.toBeUndefined();
    });
  });

  describe('updateCa', () => {
    it('rewrites registration-config.json and the recorded registration', async () => {
      // Prepare
      const r = request();
      const iot = dryRunRegistrar(dir, { print });
      await iot.registerCa(r);
      printed = [];
      const newBody = JSON.stringify({ Parameters: {}, Resources: {} });
      const newRole = 'arn:aws:iam::123456789012:role/factory-ca-jitp-v2';

      // Act
      const registration = await iot.updateCa(r.certificateId, { templateBody: newBody, roleArn: newRole });

      // Assess
      expect(registration).toEqual({ certificateId: r.certificateId, status: 'DRY_RUN', autoRegistration: true, templateBody: newBody, roleArn: newRole });
      expect(JSON.parse(readFileSync(join(dir, 'issuing-2', 'registration-config.json'), 'utf8'))).toEqual({ templateBody: newBody, roleArn: newRole });
      await expect(iot.describeCa(r.certificateId)).resolves.toEqual(registration);
      expect(printed).toHaveLength(2);
      expect(printed[1]).toContain(`aws iot update-ca-certificate --certificate-id ${r.certificateId} --new-status ACTIVE --new-auto-registration-status ENABLE`);
      expect(printed[1]).toContain(`--registration-config 'file://${join(dir, 'issuing-2')}/registration-config.json'`);
    });

    it('refuses a CA without a bundle', async () => {
      // Prepare
      const iot = dryRunRegistrar(dir);

      // Act + Assess
      await expect(iot.updateCa('0'.repeat(64), { templateBody: TEMPLATE_BODY, roleArn: JITP_ROLE })).rejects.toThrow('has no bundle to update');
    });
  });

  describe('deactivateCertificate', () => {
    it('appends the deactivation and its CLI command to deactivations.jsonl', async () => {
      const iot = dryRunRegistrar(join(dir, 'iot'), { print });
      const certificateId = 'e3'.repeat(32);
      expect(await iot.deactivateCertificate(certificateId)).toBe('DRY_RUN');
      const [entry, ...more] = readFileSync(join(dir, 'iot', 'deactivations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      expect(more).toEqual([]);
      expect(entry).toEqual({ certificateId, at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/), command: `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE` });
      expect(printed).toContain(`AWS IoT dry run: aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`);
    });
  });

  describe('revokeCertificate', () => {
    it('appends the revocation and its CLI command to revocations.jsonl', async () => {
      // Prepare
      const iot = dryRunRegistrar(join(dir, 'iot'), { print });
      const first = { certificateId: 'c1'.repeat(32), certificatePem: pem(), caCertificatePem: pem() };
      const second = { certificateId: 'd2'.repeat(32), certificatePem: pem(), caCertificatePem: pem() };

      // Act
      const outcome = await iot.revokeCertificate(first);
      await iot.revokeCertificate(second);

      // Assess
      expect(outcome).toBe('DRY_RUN');
      const lines = readFileSync(join(dir, 'iot', 'revocations.jsonl'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(2);
      const entries = lines.map((l) => JSON.parse(l) as { certificateId: string; at: string; command: string });
      expect(entries[0]).toEqual({
        certificateId: first.certificateId,
        at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        command: `aws iot update-certificate --certificate-id ${first.certificateId} --new-status REVOKED`,
      });
      expect(entries[1]!.command).toBe(`aws iot update-certificate --certificate-id ${second.certificateId} --new-status REVOKED`);
      expect(printed).toEqual([
        `AWS IoT dry run: aws iot update-certificate --certificate-id ${first.certificateId} --new-status REVOKED`,
        `AWS IoT dry run: aws iot update-certificate --certificate-id ${second.certificateId} --new-status REVOKED`,
      ]);
    });
  });
});
