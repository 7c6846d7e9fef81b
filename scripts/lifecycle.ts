/**
 * `npm run bootstrap` and `npm run rotate`.
 *
 *   npm run bootstrap -- [--stage <stage>] [--region <region>] [--aws-profile <profile>]
 *   npm run rotate    -- [--stage <stage>] [--region <region>] [--aws-profile <profile>] [--force]
 *   npm run bootstrap -- --help
 *
 * With no stage (or --stage local) they run against local mode: the ledger of a
 * running `npm start` on the same state directory, or the one on disk under
 * .local/ when none is running. With a deployed stage they invoke the stage's
 * `bootstrap` or `rotate` function (src/cli/lifecycle.ts): AWS credentials of
 * an operator needed, the region as the AWS CLI finds it.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { runLifecycle, type LifecycleCommand } from '../src/cli/lifecycle.js';

type Report = import('../src/service/rotation.js').KeysRotationReport;

function report(r: Omit<Report, 'rotated' | 'reason' | 'logKey'> & Partial<Pick<Report, 'rotated' | 'reason' | 'logKey'>>): void {
  if (r.rotated !== undefined) console.log(`rotation: ${r.reason}`);
  for (const a of r.actions) console.log(`  - ${a}`);
  if (!r.actions.length) console.log('  nothing to do: everything is in place');
  console.log(`active issuing CA: ${r.activeIssuingCaId} (root ${r.rootCaId})`);
  for (const ca of r.cas) console.log(`  ${ca.id.padEnd(12)} ${ca.role.padEnd(8)} ${ca.status.padEnd(8)} until ${ca.notAfter}${ca.iotStatus ? `  AWS IoT ${ca.iotStatus}` : ''}`);
  if (r.rotated === false && r.nextDueAt) console.log(`next rotation due: ${r.nextDueAt} (npm run rotate -- --force rotates now)`);
  if (r.logKey) {
    console.log(`issuance log key: ${r.logKey.keyAlias} (${r.logKey.rotated ? `rotated: ${r.logKey.reason}` : r.logKey.reason})`);
    for (const a of r.logKey.actions) console.log(`  - ${a}`);
  }
  for (const n of r.notices ?? []) console.log(`NOTE: ${n}`);
}

/** Local mode, loaded only when used: the service code is not needed for a deployed stage or --help. */
async function local(command: LifecycleCommand, { force }: { force: boolean }): Promise<number> {
  const { composeLifecycle } = await import('../src/compose/operations.js');
  const { ConfigError, loadConfig } = await import('../src/config/config.js');
  const { bootstrap } = await import('../src/service/ca-lifecycle.js');
  const { rotateKeys } = await import('../src/service/rotation.js');
  const { withCrls } = await import('../src/service/crl.js');
  const { ensureTable, localDynamoClient, localEnv, runningEndpoint, startDynalite } = await import('../src/local/local-stack.js');
  const { consoleLogger } = await import('./console-logger.js');
  const { describeError } = await import('../src/observability/logger.js');
  try {
    const stateDir = resolve(process.env.LOCAL_STATE_DIR ?? '.local');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const config = loadConfig(localEnv(stateDir, 'factory-ca-local-ledger'));
    const shared = runningEndpoint(stateDir);
    const own = shared ? undefined : await startDynalite({ path: resolve(stateDir, 'dynalite') });
    const client = localDynamoClient(shared ?? own!.endpoint);
    try {
      await ensureTable(client, config.tableName);
      const { lifecycle, crl } = composeLifecycle(config, { dynamo: client, logger: consoleLogger() });
      if (command === 'bootstrap') report(await withCrls(crl, await bootstrap(lifecycle)));
      else report(await withCrls(crl, await rotateKeys(lifecycle, { force })));
      if (shared) console.log("(a running npm start issues with the new issuing CA from its next certificate on)");
    } finally {
      client.destroy();
      own?.server.close();
    }
    return 0;
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `${command} failed: ${JSON.stringify(describeError(e), null, 2)}`);
    return 1;
  }
}

process.exitCode = await runLifecycle(process.argv.slice(2), { local });
