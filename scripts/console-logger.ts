import type { Logger } from '../src/observability/logger.js';

/** A logger for command-line use: messages as plain lines, fields (if any) as JSON after them. */
export function consoleLogger(): Logger {
  const line = (stream: NodeJS.WriteStream) => (message: string, fields: Record<string, unknown> = {}) =>
    stream.write(`${message}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  return { info: line(process.stdout), warn: line(process.stderr), error: line(process.stderr) };
}
