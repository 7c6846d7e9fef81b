/**
 * Local mode: `npm start`.
 * Starts dynalite (data under .local/), creates the ledger table, bootstraps the
 * CA on first start (software keys under .local/ca/ standing in for KMS, AWS IoT
 * in dry run: the registration bundle goes to .local/iot/), then serves the API
 * through serverless-offline with the same handlers and DynamoDB code as in AWS.
 * A second start reuses all of it.
 *
 * The API is served on 127.0.0.1:PORT by a small gateway (src/local/local-gateway.ts)
 * in front of serverless-offline, which listens on an internal port: no CORS, no
 * preflight, the functions refuse other origins and hosts, and bodies of the
 * binary media types (application/pkcs10: raw DER) reach them as API Gateway
 * delivers them.
 *
 * One npm start per state directory: a second one is refused, naming the first
 * (src/local/start-lock.ts). A port in use is refused before the bootstrap,
 * naming the variable to change and, when it can be found, what holds the port.
 * serverless-offline loads the handlers from bundles built in <state dir>/esbuild/,
 * which `npm run package` (it deletes .esbuild/ when done) leaves alone.
 *
 * EST re-enrollment needs a TLS client certificate: a second listener,
 * https://localhost:EST_TLS_PORT (src/local/est-tls-listener.ts), serves
 * /.well-known/est/* with a server certificate of the local issuing CA and hands
 * the client certificate to the functions.
 *
 * Environment: PORT (3000), EST_TLS_PORT (8443), DYNAMODB_PORT (8000, 0 = any free port),
 * LAMBDA_PORT (3002), OFFLINE_PORT (serverless-offline's internal port; any free one), LOCAL_STATE_DIR (.local), ORGANIZATION, COUNTRY,
 * IOT_REGISTRATION_CODE (for a verification certificate AWS IoT accepts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig, ConfigError } from '../src/config/config.js';
import { announceEndpoint, bootstrapLocalCa, ensureTable, localDynamoClient, localEnv, removeStaleAnnouncement, runningStack, startDynalite, startLocalSequencer } from '../src/local/local-stack.js';
import { credentialsFile, ensureLocalCredentials, LOCAL_PROFILE, LOCAL_SIGNING_REGION } from '../src/local/local-credentials.js';
import { startLocalGateway } from '../src/local/local-gateway.js';
import { estTlsCredentials, startEstTlsListener } from '../src/local/est-tls-listener.js';
import { caSigners, ledger } from '../src/compose/shared.js';
import { CaDirectory } from '../src/service/ca-directory.js';
import { watchOutput } from '../src/local/output-watch.js';
import { describePortHolder } from '../src/local/port-holder.js';
import { acquireStartLock, StateDirLocked } from '../src/local/start-lock.js';
import { consoleLogger } from './console-logger.js';

const STAGE = 'local';
const stateDir = resolve(process.env.LOCAL_STATE_DIR ?? '.local');
const port = Number(process.env.PORT ?? 3000);
const lambdaPort = Number(process.env.LAMBDA_PORT ?? 3002);
const dynamoPort = Number(process.env.DYNAMODB_PORT ?? 8000);
const estTlsPort = Number(process.env.EST_TLS_PORT ?? 8443);
const base = `http://localhost:${port}`;

/** Listens on a loopback port and closes it again: `port` 0 finds a free one; a port in use fails with EADDRINUSE. */
function probePort(p: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(p, '127.0.0.1', () => {
      const { port: found } = s.address() as { port: number };
      s.close(() => resolvePort(found));
    });
  });
}

/** A port already taken, said in words: what holds it (when that can be found), and which variable to change. */
function portInUse(what: string, variable: string, value: number): StartError {
  const holder = describePortHolder(value);
  return new StartError(
    `factory-ca local: ${what} cannot listen on 127.0.0.1:${value}: the port is in use by ${holder ?? 'another program (or another npm start)'}.\n` +
      `  ${holder?.startsWith('this npm start') ? 'Choose' : 'Stop it, or choose'} another port: ${variable}=<port> npm start`,
  );
}

async function listening<T>(what: string, variable: string, value: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    throw portInUse(what, variable, value);
  }
}

class StartError extends Error {}
const tableName = `factory-ca-${STAGE}-ledger`;

/** One npm start per state directory (two dynalites on one LevelDB folder break each other). */
function claimStateDir(): () => void {
  try {
    return acquireStartLock(stateDir, base);
  } catch (e) {
    if (!(e instanceof StateDirLocked)) throw e;
    const running = runningStack(stateDir);
    const where = running?.url ? `serves ${running.url}` : `is starting${e.holder.url ? ` (it will serve ${e.holder.url})` : ''}`;
    throw new StartError(
      `factory-ca local: another npm start (pid ${e.holder.pid}) already ${where} from ${stateDir}.\n` +
        '  Two cannot share a state directory (one DynamoDB data folder). Use that one, or stop it first;\n' +
        '  or start another with its own state directory and ports: LOCAL_STATE_DIR=<dir> PORT=<port> DYNAMODB_PORT=0 LAMBDA_PORT=<port> npm start',
    );
  }
}

/** serverless.yml's `provider.apiGateway.binaryMediaTypes`: the gateway delivers these bodies as API Gateway does. */
function binaryMediaTypes(): string[] {
  const service = parseYaml(readFileSync('serverless.yml', 'utf8')) as { provider?: { apiGateway?: { binaryMediaTypes?: string[] } } };
  return service.provider?.apiGateway?.binaryMediaTypes ?? [];
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const env = localEnv(stateDir, tableName);
  // Fail here, with the reason, if the configuration, policy or template file is wrong.
  const config = loadConfig(env);

  const release = claimStateDir();
  let forget: () => void = () => undefined;
  let child: ChildProcess | undefined;
  // The lock and the announcement go whichever way this process ends: a signal, an error, serverless-offline exiting.
  process.on('exit', () => {
    forget();
    release();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    else process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
  removeStaleAnnouncement(stateDir);

  const offlinePort = Number(process.env.OFFLINE_PORT || (await probePort(0)));
  await listening('the API', 'PORT', port, () => startLocalGateway(port, offlinePort, { binaryMediaTypes: binaryMediaTypes() }));
  const dynamo = await listening('DynamoDB (dynalite)', 'DYNAMODB_PORT', dynamoPort, () => startDynalite({ path: resolve(stateDir, 'dynalite'), port: dynamoPort }));
  // serverless-offline's own ports, checked before the bootstrap rather than failing after it.
  await listening("serverless-offline's Lambda endpoint", 'LAMBDA_PORT', lambdaPort, () => probePort(lambdaPort));
  if (process.env.OFFLINE_PORT) await listening('serverless-offline', 'OFFLINE_PORT', offlinePort, () => probePort(offlinePort));
  // The EST TLS listener needs the CA for its certificate: its port is checked now, it listens after the bootstrap.
  await listening('the EST TLS listener', 'EST_TLS_PORT', estTlsPort, () => probePort(estTlsPort));
  const client = localDynamoClient(dynamo.endpoint);
  const createdTable = await ensureTable(client, tableName);
  console.log(`factory-ca local: ledger ${createdTable ? 'created' : 'reused'} (dynalite ${dynamo.endpoint}, data in ${stateDir})`);
  // Local SigV4 mode's key first: every function, the bootstrap's included, is composed with it.
  const signing = config.localAuth === 'sigv4' ? ensureLocalCredentials(stateDir) : undefined;
  const ca = await bootstrapLocalCa(client, config, consoleLogger());
  for (const action of ca.actions) console.log(`factory-ca local: ${action}`);
  console.log(`factory-ca local: issuing CA ${ca.activeIssuingCaId} ${ca.actions.length ? 'ready' : 'reused'}`);
  // The issuance log's sequencer, every 5 s (a scheduled function every minute in AWS).
  startLocalSequencer(client, config, { logger: consoleLogger() });
  const issuing = await new CaDirectory(ledger(config, client), caSigners(config), () => new Date(), 0).activeIssuer();
  await listening('the EST TLS listener', 'EST_TLS_PORT', estTlsPort, async () => startEstTlsListener(estTlsPort, port, await estTlsCredentials(issuing)));
  const rootCaFile = join(stateDir, 'est-tls-root-ca.pem');
  writeFileSync(rootCaFile, issuing.rootCertificatePem);
  forget = announceEndpoint(stateDir, dynamo.endpoint, base);

  const announce = () => {
    console.log(
      signing
        ? `\nfactory-ca is listening on ${base} (127.0.0.1 only; local SigV4 mode: every route but /health, the CRLs, EST cacerts, csrattrs and simplereenroll (a client certificate) needs AWS Signature V4, service execute-api, region ${LOCAL_SIGNING_REGION})`
        : `\nfactory-ca is listening on ${base} (127.0.0.1 only, no authentication in local mode)`,
    );
    if (signing) console.log(`Credentials: AWS_SHARED_CREDENTIALS_FILE=${credentialsFile(stateDir)} AWS_PROFILE=${LOCAL_PROFILE}`);
    console.log(`EST with a TLS client certificate (simplereenroll): https://localhost:${estTlsPort}/.well-known/est/ (127.0.0.1 only; its certificate chains to the local root, ${rootCaFile})`);
    console.log('Try it:');
    console.log('  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key \\');
    console.log(`    -subj "/C=US/O=${config.organization}/CN=device-0001" -out device.csr`);
    console.log(`  curl -s -H 'Content-Type: application/pkcs10' --data-binary @device.csr ${base}/certificates`);
    console.log(`  curl -s ${base}/ca`);
    console.log(`  # renew: a new CSR with the same subject, sent with the device's current certificate`);
    console.log(`  curl -s --cacert ${rootCaFile} --cert device.pem --key device.key -H 'Content-Type: application/pkcs10' --data-binary @new.b64 https://localhost:${estTlsPort}/.well-known/est/simplereenroll\n`);
  };
  let ready = false;
  // Both streams feed one watch: serverless-offline prints "Server ready" once its HTTP server listens.
  const output = watchOutput(/Server ready/, () => {
    ready = true;
    announce();
  });

  child = spawn(
    process.execPath,
    [resolve('node_modules/serverless/bin/serverless.js'), 'offline', 'start', '--stage', STAGE, '--httpPort', String(offlinePort), '--lambdaPort', String(lambdaPort)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        PORT: String(port),
        LAMBDA_PORT: String(lambdaPort),
        // serverless-esbuild's work folder, in the state directory: `serverless package`
        // (which deletes the default .esbuild/ when done) and other npm starts leave it alone.
        ESBUILD_WORK_FOLDER: relative(process.cwd(), join(stateDir, 'esbuild')),
      },
    },
  );
  const relay = (out: NodeJS.WriteStream) => (chunk: Buffer) => {
    out.write(chunk);
    output.write(chunk);
  };
  child.stdout!.on('data', relay(process.stdout));
  child.stderr!.on('data', relay(process.stderr));
  child.on('exit', (code, signal) => {
    // A port taken between the check above and serverless-offline's own listen.
    const taken = /server on port (\d+)[\s\S]*?EADDRINUSE/.exec(output.tail());
    if (!ready && taken) {
      const p = Number(taken[1]);
      console.error(p === lambdaPort ? portInUse("serverless-offline's Lambda endpoint", 'LAMBDA_PORT', p).message : portInUse('serverless-offline', 'OFFLINE_PORT', p).message);
    }
    process.exit(code ?? (signal ? 0 : 1));
  });
}

main().catch((e) => {
  console.error(e instanceof ConfigError || e instanceof StartError ? e.message : e);
  process.exit(1);
});
