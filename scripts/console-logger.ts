import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { fieldsOf, LOGGER_OPTIONS } from '../src/observability/logger.js';

/** A logger for command-line use: messages as plain lines, fields (if any) as JSON after them. */
class ConsoleLogger extends Logger {
  protected override printLog(level: number, log: LogItem): void {
    const attributes = log.getAttributes() as Record<string, unknown>;
    const fields = fieldsOf(attributes);
    const stream = level >= 16 ? process.stderr : process.stdout;
    stream.write(`${String(attributes.message)}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  }
}

export const consoleLogger = (): Logger => new ConsoleLogger(LOGGER_OPTIONS);
