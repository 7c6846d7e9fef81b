/**
 * The issuance log's key: created with the CA, rotated like it.
 *
 * Generation n is the KMS key `<prefix>-log-<n>` (ECDSA P-256). The ledger's
 * log-key state names the generation that signs checkpoints. A rotation makes
 * the next key and moves the state to it with one conditional write; the
 * previous key co-signs every checkpoint for a transition (LOG_KEY_COSIGN_DAYS),
 * so a verifier that holds either key accepts the checkpoints of that time and
 * an auditor can move to the new key without a gap. A compromised key never
 * co-signs: the state moves without it, and its KMS key is disabled.
 */
import type { LogKeys, LogKeyStore } from '../log/ledger.js';
import { keyFor } from './ca-lifecycle.js';
import { logKeyAliasOf, type Clock, type KeyManager } from './ports.js';

const DAY_MS = 86_400_000;

export interface LogKeyDeps {
  keys: KeyManager;
  logKeys: LogKeyStore;
  keyAliasPrefix: string;
  clock: Clock;
  logKeyRotation: {
    /** A log key signs this long before the scheduled rotation replaces it. */
    periodDays: number;
    /** How long the previous key co-signs after a rotation. */
    cosignDays: number;
  };
}

export interface LogKeyRotationOptions {
  /** Rotate now, even if not due. */
  force?: boolean;
  /** The current log key is compromised: rotate now, no co-signing by it, and disable it. */
  reason?: 'keyCompromise';
}

export interface LogKeyReport {
  rotated: boolean;
  /** Why the run rotated or did not. */
  reason: string;
  /** The generation that signs checkpoints after the run, and its KMS alias. */
  generation: number;
  keyAlias: string;
  /** The previous generation, while it co-signs. */
  previousGeneration?: number;
  cosignUntil?: string;
  /** When the log key next becomes due (when not rotated). */
  nextDueAt?: string;
  /** What this run changed, in order. */
  actions: string[];
}

const alias = (d: Pick<LogKeyDeps, 'keyAliasPrefix'>, generation: number) => logKeyAliasOf(d.keyAliasPrefix, generation);

/** The state, written at generation 1 when there is none (the first key's age counts from then). */
async function currentState(d: LogKeyDeps, actions: string[]): Promise<LogKeys> {
  const found = await d.logKeys.getLogKeys();
  if (found) return found;
  const first: LogKeys = { generation: 1, since: d.clock().toISOString() };
  if (await d.logKeys.putLogKeys(first, undefined)) {
    actions.push(`recorded the issuance log key ${alias(d, 1)} as the one that signs`);
    return first;
  }
  return (await d.logKeys.getLogKeys()) ?? first;
}

/**
 * The log key of the current generation exists and the state names it:
 * what the bootstrap does after the CA hierarchy. Idempotent: returns the
 * actions it took.
 */
export async function ensureLogKey(d: LogKeyDeps): Promise<string[]> {
  const actions: string[] = [];
  const state = await currentState(d, actions);
  await keyFor(d, alias(d, state.generation), 'log', actions);
  return actions;
}

/** Disables every compromised generation's key not yet recorded as disabled (a run cut short before it did). */
async function disableCompromised(d: LogKeyDeps, state: LogKeys, actions: string[]): Promise<LogKeys> {
  const pending = (state.compromised ?? []).filter((c) => !c.disabledAt);
  if (!pending.length) return state;
  for (const c of pending) {
    const key = await d.keys.findKey(alias(d, c.generation), 'log');
    if (key) await d.keys.disableKey(key);
    actions.push(`disabled the compromised issuance log key ${alias(d, c.generation)}: it signs nothing more`);
  }
  const at = d.clock().toISOString();
  const next: LogKeys = { ...state, compromised: state.compromised!.map((c) => (c.disabledAt ? c : { ...c, disabledAt: at })) };
  return (await d.logKeys.putLogKeys(next, state.generation)) ? next : ((await d.logKeys.getLogKeys()) ?? next);
}

function report(d: LogKeyDeps, state: LogKeys, rotated: boolean, reason: string, actions: string[], extra: Partial<LogKeyReport> = {}): LogKeyReport {
  const cosigning = state.previous && Date.parse(state.previous.cosignUntil) > d.clock().getTime() ? state.previous : undefined;
  return {
    rotated,
    reason,
    generation: state.generation,
    keyAlias: alias(d, state.generation),
    ...(cosigning ? { previousGeneration: cosigning.generation, cosignUntil: cosigning.cosignUntil } : {}),
    ...extra,
    actions,
  };
}

/**
 * Replaces the log key when it is due (it has signed for the rotation period),
 * or now with `force`, or at once without co-signing when it is compromised.
 * Two racing runs move the state once: the loser reports the winner's key.
 */
export async function rotateLogKey(d: LogKeyDeps, options: LogKeyRotationOptions = {}): Promise<LogKeyReport> {
  const actions: string[] = [];
  let state = await disableCompromised(d, await currentState(d, actions), actions);
  const now = d.clock();
  const dueAt = Date.parse(state.since) + d.logKeyRotation.periodDays * DAY_MS;
  const compromise = options.reason === 'keyCompromise';
  const current = alias(d, state.generation);

  let reason: string;
  if (compromise) reason = `the issuance log key ${current} is compromised`;
  else if (options.force) reason = 'log key rotation requested';
  else if (now.getTime() >= dueAt) reason = `the issuance log key ${current} has signed for ${d.logKeyRotation.periodDays} days`;
  else return report(d, state, false, 'not due', actions, { nextDueAt: new Date(dueAt).toISOString() });

  const generation = state.generation + 1;
  await keyFor(d, alias(d, generation), 'log', actions);
  const at = now.toISOString();
  const next: LogKeys = {
    generation,
    since: at,
    ...(compromise ? {} : { previous: { generation: state.generation, cosignUntil: new Date(now.getTime() + d.logKeyRotation.cosignDays * DAY_MS).toISOString() } }),
    ...(compromise || state.compromised ? { compromised: [...(state.compromised ?? []), ...(compromise ? [{ generation: state.generation, at }] : [])] } : {}),
  };
  if (!(await d.logKeys.putLogKeys(next, state.generation))) {
    const winner = (await d.logKeys.getLogKeys()) ?? state;
    return report(d, winner, false, `another run moved the issuance log key to ${alias(d, winner.generation)}`, actions);
  }
  actions.push(
    compromise
      ? `checkpoints are now signed by ${alias(d, generation)} alone (was ${current})`
      : `checkpoints are now signed by ${alias(d, generation)}, co-signed by ${current} until ${next.previous!.cosignUntil}`,
  );
  state = await disableCompromised(d, next, actions);
  return report(d, state, true, reason, actions);
}
