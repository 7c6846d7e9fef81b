/**
 * The CA lifecycle's wiring (KMS key creation, AWS IoT), kept apart from the
 * core app so the issuing and reading functions do not bundle the AWS IoT client.
 */
import { join } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import type { App } from './app.js';
import { CaError } from './pki/errors.js';
import { kmsKeyManager } from './kms/kms-key-manager.js';
import { caKeyPolicy } from './kms/key-policy.js';
import { awsIotRegistrar } from './iot/iot-registrar.js';
import { dryRunRegistrar, PLACEHOLDER_JITP_ROLE_ARN } from './local/dry-run-registrar.js';
import { softwareKeyManager } from './local/software-keys.js';
import { traced } from './observability/tracing.js';
import type { LifecycleDeps } from './service/ca-lifecycle.js';
import type { RevokeDeps } from './service/revoke-certificate.js';
import type { IotRegistrar, KeyManager } from './service/ports.js';

const registrars = new WeakMap<App, IotRegistrar>();
const lifecycles = new WeakMap<App, LifecycleDeps>();

/** AWS IoT, or its dry run in local mode; built once per app. */
export function iotRegistrarOf(app: App): IotRegistrar {
  let r = registrars.get(app);
  if (r) return r;
  const { config, logger, overrides: o } = app;
  const lc = config.lifecycle;
  const given = o.iot as IoTClient | IotRegistrar | undefined;
  r =
    given && 'mode' in given
      ? given
      : lc.iotMode === 'dry-run'
        ? dryRunRegistrar(join(config.localStateDir, 'iot'), {
            ...(lc.registrationCode ? { registrationCode: lc.registrationCode } : {}),
            print: (line) => logger.info(line),
          })
        : awsIotRegistrar((given as IoTClient | undefined) ?? traced(new IoTClient({ region: config.region, maxAttempts: 4 })));
  registrars.set(app, r);
  return r;
}

function keyManagerOf(app: App): KeyManager {
  const { config, overrides: o } = app;
  const lc = config.lifecycle;
  if (o.keys) return o.keys;
  if (config.allowSoftwareSigner) return softwareKeyManager(config.localStateDir, lc.keySpec);
  const { issueRoleArn, lifecycleRoleArn } = lc;
  if (!issueRoleArn || !lifecycleRoleArn) {
    throw new CaError('INTERNAL', 'The CA lifecycle is not configured', { cause: new Error('ISSUE_ROLE_ARN and LIFECYCLE_ROLE_ARN are required to create KMS keys') });
  }
  return kmsKeyManager(app.kms(), {
    keySpec: lc.keySpec,
    keyPolicy: (purpose) => caKeyPolicy({ purpose, issueRoleArn, lifecycleRoleArn }),
    tags: { 'factory-ca:table': config.tableName },
  });
}

/** What bootstrap and rotation need; built on first use. */
export function lifecycleOf(app: App): LifecycleDeps {
  let d = lifecycles.get(app);
  if (d) return d;
  const { config } = app;
  const lc = config.lifecycle;
  const jitpRoleArn = lc.jitpRoleArn ?? (lc.iotMode === 'dry-run' ? PLACEHOLDER_JITP_ROLE_ARN : undefined);
  if (!jitpRoleArn) {
    throw new CaError('INTERNAL', 'The CA lifecycle is not configured', { cause: new Error('JITP_ROLE_ARN is required with IOT_MODE=aws') });
  }
  d = {
    store: app.store,
    keys: keyManagerOf(app),
    iot: iotRegistrarOf(app),
    signerFactory: app.signers,
    clock: app.clock,
    random: app.random,
    naming: { organization: config.organization, country: config.country },
    keyAliasPrefix: lc.keyAliasPrefix,
    template: config.template,
    jitpRoleArn,
    rotation: { periodDays: lc.rotationPeriodDays, minRemainingDays: lc.rotationMinRemainingDays },
    tags: { 'factory-ca:table': config.tableName },
  };
  lifecycles.set(app, d);
  return d;
}

/** What revocation needs: the ledger, the CA chains, AWS IoT. */
export const revokeDepsOf = (app: App): RevokeDeps => ({ store: app.store, cas: app.cas, iot: () => iotRegistrarOf(app), clock: app.clock });
