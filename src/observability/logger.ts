/** Structured JSON logs, one object per line. Never log PEM, CSR bodies or secrets. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

/** Error details for the log: name, message, code and the cause chain, without stack noise for domain errors. */
export function describeError(e: unknown, depth = 0): Record<string, unknown> | string {
  if (!(e instanceof Error)) return String(e);
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (e.name !== 'CaError' && e.stack) out.stack = e.stack.split('\n').slice(0, 6).join('\n');
  if (e.cause !== undefined && depth < 4) out.cause = describeError(e.cause, depth + 1);
  return out;
}

export function createLogger(
  service = 'factory-ca',
  level: LogLevel = (process.env.LOG_LEVEL as LogLevel) ?? 'INFO',
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): Logger {
  const min = ORDER[level] ?? ORDER.INFO;
  const log = (lvl: LogLevel) => (message: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    write(JSON.stringify({ level: lvl, timestamp: new Date().toISOString(), service, message, ...fields }));
  };
  return { info: log('INFO'), warn: log('WARN'), error: log('ERROR') };
}
