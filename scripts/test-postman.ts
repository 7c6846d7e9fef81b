/**
 * `npm run test:postman`: runs postman/factory-ca.postman_collection.json with
 * newman against a fresh local stack (as `npm start` runs it, on free ports, in a
 * temporary state directory), twice: the second run proves the collection can be
 * run again against a stack that has seen it. Exits non-zero when a request or an
 * assertion fails in either run; the stack and its directory are removed in every case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import newman, { type NewmanRunSummary } from 'newman';
import { startLocalStack, type RunningStack } from '../test/helpers/local-stack-process.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COLLECTION = join(root, 'postman', 'factory-ca.postman_collection.json');
const ENVIRONMENT = join(root, 'postman', 'local.postman_environment.json');
const RUNS = 2;
/** Each run, whole: a healthy run takes a few seconds. */
const RUN_TIMEOUT_MS = 45_000;
/** Above the local function timeout (30 s), so a hung function shows as its 504. */
const REQUEST_TIMEOUT_MS = 35_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function runCollection(baseUrl: string): Promise<NewmanRunSummary> {
  return new Promise((done, fail) => {
    newman.run(
      {
        collection: COLLECTION,
        environment: ENVIRONMENT,
        envVar: [{ key: 'baseUrl', value: baseUrl }],
        reporters: ['cli'],
        timeout: RUN_TIMEOUT_MS,
        timeoutRequest: REQUEST_TIMEOUT_MS,
      },
      (err, summary) => (err ? fail(err) : done(summary)),
    );
  });
}

/** A one-line account of a run, and whether it passed. */
function verdict(n: number, s: NewmanRunSummary): { ok: boolean; line: string } {
  const { stats, failures, error, timings } = s.run;
  const ok = !error && failures.length === 0 && stats.requests.failed === 0 && stats.assertions.failed === 0;
  const line =
    `run ${n}/${RUNS}: ${ok ? 'passed' : 'FAILED'}: ${stats.requests.total} requests, ` +
    `${stats.assertions.total} assertions, ${stats.assertions.failed} failed` +
    (error ? `, run error: ${error.message}` : '') +
    ` (${seconds(timings.completed - timings.started)})`;
  return { ok, line };
}

async function main(): Promise<number> {
  // startLocalStack runs scripts/start-local.ts from the working directory.
  process.chdir(root);
  const started = Date.now();
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-postman-'));
  let starting: Promise<RunningStack> | undefined;
  let stack: RunningStack | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      // Interrupted while starting: the stack can be stopped only once it is up.
      const running = stack ?? (await starting?.catch(() => undefined));
      await running?.stop().catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    })());
  // The stack runs in its own process group: an interrupt must stop it too.
  // (A second interrupt ends this process at once.)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\ntest:postman: ${signal}, stopping the local stack${stack ? '' : ' once it has started'}`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    console.log(`test:postman: starting a local stack (state in ${stateDir})`);
    stack = await (starting = startLocalStack(stateDir));
    console.log(`test:postman: local stack on ${stack.baseUrl} (${seconds(Date.now() - started)})`);

    const verdicts: { ok: boolean; line: string }[] = [];
    for (let n = 1; n <= RUNS; n++) {
      console.log(`\ntest:postman: run ${n}/${RUNS} of ${COLLECTION}`);
      const summary = await runCollection(stack.baseUrl);
      verdicts.push(verdict(n, summary));
      // A run that did not finish (timeout, crash) says nothing a second run would add.
      if (summary.run.error) break;
    }

    const ok = verdicts.length === RUNS && verdicts.every((v) => v.ok);
    if (!ok) {
      const log = stack.output().trimEnd().split('\n').slice(-60).join('\n');
      console.log(`\ntest:postman: the last lines of the local stack's output:\n${log}`);
    }
    console.log('');
    for (const v of verdicts) console.log(`test:postman: ${v.line}`);
    console.log(`test:postman: ${ok ? 'passed' : 'FAILED'} in ${seconds(Date.now() - started)}`);
    return ok ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('test:postman:', e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
