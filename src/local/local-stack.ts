import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import dynalite from 'dynalite';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { tableDefinition } from '../store/table.js';
import { DynamoStore } from '../store/dynamo-store.js';
import { ensureCaHierarchy, type CaKey } from '../service/ca-setup.js';
import { createSoftwareSigner } from '../pki/signer.js';
import { systemClock } from '../service/ports.js';
import type { Config } from '../config/config.js';

/** Credentials and region for talking to dynalite (it checks neither). */
export const LOCAL_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

/** Starts dynalite on 127.0.0.1 (in memory, or on disk under `path`). */
export async function startDynalite(options: { path?: string; port?: number } = {}): Promise<{ server: Server; endpoint: string }> {
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
}

/** Creates the ledger table from its definition unless it exists. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException) && (e as Error).name !== 'ResourceNotFoundException') throw e;
  }
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  return true;
}

/** A new software CA key, written as PKCS#8 PEM (mode 0600) under the state directory. */
function newSoftwareKey(stateDir: string, name: string): CaKey {
  const dir = join(stateDir, 'ca');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join('ca', `${name}-${Date.now()}.key`);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  writeFileSync(join(stateDir, file), pem, { mode: 0o600 });
  chmodSync(join(stateDir, file), 0o600);
  return { ref: { kind: 'software', file }, signer: createSoftwareSigner(privateKey) };
}

/**
 * Local mode's CA: a root and an issuing CA with software keys under the state
 * directory, made by the same certificate builder as the KMS-held CA. Reused
 * when the ledger already names an active issuing CA.
 */
export async function ensureLocalCa(client: DynamoDBClient, config: Config): Promise<{ created: boolean; issuingCaId: string }> {
  const store = new DynamoStore(client, config.tableName);
  return ensureCaHierarchy(
    store,
    {
      root: async () => newSoftwareKey(config.localStateDir, 'root'),
      issuing: async () => newSoftwareKey(config.localStateDir, 'issuing'),
    },
    { organization: config.organization, country: config.country },
    systemClock,
  );
}
