import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface RunningStack {
  baseUrl: string;
  port: number;
  /** The EST TLS listener's port (https://localhost:<port>/.well-known/est/). */
  estTlsPort: number;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts the local stack exactly as `npm start` does (scripts/start-local.ts),
 * on free ports and the given state directory, and waits until it serves.
 */
export async function startLocalStack(stateDir: string, env: Record<string, string> = {}): Promise<RunningStack> {
  // Distinct ports chosen here: a port 0 left to the stack could be handed the one just picked for another listener.
  const ports = new Set<number>();
  while (ports.size < 5) ports.add(await freePort());
  const [port, lambdaPort, dynamoPort, offlinePort, estTlsPort] = [...ports] as [number, number, number, number, number];
  let out = '';
  const child: ChildProcess = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/start-local.ts'], {
    env: { ...process.env, NODE_OPTIONS: '', LOCAL_STATE_DIR: stateDir, PORT: String(port), LAMBDA_PORT: String(lambdaPort), DYNAMODB_PORT: String(dynamoPort), OFFLINE_PORT: String(offlinePort), EST_TLS_PORT: String(estTlsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`local stack exited (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${baseUrl}/health`);
      if (res.status === 200 && /factory-ca is listening on/.test(out)) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`local stack did not start in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { baseUrl, port, estTlsPort, output: () => out, stop };
}

/**
 * The public half (PEM) of the log key a local stack signs its checkpoints
 * with: the software key under its state directory, read as the README tells an
 * operator to (`openssl pkey -in .local/ca/factory-ca-local-log-1.key -pubout`).
 */
export const localLogPublicKeyPem = (stateDir: string): string =>
  execFileSync('openssl', ['pkey', '-in', join(stateDir, 'ca', 'factory-ca-local-log-1.key'), '-pubout'], { encoding: 'utf8' });
