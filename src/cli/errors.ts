/**
 * Exit statuses of `factory-ca`, and the error that carries one to the top.
 *
 *   0  done (issued, or the same certificate again for the same CSR)
 *   1  anything else: bad arguments, no credentials, no connection, a file not written
 *   2  refused by the service (4xx): the error code and message are printed
 *   3  the service stayed unavailable after retries (429, 503, other 5xx)
 */
export const EXIT = { OK: 0, FAILED: 1, REFUSED: 2, UNAVAILABLE: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
