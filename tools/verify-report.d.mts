/** Types of tools/verify-report.mjs, for the command line that runs it (src/cli/log-report.ts). */
export declare const FORMAT: 'factory-ca/lot-report/v1';

export interface ReportSummary {
  lotId: string;
  product: string;
  quota: number;
  certificates: number;
  revoked: number;
  treeSize: number;
  closed: boolean;
}

export type ReportVerdict = { ok: true; reasons: []; summary: ReportSummary; lines: string[] } | { ok: false; reasons: string[] };

/** Checks a report's bytes against the log key (PEM text or verifier key). */
export declare function verifyReport(bytes: Uint8Array, logKey: string): ReportVerdict;

/** The --log-key argument's text: the file's content when it names a file, else the argument (a verifier key). */
export declare function readLogKeyArgument(arg: string): string;
