/**
 * The local stack as a jest fixture (test files only: scripts import
 * local-stack-process.ts, which has no jest in it).
 */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type RunningStack } from './local-stack-process.js';

/** A test file's local stack, on a state directory of its own, with a scratch directory beside it. */
export interface LocalStackFixture {
  /** The running stack (valid inside tests). */
  readonly stack: RunningStack;
  readonly stateDir: string;
  readonly work: string;
  /** Stops the stack and starts it again on the same state directory. */
  restart(): Promise<RunningStack>;
}

/**
 * One local stack for a test file: registers the beforeAll that starts it (after
 * `before`, which may prepare the directories) and the afterAll that stops it and
 * removes both directories.
 */
export function useLocalStack(name: string, options: { env?: Record<string, string>; before?: (f: { stateDir: string; work: string }) => void } = {}): LocalStackFixture {
  const stateDir = mkdtempSync(join(tmpdir(), `factory-ca-${name}-`));
  const work = mkdtempSync(join(tmpdir(), `factory-ca-${name}-work-`));
  let running: RunningStack | undefined;
  beforeAll(async () => {
    options.before?.({ stateDir, work });
    running = await startLocalStack(stateDir, options.env);
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }, 30_000);
  return {
    get stack() {
      if (!running) throw new Error('useLocalStack: the stack runs only inside tests');
      return running;
    },
    stateDir,
    work,
    async restart() {
      await running?.stop();
      running = undefined;
      running = await startLocalStack(stateDir, options.env);
      return running;
    },
  };
}
