/**
 * What production lots and the issuance log add to the bill, measured on the
 * ledger in dynalite: one lot is opened, certificates are issued under it in
 * rounds, and after each round the sequencer job runs as deployed (logJob, the
 * log key in the KMS fake, the checkpoint copies counted). A round holds about
 * 23 certificates: a million a month spread over a 30-day month, one sequencer
 * run a minute. Every DynamoDB request of the issuing function and of the
 * sequencer is metered (capacity.ts), index writes included.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { IoTClient } from '@aws-sdk/client-iot';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../src/config/config.js';
import { composeIssuing } from '../src/compose/issuing.js';
import { composeLogSequencing } from '../src/compose/log.js';
import { composeLifecycle } from '../src/compose/operations.js';
import { lotLedger } from '../src/compose/shared.js';
import { logJob } from '../src/jobs/log-job.js';
import { localDynamoClient } from '../src/local/local-stack.js';
import { createMetrics } from '../src/observability/metrics.js';
import { ensureLogKey } from '../src/service/log-keys.js';
import { issueCertificate } from '../src/service/issue-certificate.js';
import { openLot } from '../src/service/lots.js';
import { systemClock, type CrlObjects } from '../src/service/ports.js';
import { CERTIFICATE_INDEXES, LOG_QUEUE_INDEX, tableDefinition } from '../src/store/table.js';
import { FakeKms } from '../test/helpers/kms-fake.js';
import { lambdaContext } from '../test/helpers/api.js';
import { breakdown, countRequests, meterCapacity, type Charge } from './capacity.js';
import { makeCsrs } from './http-load.js';
import { ASSUMED, ByteCountingLogger, ByteCountingMetrics, type LotsAndLog } from './cost.js';

export interface LotsAndLogSetup {
  /** The bench's configuration (LOG_SEQUENCER_ROLE_ARN set: the log key's policy names it). */
  config: Config;
  /** dynalite, with the table and a bootstrapped CA. */
  endpoint: string;
  kms: FakeKms;
  kmsClient: KMSClient;
  iotClient: IoTClient;
  /** serverless.yml's memory size for sequenceLog (MB). */
  sequencerMemoryMb: number;
}

/** Sequencer runs measured. */
export const RUNS = 16;

/** The certificates round `run` issues: a million a month spread evenly over the month's runs. */
export const dueIn = (run: number): number => {
  const perRun = 1e6 / ASSUMED.sequencerRunsPerMonth;
  return Math.floor((run + 1) * perRun) - Math.floor(run * perRun);
};

const quiet = () => ({ logger: new Logger({ logLevel: 'SILENT' }), metrics: createMetrics() });

/** CrlObjects in memory that count what is put. */
function countingObjects(): CrlObjects & { puts: number } {
  const stored = new Map<string, Uint8Array>();
  return {
    puts: 0,
    async put(key, der) {
      this.puts++;
      stored.set(key, der);
    },
    async get(key) {
      return stored.get(key);
    },
  };
}

export async function measureLotsAndLog(s: LotsAndLogSetup): Promise<LotsAndLog> {
  const { config } = s;
  const csrs = makeCsrs(Array.from({ length: RUNS }, (_, run) => dueIn(run)).reduce((a, b) => a + b, 0), `bench-lot-${Date.now().toString(36)}`);
  const table = tableDefinition(config.tableName);
  const reader = localDynamoClient(s.endpoint);
  const issuing = localDynamoClient(s.endpoint);
  const sequencing = localDynamoClient(s.endpoint);
  try {
    await ensureLogKey(composeLifecycle(config, { dynamo: reader, kms: s.kmsClient, iot: s.iotClient, ...quiet() }).lifecycle);
    const lotId = `BENCH-${Date.now().toString(36)}`;
    const closesAt = new Date(Date.now() + 86_400_000).toISOString();
    await openLot({ lots: lotLedger(config, reader), clock: systemClock }, { lotId, product: 'bench', quota: csrs.length, closesAt }, 'bench');

    const objects = countingObjects();
    const logger = new ByteCountingLogger();
    const metrics = new ByteCountingMetrics();
    const job = logJob(composeLogSequencing(config, { dynamo: sequencing, kms: s.kmsClient, logger, metrics, objects }));
    // First, what the sections before queued, the lot's opening and the first checkpoint: not measured.
    await job({}, lambdaContext());
    const [issueCharges, logCharges] = [meterCapacity(issuing, reader, table), meterCapacity(sequencing, reader, table)];
    const requests = countRequests(sequencing);
    logger.bytes = 0;
    metrics.bytes = 0;
    objects.puts = 0;

    const { issue } = composeIssuing(config, { dynamo: issuing, kms: s.kmsClient, ...quiet() });
    let certificates = 0;
    let signs = 0;
    for (let run = 0; run < RUNS; run++) {
      for (let i = dueIn(run); i > 0; i--) await issueCertificate(issue, { csr: csrs[certificates++]!, stationId: 'bench', lotId });
      const before = s.kms.callsOf('Sign').length;
      const report = await job({}, lambdaContext());
      signs += s.kms.callsOf('Sign').length - before;
      if (report.sequenced !== dueIn(run) || report.conflict) throw new Error(`sequencer run ${run} logged ${report.sequenced} of ${dueIn(run)} entries`);
    }

    const perCertificate = (charges: Charge[]) => breakdown(charges, certificates);
    const listing = new Set<string>(Object.values(CERTIFICATE_INDEXES).filter((i) => i.name !== CERTIFICATE_INDEXES.byLot.name).map((i) => i.name));
    const lotCharges = issueCharges.filter((c) => (c.kind === 'lot' && c.where === 'table') || c.where === CERTIFICATE_INDEXES.byLot.name);
    return {
      certificates,
      runs: RUNS,
      lots: {
        writes: perCertificate(lotCharges.filter((c) => c.unit === 'WRU')),
        reads: perCertificate(lotCharges.filter((c) => c.unit === 'RRU')),
        roundTrips: issueCharges.filter((c) => c.kind === 'lot' && c.where === 'table').length / certificates,
      },
      log: {
        writes: perCertificate([...issueCharges.filter((c) => c.where === LOG_QUEUE_INDEX.name), ...logCharges.filter((c) => c.unit === 'WRU')]),
        reads: perCertificate(logCharges.filter((c) => c.unit === 'RRU' && c.command !== 'Query')),
        queueReads: perCertificate(logCharges.filter((c) => c.command === 'Query')),
        requestsPerRun: [...requests.values()].reduce((a, b) => a + b, 0) / RUNS,
        signsPerRun: signs / RUNS,
        objectPutsPerRun: objects.puts / RUNS,
        logBytesPerRun: (logger.bytes + metrics.bytes) / RUNS,
        memoryMb: s.sequencerMemoryMb,
      },
      listingIndexes: perCertificate(issueCharges.filter((c) => listing.has(c.where))),
    };
  } finally {
    for (const c of [reader, issuing, sequencing]) c.destroy();
  }
}
