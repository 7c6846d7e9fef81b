/**
 * `factory-ca`: the station and operator command line.
 *
 *   factory-ca issue  --url URL --csr FILE [--out DIR]
 *   factory-ca issue  --url URL --csr-dir DIR --out DIR [--concurrency N]
 *   factory-ca get    SERIAL --url URL [--json | --pem]
 *   factory-ca list   --url URL [filters] [--limit N] [--next TOKEN] [--json]
 *   factory-ca export --url URL [filters] --format ndjson|csv [--out FILE]
 *   factory-ca revoke SERIAL --reason R --url URL
 *   factory-ca ca     --url URL [--json] [--out DIR]
 *   factory-ca rotate --url URL [--log-key] [--force] [--reason keyCompromise [--generation N]]
 *   factory-ca lot report LOT --url URL --out FILE [--tree-size N]
 *   factory-ca verify-report FILE --log-key PUBKEY
 *
 * Requests are signed with AWS Signature V4 when the URL is an API Gateway
 * endpoint or --sigv4 is given, with the credentials of the SDK's default chain
 * (--aws-profile selects a profile); plain local mode (`npm start`) gets them
 * unsigned. Exit statuses: src/cli/errors.ts.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { apiGatewayRegion, defaultCredentialChain, profileName, requireRegion, resolveCredentials, type CredentialProvider } from './aws.js';
import { CliError, EXIT } from './errors.js';
import { ApiClient, DEFAULT_RETRY, type RetryPolicy } from './http.js';
import { processIo, type Io } from './io.js';
import { lotReport, verifyReportFile } from './lot-report.js';
import { issueBatch, issueSingle } from './issue.js';
import { blockKeyFile, exportCertificates, getCertificate, listCertificates, REVOCATION_REASONS, revokeCertificate,
  closeLot, openLot, rotateCa, showCa, showLot, type ListFilters, type Operator } from './operator.js';

export interface CliDeps {
  io?: Io;
  /** The credential chain for a profile (default: the SDK's). */
  credentials?: (profile: string | undefined) => CredentialProvider;
  retry?: Partial<RetryPolicy>;
  /** Aborted: a batch stops sending, writes its summary and ends with 130. */
  signal?: AbortSignal;
}

interface ConnectionOptions {
  url: string;
  sigv4?: boolean;
  region?: string;
  awsProfile?: string;
}

function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
    return n;
  };
}

function timestamp(value: string): string {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw new InvalidArgumentError('an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z');
  return new Date(t).toISOString();
}

function url(value: string): string {
  try {
    return parseUrl(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new CliError(EXIT.FAILED, 'an http:// or https:// URL, e.g. http://localhost:3000');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(EXIT.FAILED, 'an http:// or https:// URL');
  if (u.search || u.hash) throw new CliError(EXIT.FAILED, 'the API base URL, without ?query or #fragment');
  return value;
}

/** Opens the client the options describe: signed for API Gateway or --sigv4, with credentials resolved up front. */
async function connect(opts: ConnectionOptions, io: Io, deps: CliDeps, maxSockets?: number): Promise<ApiClient> {
  const baseUrl = new URL(opts.url);
  const gatewayRegion = apiGatewayRegion(baseUrl);
  if (!gatewayRegion && !opts.sigv4) return new ApiClient({ baseUrl, ...(maxSockets ? { maxSockets } : {}) });
  const profile = profileName(opts.awsProfile, io.env);
  if (gatewayRegion && opts.region && opts.region !== gatewayRegion) io.err(`note: signing for ${gatewayRegion}, the region of the URL (not --region ${opts.region})`);
  const credentials = (deps.credentials ?? defaultCredentialChain)(opts.awsProfile);
  await resolveCredentials(credentials, profile);
  const region = gatewayRegion ?? requireRegion(opts.region, profile, io.env);
  return new ApiClient({ baseUrl, signing: { region, credentials }, ...(maxSockets ? { maxSockets } : {}) });
}

const filterOptions = (cmd: Command) =>
  cmd
    .option('--common-name <cn>', 'only this common name')
    .option('--lot-id <lotId>', 'only certificates issued under this production lot')
    .option('--issuing-ca-id <id>', 'only certificates of this issuing CA (e.g. issuing-1)')
    .addOption(new Option('--status <status>', 'only this status: ISSUED or REVOKED').argParser((v) => {
      const s = v.toUpperCase();
      if (s !== 'ISSUED' && s !== 'REVOKED') throw new InvalidArgumentError('ISSUED or REVOKED');
      return s;
    }))
    .option('--station-id <id>', 'only certificates issued by this station (its IAM identity; locally X-Station-Id)')
    .option('--issued-after <time>', 'only certificates issued at or after this time (ISO 8601)', timestamp)
    .option('--issued-before <time>', 'only certificates issued before this time (ISO 8601)', timestamp);

const filtersOf = (o: Record<string, unknown>): ListFilters => {
  const f: ListFilters = {};
  for (const k of ['commonName', 'lotId', 'issuingCaId', 'status', 'stationId', 'issuedAfter', 'issuedBefore'] as const) if (typeof o[k] === 'string') f[k] = o[k] as string;
  if (typeof o.limit === 'number') f.limit = o.limit;
  return f;
};

export function buildProgram(io: Io, deps: CliDeps, setExit: (code: number) => void): Command {
  const retry: RetryPolicy = {
    ...DEFAULT_RETRY,
    onRetry: ({ attempt, delayMs, reason }) => io.err(`retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${retry.attempts}): ${reason}`),
    ...deps.retry,
  };
  const program = new Command('factory-ca')
    .description('Station and operator command line of factory-ca, the device certificate authority')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError()
    .showSuggestionAfterError()
    .allowExcessArguments(false)
    .addHelpText(
      'after',
      `
Signing: requests are signed with AWS Signature V4 (service execute-api) when --url is an
API Gateway endpoint (https://<id>.execute-api.<region>.amazonaws.com/<stage>, region from
the URL) or --sigv4 is given (region from --region, AWS_REGION, or the profile). Credentials
come from the AWS SDK's default chain: environment, --aws-profile / AWS_PROFILE (static keys,
SSO, credential_process, assumed roles), container and instance roles.
Local mode (npm start) takes unsigned requests at http://localhost:3000; LOCAL_AUTH=sigv4
npm start wants them signed: AWS_SHARED_CREDENTIALS_FILE=.local/credentials
factory-ca ... --sigv4 --region us-east-1 --aws-profile factory-ca-local.
--url may also come from FACTORY_CA_URL.

Exit status: 0 done; 2 refused by the service (its error code and message are printed);
3 the service stayed unavailable after 5 attempts (429, 503, other 5xx); 130 a batch was
interrupted (run it again to finish); 1 anything else.`,
    );

  const connection = (cmd: Command) =>
    cmd
      .option('--url <url>', 'the API base URL: http://localhost:3000, or a stage\'s ServiceEndpoint (default: FACTORY_CA_URL)', url)
      .option('--sigv4', 'sign with AWS Signature V4 even though the URL is not an API Gateway endpoint')
      .option('--region <region>', 'the region to sign for with --sigv4 (default: AWS_REGION, AWS_DEFAULT_REGION, the profile\'s region)')
      .option('--aws-profile <profile>', 'the AWS profile to sign as (default: AWS_PROFILE, else the default chain)');

  /**
   * An action, after the checks commander would make before it reports an
   * unknown option: an unknown option is named first, then a missing one.
   */
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>, required: string[] = []) =>
    async (...args: A) => {
      const cmd = args[args.length - 1] as Command;
      if (cmd.getOptionValue('url') === undefined && io.env.FACTORY_CA_URL) cmd.setOptionValueWithSource('url', parseUrl(io.env.FACTORY_CA_URL), 'env');
      for (const flag of ['url', ...required]) {
        const option = cmd.options.find((o) => o.attributeName() === flag)!;
        if (cmd.getOptionValue(flag) === undefined) cmd.error(`error: required option '${option.flags}' not specified${flag === 'url' ? ' (or set FACTORY_CA_URL)' : ''}`);
      }
      setExit(await fn(...args));
    };

  connection(
    program
      .command('issue')
      .description('issue device certificates: one CSR (--csr) or every CSR of a folder (--csr-dir)')
      .addOption(new Option('--csr <file>', 'a CSR, PEM or DER').conflicts('csrDir'))
      .option('--csr-dir <dir>', 'a folder of CSRs (*.csr, *.req, *.der, *.pem): one subfolder of --out per CSR, and summary.csv / summary.json')
      .option('--out <dir>', 'where the files go (default with --csr: the CSR\'s folder)')
      .addOption(new Option('--concurrency <n>', 'CSRs in flight at once (with --csr-dir)').argParser(integer(1, 64)).default(4))
      .option('--lot <lotId>', 'issue under this production lot (its quota, stations and name pattern apply)')
      .addHelpText(
        'after',
        `
Writes device.pem, deviceCertAndCACert.crt (device certificate then issuing CA: what
AWS IoT JITP expects), issuing.pem and root.pem. A batch can be interrupted and run
again: CSRs whose files are there and match are skipped, and a CSR sent twice gets the
same certificate. 429 and 5xx answers are retried (5 attempts, Retry-After honoured).

Examples:
  factory-ca issue --url http://localhost:3000 --csr device.csr
  factory-ca issue --url https://abc123.execute-api.eu-west-1.amazonaws.com/prod --csr-dir csrs --out certs --concurrency 8`,
      ),
  ).action(
    act(async (opts: ConnectionOptions & { csr?: string; csrDir?: string; out?: string; concurrency: number; lot?: string }, cmd: Command) => {
      if (!opts.csr && !opts.csrDir) cmd.error('error: give --csr <file> or --csr-dir <dir>');
      if (opts.csrDir && !opts.out) cmd.error('error: --csr-dir needs --out <dir>');
      const client = await connect(opts, io, deps, opts.concurrency);
      try {
        const lot = opts.lot ? { lot: opts.lot } : {};
        if (opts.csr) return await issueSingle(client, { csr: opts.csr, ...(opts.out ? { out: opts.out } : {}), ...lot }, io, retry);
        return await issueBatch(client, { csrDir: opts.csrDir!, out: opts.out!, concurrency: opts.concurrency, ...lot, ...(deps.signal ? { signal: deps.signal } : {}) }, io, retry);
      } finally {
        client.close();
      }
    }),
  );

  const operator = async <T>(opts: ConnectionOptions, fn: (op: Operator) => Promise<T>): Promise<T> => {
    const client = await connect(opts, io, deps);
    try {
      return await fn({ client, io, retry });
    } finally {
      client.close();
    }
  };

  connection(
    program
      .command('get')
      .description('one certificate and its ledger record')
      .argument('<serial>', 'the serial number (hex; colons allowed)')
      .addOption(new Option('--json', 'print the API\'s answer as JSON').conflicts('pem'))
      .option('--pem', 'print only the certificate PEM'),
  ).action(act((serial: string, opts: ConnectionOptions & { json?: boolean; pem?: boolean }) => operator(opts, (op) => getCertificate(op, serial, opts))));

  connection(
    filterOptions(program.command('list').description('certificates matching the filters, one page'))
      .option('--limit <n>', 'at most this many (1-1000)', integer(1, 1000))
      .option('--next <token>', 'the page after the one that gave this token')
      .option('--json', 'print the API\'s answer ({"items", "next"}) as JSON'),
  ).action(act((opts: ConnectionOptions & Record<string, unknown>) => operator(opts, (op) => listCertificates(op, filtersOf(opts), { ...(opts.next ? { next: opts.next as string } : {}), json: Boolean(opts.json) }))));

  connection(
    filterOptions(program.command('export').description('every certificate matching the filters, all pages, as NDJSON or CSV'))
      .option('--limit <n>', 'page size (1-1000, default 1000)', integer(1, 1000))
      .addOption(new Option('--format <format>', 'ndjson (one API item a line) or csv').choices(['ndjson', 'csv']))
      .option('--out <file>', 'write to this file (default: stdout)'),
  ).action(
    act((opts: ConnectionOptions & Record<string, unknown>) =>
      operator(opts, (op) => exportCertificates(op, filtersOf(opts), { format: opts.format as 'ndjson' | 'csv', ...(opts.out ? { out: opts.out as string } : {}) })),
    ['format'],
    ),
  );

  connection(
    program
      .command('revoke')
      .description('revoke a certificate, in the ledger and in AWS IoT (operators)')
      .argument('<serial>', 'the serial number (hex; colons allowed)')
      .addOption(new Option('--reason <reason>', 'the RFC 5280 reason').choices([...REVOCATION_REASONS])),
  ).action(act((serial: string, opts: ConnectionOptions & { reason: string }) => operator(opts, (op) => revokeCertificate(op, serial, opts.reason)), ['reason']));

  connection(
    program
      .command('ca')
      .description('the active issuing CA and the root')
      .option('--json', 'print the API\'s answer as JSON')
      .option('--out <dir>', 'also write issuing.pem, root.pem and chain.pem there'),
  ).action(act((opts: ConnectionOptions & { json?: boolean; out?: string }) => operator(opts, (op) => showCa(op, opts))));

  connection(
    program
      .command('rotate')
      .description('rotate the issuing CA and the issuance log key when due, or one of them now with --force (operators)')
      .option('--force', 'rotate now, even if not due')
      .option('--log-key', '--force and --reason are for the issuance log key, not the issuing CA')
      .option('--generation <n>', 'with --log-key --reason keyCompromise: the compromised log key generation (default: the one that signs)')
      .addOption(new Option('--reason <reason>', 'keyCompromise: rotate now, disable the compromised key, and print the steps that follow').choices(['keyCompromise'])),
  ).action(act((opts: ConnectionOptions & { force?: boolean; reason?: string; logKey?: boolean; generation?: string }) => operator(opts, (op) => rotateCa(op, opts))));

  connection(
    program
      .command('block-keys')
      .description('block public keys for good from a file of SHA-256 hashes and/or PEM public keys (operators; idempotent)')
      .requiredOption('--file <file>', 'one 64-hex SHA-256 of a SubjectPublicKeyInfo per line, or PEM "PUBLIC KEY" blocks')
      .addOption(new Option('--reason <reason>', 'the RFC 5280 reason').choices([...REVOCATION_REASONS]).default('keyCompromise'))
      .option('--entry <label>', 'where the list comes from (an incident or vendor list id), recorded with each key'),
  ).action(act((opts: ConnectionOptions & { file: string; reason: string; entry?: string }) => operator(opts, (op) => blockKeyFile(op, opts.file, opts))));

  const lot = program.command('lot').description('production lots: open, show, close, report (operators)');
  connection(
    lot
      .command('open')
      .description('open a lot: a quota of certificates for one product, until --closes-at')
      .argument('<lotId>', 'the lot id (1-64 of A-Z a-z 0-9 . _ -)')
      .requiredOption('--product <name>', 'the product the lot makes')
      .requiredOption('--quota <n>', 'how many certificates may be issued under it', integer(1, 100_000_000))
      .requiredOption('--closes-at <time>', 'when it closes by itself (ISO 8601 with its zone)')
      .option('--common-name-pattern <regex>', 'common names must match this too (in full)')
      .option('--station <id...>', 'only these stations (IAM identities) may issue under it'),
  ).action(
    act((lotId: string, opts: ConnectionOptions & { product: string; quota: number; closesAt: string; commonNamePattern?: string; station?: string[] }) =>
      operator(opts, (op) =>
        openLot(op, { lotId, product: opts.product, quota: opts.quota, closesAt: opts.closesAt, ...(opts.commonNamePattern ? { commonNamePattern: opts.commonNamePattern } : {}), ...(opts.station ? { stations: opts.station } : {}) }),
      ),
    ),
  );
  connection(lot.command('show').description('a lot: quota, issued, revoked, remaining').argument('<lotId>').option('--json', 'print the API\'s answer as JSON')).action(
    act((lotId: string, opts: ConnectionOptions & { json?: boolean }) => operator(opts, (op) => showLot(op, lotId, opts))),
  );
  connection(lot.command('close').description('close a lot now: nothing more is issued under it').argument('<lotId>')).action(
    act((lotId: string, opts: ConnectionOptions) => operator(opts, (op) => closeLot(op, lotId))),
  );
  connection(
    lot
      .command('report')
      .description("write a lot's report: its certificates with the issuance log's proofs, for an auditor to verify offline")
      .argument('<lot>', 'the lot id')
      .requiredOption('--out <file>', 'where the report goes')
      .option('--tree-size <n>', "the log checkpoint to prove against (default: the latest)", integer(1, Number.MAX_SAFE_INTEGER)),
  ).action(act((lotId: string, opts: ConnectionOptions & { out: string; treeSize?: number }) => operator(opts, (op) => lotReport(op, lotId, opts))));

  program
    .command('verify-report')
    .description("verify a lot report offline with the issuance log's public key (what tools/verify-report.mjs does)")
    .argument('<file>', 'the report (factory-ca lot report)')
    .requiredOption('--log-key <key>', "the log's public key: a PEM file, or its verifier key name+hex+base64")
    .action((file: string, opts: { logKey: string }) => setExit(verifyReportFile(io, file, opts.logKey)));

  return program;
}

/** Runs the command line on `argv` (without node and the script); resolves to the exit status. */
export async function runCli(argv: string[], deps: CliDeps = {}): Promise<number> {
  const io = deps.io ?? processIo();
  let exit: number = EXIT.OK;
  const program = buildProgram(io, deps, (code) => (exit = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
    if (e instanceof CliError) {
      io.err(`factory-ca: ${e.message}`);
      return e.exitCode;
    }
    io.err(`factory-ca: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.FAILED;
  }
}
