/**
 * One `npm start` per state directory: two would run two dynalites on one
 * LevelDB folder, and the second breaks the first ("Database is closed").
 *
 * The lock is a file created exclusively (flag `wx`) that names the process
 * holding it; that process removes it when it ends. A lock whose process is gone
 * (killed with SIGKILL, a crash) is taken over. Taking over is itself guarded by
 * a second exclusive file, and removes the old lock only if it still reads as it
 * did when found stale: two starts racing for one stale lock never both win.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const lockFile = (stateDir: string) => join(stateDir, 'npm-start.lock');

export interface LockHolder {
  pid: number;
  /** The API the holder serves (or will serve once ready). */
  url?: string;
}

/** The state directory is held by a live `npm start`. */
export class StateDirLocked extends Error {
  constructor(readonly holder: LockHolder) {
    super(`the state directory is in use by process ${holder.pid}`);
  }
}

/**
 * Whether `pid` is a live `npm start` (scripts/start-local.ts). On Linux the
 * command line is checked too, so that a pid reused by another program after a
 * crash does not keep the state directory locked.
 */
export function isStartProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-local');
  } catch {
    return true; // no /proc (macOS), or not ours to read: alive is all we know
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function readRaw(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function parse(raw: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(raw) as LockHolder;
    return Number.isInteger(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the lock if it still reads `stale`, under the takeover guard; false when another start is taking over. */
function removeStale(file: string, stale: string): boolean {
  const guard = `${file}.takeover`;
  try {
    writeFileSync(guard, JSON.stringify({ pid: process.pid }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A guard left by a start that died while taking over is stale too.
    const other = parse(readRaw(guard) ?? '');
    if (other && !isStartProcess(other.pid)) rmSync(guard, { force: true });
    return false;
  }
  try {
    if (readRaw(file) === stale) rmSync(file, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

/**
 * Takes the state directory's lock for this process, taking over a stale one.
 * Throws StateDirLocked naming the live holder. Returns the release function
 * (it removes the lock only while it is still this process's).
 */
export function acquireStartLock(stateDir: string, url: string): () => void {
  const file = lockFile(stateDir);
  const mine = JSON.stringify({ pid: process.pid, url, since: new Date().toISOString() }) + '\n';
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readRaw(file) === mine) rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const raw = readRaw(file);
    if (raw === undefined) continue; // released meanwhile
    const holder = parse(raw);
    // Created but not written yet: give its holder a moment (2 s) before calling it stale.
    if (!holder && attempt < 100) {
      pause(20);
      continue;
    }
    if (holder && isStartProcess(holder.pid)) throw new StateDirLocked(holder);
    if (!removeStale(file, raw)) pause(20);
  }
  throw new Error(`could not take the lock ${file}: it keeps changing hands`);
}
