/**
 * The `factory-ca` process: runs the command line, and turns Ctrl-C or SIGTERM
 * into an orderly stop (a batch writes its summary first); a second one ends
 * the process at once.
 */
import { runCli } from './program.js';

const stop = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals > 1) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  process.stderr.write(`\n${signal}: stopping after the requests in flight (again to quit now)\n`);
  stop.abort(signal);
};
process.on('SIGINT', onSignal);
// Output piped into a command that stopped reading (| head): stop quietly.
for (const stream of [process.stdout, process.stderr]) stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(process.exitCode ?? 0) : undefined));
process.on('SIGTERM', onSignal);

process.exitCode = await runCli(process.argv.slice(2), { signal: stop.signal });
