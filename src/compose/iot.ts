/** AWS IoT for the functions that call it (revocation, re-enrollment, the CA lifecycle), or in local mode its dry run. */
import { join } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import type { Config } from '../config/config.js';
import { awsIotRegistrar } from '../iot/iot-registrar.js';
import { dryRunRegistrar } from '../local/dry-run-registrar.js';
import type { Logger } from '../observability/logger.js';
import { traced } from '../observability/tracing.js';
import type { IotRegistrar } from '../service/ports.js';

export interface IotOptions {
  /** The AWS IoT client the registrar uses (IOT_MODE=aws). */
  iot?: IoTClient;
  /** A whole registrar in place of AWS IoT or its dry run. */
  registrar?: IotRegistrar;
}

/** AWS IoT, or in local mode its dry run (the registration bundle is written under the state directory). */
export function iotRegistrar(config: Config, logger: Logger, o: IotOptions): IotRegistrar {
  if (o.registrar) return o.registrar;
  const lc = config.lifecycle;
  if (lc.iotMode === 'dry-run') {
    return dryRunRegistrar(join(config.localStateDir, 'iot'), {
      ...(lc.registrationCode ? { registrationCode: lc.registrationCode } : {}),
      print: (line) => logger.info(line),
    });
  }
  return awsIotRegistrar(o.iot ?? traced(new IoTClient({ region: config.region, maxAttempts: 4 })));
}

