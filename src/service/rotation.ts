/**
 * One rotation run: the issuing CA and the issuance log's key, each when due.
 * `key` names which of the two an operator's `force` or `reason` is for; the
 * other is rotated only if due. The one the operator named goes first, so a
 * failure of the other cannot hold it up.
 */
import { rotate, type LifecycleDeps, type RotateOptions, type RotationReport } from './ca-lifecycle.js';
import { rotateLogKey, type LogKeyReport } from './log-keys.js';

export type RotationTarget = 'issuing' | 'log';

export interface RotationRequest extends RotateOptions {
  /** What `force` and `reason` are for (default: the issuing CA). */
  key?: RotationTarget;
  /** With key log and reason keyCompromise: the compromised log key generation (the one that signs by default). */
  generation?: number;
}

export interface KeysRotationReport extends RotationReport {
  /** The issuance log key's part of the run. */
  logKey: LogKeyReport;
}

export async function rotateKeys(d: LifecycleDeps, request: RotationRequest = {}): Promise<KeysRotationReport> {
  const { key = 'issuing', generation, ...options } = request;
  if (key === 'log') {
    const logKey = await rotateLogKey(d, { ...options, ...(generation !== undefined ? { generation } : {}) });
    return { ...(await rotate(d)), logKey };
  }
  const ca = await rotate(d, options);
  return { ...ca, logKey: await rotateLogKey(d) };
}
