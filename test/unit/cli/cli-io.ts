/** Captured output for running the command line in a test, and device CSRs to feed it. */
import { Writable } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import type { Io } from '../../../src/cli/io.js';
import { buildCsrDer, newP256Key, STRING, subject, toCsrPem } from '../../helpers/csr-builder.js';

export interface CapturedIo extends Io {
  stdoutText(): string;
  stderrText(): string;
}

export function captureIo(env: Record<string, string | undefined> = {}, isTTY = false): CapturedIo {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        add(chunk.toString());
        cb();
      },
    });
  return {
    out: (line) => void (out += `${line}\n`),
    err: (line) => void (err += `${line}\n`),
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    isTTY,
    env,
    stdoutText: () => out,
    stderrText: () => err,
  };
}

/** A device CSR (C=US, O=Example Corp, CN=cn) with a new P-256 key, as DER. */
export const deviceCsrDer = (cn: string, key: KeyObject = newP256Key()) => buildCsrDer({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });
export const deviceCsrPem = (cn: string, key?: KeyObject) => toCsrPem(deviceCsrDer(cn, key));
