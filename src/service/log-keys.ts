/**
 * The issuance log's key: created with the CA, rotated like it.
 *
 * Generation n is the KMS key `<prefix>-log-<n>` (ECDSA P-256). The ledger's
 * log-key state names the generation that signs checkpoints, each generation's
 * key, and the generations that sign no more. A rotation makes the next key
 * and moves the state to it with one conditional write; the previous key
 * co-signs every checkpoint for a transition (LOG_KEY_COSIGN_DAYS), so a
 * verifier that holds either key accepts the checkpoints of that time, and
 * once the transition is over the next run disables it (nothing may sign with
 * a key an auditor might still trust). A compromised key never co-signs: the
 * state moves without it, and its KMS key is disabled.
 *
 * Every change re-reads the state and is written only if the state is still
 * the version read, so a compromise racing a scheduled rotation is applied to
 * whatever the other run left, never lost.
 */
import type { LogKeys, LogKeyStore } from '../log/ledger.js';
import { keyFor } from './ca-lifecycle.js';
import { CaError } from './errors.js';
import { logKeyAliasOf, type Clock, type KeyManager, type KeyReference } from './ports.js';

const DAY_MS = 86_400_000;
/** Attempts at a change that other runs keep changing under it. */
const ATTEMPTS = 5;

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
  /** A log key is compromised: the one that signs unless `generation` names another. */
  reason?: 'keyCompromise';
  /** The compromised generation (with `reason`): the current one by default, or the co-signing or a retired one. */
  generation?: number;
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

type Retired = NonNullable<LogKeys['retired']>[number];

const alias = (d: Pick<LogKeyDeps, 'keyAliasPrefix'>, generation: number) => logKeyAliasOf(d.keyAliasPrefix, generation);

/** The state, written at generation 1 when there is none (the first key's age counts from then). */
async function currentState(d: LogKeyDeps, actions: string[]): Promise<LogKeys> {
  const found = await d.logKeys.getLogKeys();
  if (found) return found;
  const first: LogKeys = { version: 1, generation: 1, since: d.clock().toISOString() };
  if (await d.logKeys.putLogKeys(first, undefined)) {
    actions.push(`recorded the issuance log key ${alias(d, 1)} as the one that signs`);
    return first;
  }
  return (await d.logKeys.getLogKeys()) ?? first;
}

/**
 * Applies `change` to the state read now, written only if nobody changed it
 * meanwhile; read again and applied again otherwise. `change` returns undefined
 * when there is nothing to change.
 */
async function update(d: LogKeyDeps, actions: string[], change: (state: LogKeys) => Promise<LogKeys | undefined>): Promise<{ state: LogKeys; changed: boolean }> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const state = await currentState(d, actions);
    const next = await change(state);
    if (!next) return { state, changed: false };
    const written = { ...next, version: state.version + 1 };
    if (await d.logKeys.putLogKeys(written, state.version)) return { state: written, changed: true };
  }
  throw new CaError('INTERNAL', 'The issuance log key state kept changing under the rotation', { logDetail: `${ATTEMPTS} attempts` });
}

/**
 * The log key of the current generation exists and the state names it:
 * what the bootstrap does after the CA hierarchy. Idempotent: returns the
 * actions it took.
 */
export async function ensureLogKey(d: LogKeyDeps): Promise<string[]> {
  const actions: string[] = [];
  await update(d, actions, async (state) => {
    const key = await keyFor(d, alias(d, state.generation), 'log', actions);
    return state.key ? undefined : { ...state, key };
  });
  return actions;
}

/** Disables the retired generations' keys not yet disabled, and records it. */
async function disableRetired(d: LogKeyDeps, actions: string[]): Promise<LogKeys> {
  const done: string[] = [];
  const { state } = await update(d, actions, async (state) => {
    const pending = (state.retired ?? []).filter((r) => !r.disabledAt);
    if (!pending.length) return undefined;
    for (const r of pending) {
      const key = r.key ?? (await d.keys.findKey(alias(d, r.generation), 'log'));
      if (key) await d.keys.disableKey(key);
      done.push(`disabled the ${r.reason === 'keyCompromise' ? 'compromised' : 'retired'} issuance log key ${alias(d, r.generation)}: it signs nothing more`);
    }
    const at = d.clock().toISOString();
    return { ...state, retired: state.retired!.map((r) => (r.disabledAt ? r : { ...r, disabledAt: at })) };
  });
  actions.push(...new Set(done));
  return state;
}

/** The previous key's co-signing is over: it becomes retired (and is disabled next). */
function endTransition(state: LogKeys, now: Date): LogKeys | undefined {
  const { previous } = state;
  if (!previous || now.getTime() < Date.parse(previous.cosignUntil)) return undefined;
  const { previous: _, ...rest } = state;
  return { ...rest, retired: [...(state.retired ?? []), retired(previous.generation, previous.key, 'superseded', previous.cosignUntil)] };
}

const retired = (generation: number, key: KeyReference | undefined, reason: Retired['reason'], at: string): Retired => ({ generation, ...(key ? { key } : {}), reason, at });

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

/** The key of a generation: the one the state recorded, or the one its alias names. */
async function keyOf(d: LogKeyDeps, generation: number, recorded: KeyReference | undefined): Promise<KeyReference | undefined> {
  return recorded ?? (await d.keys.findKey(alias(d, generation), 'log'));
}

/** Marks a generation compromised: out of the signing keys (a new key when it was the one signing), never to co-sign, its key disabled. */
async function compromise(d: LogKeyDeps, target: number | undefined, actions: string[]): Promise<LogKeyReport> {
  const at = d.clock().toISOString();
  let generation = target;
  let outcome = 'already' as 'moved' | 'dropped' | 'retired' | 'already';
  const { state } = await update(d, actions, async (state) => {
    // The generation that signed when the request came, whatever another run changes meanwhile.
    generation ??= state.generation;
    if (generation > state.generation || generation < 1) {
      throw new CaError('INVALID_REQUEST', `The issuance log has no key of generation ${generation} (the one that signs is ${state.generation})`, {
        details: [{ field: 'generation', reason: `at most ${state.generation}` }],
      });
    }
    outcome = 'already';
    if (state.retired?.some((r) => r.generation === generation && r.reason === 'keyCompromise')) return undefined;
    const others = (state.retired ?? []).filter((r) => r.generation !== generation);
    if (generation === state.generation) {
      // The signing key: the next key signs, the previous one (if any, and not this) still co-signs.
      const next = state.generation + 1;
      const key = await keyFor(d, alias(d, next), 'log', actions);
      outcome = 'moved';
      return {
        version: state.version,
        generation: next,
        since: at,
        key,
        ...(state.previous ? { previous: state.previous } : {}),
        retired: [...others, retired(generation, state.key, 'keyCompromise', at)],
      };
    }
    const old = state.previous?.generation === generation ? state.previous.key : state.retired?.find((r) => r.generation === generation)?.key;
    const { previous, ...rest } = state;
    outcome = previous?.generation === generation ? 'dropped' : 'retired';
    return {
      ...rest,
      ...(previous && previous.generation !== generation ? { previous } : {}),
      retired: [...others, retired(generation, await keyOf(d, generation, old), 'keyCompromise', at)],
    };
  });
  const compromised = alias(d, generation!);
  if (outcome === 'moved') actions.push(`checkpoints are now signed by ${alias(d, state.generation)}${state.previous ? `, co-signed by ${alias(d, state.previous.generation)}` : ''}; ${compromised} signs no more`);
  if (outcome === 'dropped') actions.push(`${compromised} co-signs no more`);
  const final = await disableRetired(d, actions);
  return report(d, final, outcome === 'moved', `the issuance log key ${compromised} is compromised${outcome === 'already' ? ' (marked before)' : ''}`, actions);
}

/**
 * Replaces the log key when it is due (it has signed for the rotation period),
 * or now with `force`; marks a compromised one (`reason: keyCompromise`). Every
 * run also ends a finished transition and disables the keys that sign no more.
 * Two racing runs move the state once: the loser reports the winner's key.
 */
export async function rotateLogKey(d: LogKeyDeps, options: LogKeyRotationOptions = {}): Promise<LogKeyReport> {
  const actions: string[] = [];
  if (options.reason === 'keyCompromise') return compromise(d, options.generation, actions);

  const now = d.clock();
  await update(d, actions, async (state) => endTransition(state, now));
  let reason = 'not due';
  let dueAt = 0;
  let seen: number | undefined;
  const { state, changed } = await update(d, actions, async (state) => {
    dueAt = Date.parse(state.since) + d.logKeyRotation.periodDays * DAY_MS;
    const current = alias(d, state.generation);
    // Another run rotated since this one read the state: that rotation was this one's.
    seen ??= state.generation;
    if (state.generation !== seen) {
      reason = `another run moved the issuance log key to ${current}`;
      return undefined;
    }
    if (options.force) reason = 'log key rotation requested';
    else if (now.getTime() >= dueAt) reason = `the issuance log key ${current} has signed for ${d.logKeyRotation.periodDays} days`;
    else return undefined;
    if (state.previous) {
      // A transition still running: the key before it is retired now rather than co-signing with two.
      state = { ...state, retired: [...(state.retired ?? []), retired(state.previous.generation, state.previous.key, 'superseded', now.toISOString())] };
    }
    const generation = state.generation + 1;
    const key = await keyFor(d, alias(d, generation), 'log', actions);
    return {
      version: state.version,
      generation,
      since: now.toISOString(),
      key,
      previous: { generation: state.generation, cosignUntil: new Date(now.getTime() + d.logKeyRotation.cosignDays * DAY_MS).toISOString(), ...(state.key ? { key: state.key } : {}) },
      ...(state.retired ? { retired: state.retired } : {}),
    };
  });
  if (changed) actions.push(`checkpoints are now signed by ${alias(d, state.generation)}, co-signed by ${alias(d, state.previous!.generation)} until ${state.previous!.cosignUntil}`);
  const final = await disableRetired(d, actions);
  return changed ? report(d, final, true, reason, actions) : report(d, final, false, reason, actions, { nextDueAt: new Date(dueAt).toISOString() });
}
