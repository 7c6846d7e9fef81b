/**
 * `npm run bootstrap` and `npm run rotate`.
 *
 *   npm run bootstrap [-- --stage <stage>]
 *   npm run rotate    [-- --stage <stage>] [--force]
 *
 * With no stage (or --stage local) they run against local mode: the ledger of a
 * running `npm start` on the same state directory, or the one on disk under
 * .local/ when none is running. With a deployed stage they invoke the stage's
 * `bootstrap` or `rotate` function through the Serverless Framework (AWS
 * credentials of an operator needed).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { composeLifecycle } from '../src/compose/operations.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { bootstrap, rotate, type LifecycleReport } from '../src/service/ca-lifecycle.js';
import { ensureTable, localDynamoClient, localEnv, runningEndpoint, startDynalite } from '../src/local/local-stack.js';
import { consoleLogger } from './console-logger.js';
import { describeError } from '../src/observability/logger.js';

const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({ args: rest, options: { stage: { type: 'string' }, force: { type: 'boolean', default: false } } });

function report(r: LifecycleReport & { reason?: string; rotated?: boolean }): void {
  if (r.rotated !== undefined) console.log(`rotation: ${r.reason}`);
  for (const a of r.actions) console.log(`  - ${a}`);
  if (!r.actions.length) console.log('  nothing to do: everything is in place');
  console.log(`active issuing CA: ${r.activeIssuingCaId} (root ${r.rootCaId})`);
  for (const ca of r.cas) console.log(`  ${ca.id.padEnd(12)} ${ca.role.padEnd(8)} ${ca.status.padEnd(8)} until ${ca.notAfter}${ca.iotStatus ? `  AWS IoT ${ca.iotStatus}` : ''}`);
}

async function local(): Promise<void> {
  const stateDir = resolve(process.env.LOCAL_STATE_DIR ?? '.local');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const config = loadConfig(localEnv(stateDir, 'factory-ca-local-ledger'));
  const shared = runningEndpoint(stateDir);
  const own = shared ? undefined : await startDynalite({ path: resolve(stateDir, 'dynalite') });
  const client = localDynamoClient(shared ?? own!.endpoint);
  try {
    await ensureTable(client, config.tableName);
    const { lifecycle } = composeLifecycle(config, { dynamo: client, logger: consoleLogger() });
    if (command === 'bootstrap') report(await bootstrap(lifecycle));
    else report(await rotate(lifecycle, { force: values.force }));
    if (shared) console.log(`(a running npm start picks up a new issuing CA within ${config.caCacheTtlMs / 1000} s)`);
  } finally {
    client.destroy();
    own?.server.close();
  }
}

function deployed(stage: string): void {
  const args = ['node_modules/serverless/bin/serverless.js', 'invoke', '--function', command!, '--stage', stage, '--log'];
  if (command === 'rotate' && values.force) args.push('--data', '{"force":true}');
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

if (command !== 'bootstrap' && command !== 'rotate') {
  console.error('usage: tsx scripts/lifecycle.ts bootstrap|rotate [--stage <stage>] [--force]');
  process.exit(2);
}
if (values.stage && values.stage !== 'local') deployed(values.stage);
else
  local().catch((e) => {
    console.error(e instanceof ConfigError ? e.message : `${command} failed: ${JSON.stringify(describeError(e), null, 2)}`);
    process.exit(1);
  });
