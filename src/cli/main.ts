/**
 * The `factory-ca` process: runs the command line, and turns Ctrl-C or SIGTERM
 * into an orderly stop (a batch writes its summary first); a second one ends
 * the process at once.
 */
import { runCli } from './program.js';

const argv = process.argv.slice(2);
/** Only a batch has something to finish; any other command ends at once. */
const batch = argv.some((a) => a === '--csr-dir' || a.startsWith('--csr-dir='));
const stop = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1 || !batch) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  process.stderr.write(`\n${signal}: stopping; the summary is written (again to quit now)\n`);
  stop.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Output piped into a command that stopped reading (| head): stop quietly.
for (const stream of [process.stdout, process.stderr]) stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(process.exitCode ?? 0) : undefined));

process.exitCode = await runCli(argv, { signal: stop.signal });
