/**
 * `npm run keys -- reindex`: indexes the public keys of certificates issued
 * before the key index existed (idempotent, resumable), so a revoked key stays
 * blocked and no key is certified twice.
 *
 *   npm run keys -- reindex [--stage <stage>] [--region <region>] [--aws-profile <profile>] [--from <token>]
 *
 * With no stage (or --stage local): the local ledger (a running npm start's, or
 * the one under .local/). With a deployed stage: its table, factory-ca-<stage>-ledger,
 * with an operator's AWS credentials (dynamodb:Scan, GetItem, PutItem, UpdateItem
 * on the table). Each page prints the token to resume from with --from.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Command } from 'commander';
import { defaultCredentialChain, profileName, requireRegion, resolveCredentials } from '../src/cli/aws.js';
import { DynamoStore } from '../src/store/dynamo-store.js';
import { reindexKeys, type ReindexReport } from '../src/service/key-index.js';
import { systemClock } from '../src/service/ports.js';

interface Options {
  stage?: string;
  region?: string;
  awsProfile?: string;
  from?: string;
}

function print(r: ReindexReport, done: boolean): void {
  console.log(`${done ? 'done' : 'page'}: ${r.scanned} certificates, ${r.indexed} keys indexed, ${r.blocked} blocked, ${r.unchanged} already indexed${r.next ? `; resume with --from ${r.next}` : ''}`);
  if (done) for (const c of r.conflicts) console.log(`  ATTENTION ${c.serialNumber} (key ${c.spkiSha256.slice(0, 16)}…): ${c.problem}`);
}

async function withLedger(o: Options, run: (store: DynamoStore) => Promise<void>): Promise<void> {
  if (!o.stage || o.stage === 'local') {
    const { ensureTable, localDynamoClient, runningEndpoint, startDynalite } = await import('../src/local/local-stack.js');
    const stateDir = resolve(process.env.LOCAL_STATE_DIR ?? '.local');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const shared = runningEndpoint(stateDir);
    const own = shared ? undefined : await startDynalite({ path: resolve(stateDir, 'dynalite') });
    const client = localDynamoClient(shared ?? own!.endpoint);
    try {
      await ensureTable(client, 'factory-ca-local-ledger');
      await run(new DynamoStore(client, 'factory-ca-local-ledger'));
    } finally {
      client.destroy();
      own?.server.close();
    }
    return;
  }
  const profile = profileName(o.awsProfile, process.env);
  const region = requireRegion(o.region, profile, process.env);
  const provider = defaultCredentialChain(o.awsProfile);
  await resolveCredentials(provider, profile);
  const client = new DynamoDBClient({ region, credentials: provider, maxAttempts: 6 });
  try {
    await run(new DynamoStore(client, `factory-ca-${o.stage}-ledger`));
  } finally {
    client.destroy();
  }
}

const program = new Command('npm run keys --')
  .description('The key index of the certificate ledger')
  .showHelpAfterError()
  .exitOverride();
program
  .command('reindex')
  .description('index the keys of certificates issued before the key index (idempotent, resumable)')
  .option('--stage <stage>', 'a deployed stage (default: local mode)')
  .option('--region <region>', 'the stage\'s region (default: as the AWS CLI finds it)')
  .option('--aws-profile <profile>', 'the AWS profile to use')
  .option('--from <token>', 'resume after an interrupted run, from the token it printed')
  .action(async (o: Options) => {
    await withLedger(o, async (store) => {
      const report = await reindexKeys({ store, clock: systemClock }, { ...(o.from ? { after: o.from } : {}), onPage: (r) => print(r, false) });
      print(report, true);
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (err.code?.startsWith('commander.')) process.exitCode = err.exitCode ?? 2;
  else {
    console.error(`keys: ${err.message ?? String(e)}`);
    process.exitCode = 1;
  }
}
