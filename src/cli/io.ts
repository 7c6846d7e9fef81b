/** Where the command line writes, and what it knows of its terminal: the process's, or a test's. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** stdout is a terminal: a progress bar rather than a line per certificate. */
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

export function streamIo(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, isTTY: boolean, env: Io['env']): Io {
  return { out: (line) => void stdout.write(`${line}\n`), err: (line) => void stderr.write(`${line}\n`), stdout, stderr, isTTY, env };
}

export const processIo = (): Io => streamIo(process.stdout, process.stderr, Boolean(process.stdout.isTTY), process.env);
