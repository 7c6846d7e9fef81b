/**
 * The part of newman's Node API (CommonJS, no bundled types, no @types/newman
 * installed) that scripts/test-postman.ts uses.
 */
declare module 'newman' {
  import type { EventEmitter } from 'node:events';

  export interface NewmanRunOptions {
    /** A collection: a path, a URL or the parsed JSON. */
    collection: string | object;
    /** An environment: a path, a URL or the parsed JSON. */
    environment?: string | object;
    /** Overrides of environment variables. */
    envVar?: { key: string; value: string }[];
    reporters?: string | string[];
    reporter?: Record<string, Record<string, unknown>>;
    /** Whole run, in milliseconds. */
    timeout?: number;
    /** Each request, in milliseconds. */
    timeoutRequest?: number;
    color?: 'on' | 'off' | 'auto';
    bail?: boolean | string[];
  }

  export interface NewmanStat {
    total: number;
    pending: number;
    failed: number;
  }

  export interface NewmanRunFailure {
    error: { name: string; message: string; test?: string };
    at?: string;
    source?: { name?: string };
    parent?: { name?: string };
  }

  export interface NewmanRunSummary {
    run: {
      stats: Record<'iterations' | 'items' | 'scripts' | 'prerequests' | 'requests' | 'tests' | 'assertions' | 'testScripts' | 'prerequestScripts', NewmanStat>;
      failures: NewmanRunFailure[];
      error?: Error;
      timings: { started: number; completed: number };
    };
  }

  export function run(options: NewmanRunOptions, callback: (err: Error | null, summary: NewmanRunSummary) => void): EventEmitter;

  const newman: { run: typeof run };
  export default newman;
}
