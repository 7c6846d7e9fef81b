/**
 * Production lots: an operator opens a lot with a quota of certificates; a
 * station issues under it; the quota is a conditional counter in the ledger,
 * so no number of racing stations ever gets more certificates than the quota.
 */
import { PolicyError } from '../pki/errors.js';
import { CaError } from './errors.js';
import type { Clock, LotRecord, LotStore } from './ports.js';

export const LOT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_LOT_QUOTA = 100_000_000;
export const MAX_LOT_STATIONS = 100;
const MAX_PATTERN_LENGTH = 256;
const MAX_LOT_DAYS = 5 * 366;
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** An ISO 8601 time with its zone whose every field exists (no 30 February, no 24:00, no 25-hour zone): Date.parse rolls those over. */
function isRealTime(value: string): boolean {
  const m = ISO_8601.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second = '0', zoneHour = '0', zoneMinute = '0'] = m.slice(1) as string[];
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day) && Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60 && Number(zoneHour) < 24 && Number(zoneMinute) < 60;
}

export interface LotDeps {
  lots: LotStore;
  clock: Clock;
}

const invalid = (field: string, reason: string, message = `Invalid lot: ${field} ${reason}`) =>
  new CaError('INVALID_REQUEST', message, { details: [{ field, reason }] });

/** A lot id from a path, a body or a header: refused with a clear reason when it cannot be one. */
export function checkLotId(value: unknown, field = 'lotId'): string {
  if (typeof value !== 'string' || !LOT_ID.test(value)) {
    throw invalid(field, 'must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit');
  }
  return value;
}

/** A subject field is at most 64 characters: each variable repetition has at most 65 ways to match. */
const WAYS_PER_REPETITION = 65;
/** The most ways a pattern may have to try one name: three variable repetitions' worth (about 275,000 steps). */
const MAX_WAYS = WAYS_PER_REPETITION ** 3;

/**
 * The lot's common-name pattern, compiled to match the whole name. Only
 * patterns whose backtracking stays small are accepted: the pattern comes from
 * an operator, the name it is run against from a station. A quantified group
 * may hold neither a quantifier nor an alternation (the forms that backtrack
 * exponentially); back-references and lookaround are refused; and the ways to
 * try a name, the product of 65 per variable repetition (`*`, `+`, `?`,
 * `{n,}`, `{n,m}`) and of each alternation's branch count, are at most 65³:
 * adjacent repetitions such as `[0-9]*[0-9]*…` backtrack polynomially, one
 * more power per repetition. Exact counts (`{6}`) are free.
 */
export function compileLotPattern(pattern: string): RegExp {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) throw invalid('commonNamePattern', `must be 1-${MAX_PATTERN_LENGTH} characters`);
  let compiled: RegExp;
  try {
    compiled = new RegExp(`^(?:${pattern})$`, 'u');
  } catch (e) {
    throw invalid('commonNamePattern', `is not a valid regular expression (${(e as Error).message})`);
  }
  if (/\\[1-9k]|\(\?<?[=!]/.test(pattern)) throw invalid('commonNamePattern', 'may not use back-references or lookaround');
  // Each open group: whether it holds a quantifier or an alternation, and its alternation's bars.
  const groups: Array<{ risky: boolean; bars: number }> = [];
  let risky = false;
  let bars = 0;
  let ways = 1;
  const quantifierAt = (i: number) => /[*+?{]/.test(pattern[i] ?? '');
  /** Whether the quantifier at `i` lets the count vary: not an exact `{n}`. */
  const variableAt = (i: number) => pattern[i] !== '{' || !/^\{\d+\}/.test(pattern.slice(i));
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A character class: skip to its end (escapes inside included).
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (c === '(') {
      groups.push({ risky, bars });
      risky = false;
      bars = 0;
      // A group's own syntax is not a quantifier: (?: and (?<name>.
      if (pattern[i + 1] === '?') i = pattern[i + 2] === '<' ? pattern.indexOf('>', i) : i + 2;
    } else if (c === ')') {
      const inner: boolean = risky;
      ways *= bars + 1;
      const outer = groups.pop();
      risky = outer?.risky ?? false;
      bars = outer?.bars ?? 0;
      if (inner && quantifierAt(i + 1)) throw invalid('commonNamePattern', 'may not repeat a group that holds a repetition or an alternation (it can take exponential time)');
      risky ||= inner;
    } else if (c === '|') {
      risky = true;
      bars++;
    } else if (quantifierAt(i)) {
      risky = true;
      if (variableAt(i)) ways *= WAYS_PER_REPETITION;
      // The rest of the quantifier ({n,m}, and a lazy ?) is one quantifier.
      if (c === '{') i = pattern.indexOf('}', i);
      if (pattern[i + 1] === '?') i++;
    }
  }
  ways *= bars + 1;
  if (ways > MAX_WAYS) {
    throw invalid('commonNamePattern', 'may hold at most three variable repetitions (*, +, ?, {n,}, {n,m}) or fewer with alternations (their backtracking grows with each); use exact counts such as {6}');
  }
  return compiled;
}

/** Lots' patterns as compiled for issuance: a lot's stations send many names against one pattern. */
const compiledPatterns = new Map<string, RegExp>();
function lotPattern(pattern: string): RegExp {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    if (compiledPatterns.size >= 256) compiledPatterns.clear();
    compiled = compileLotPattern(pattern);
    compiledPatterns.set(pattern, compiled);
  }
  return compiled;
}

/** Checks an operator's lot and returns it as stored: ids, sizes, the pattern and the closing time. */
export function newLot(input: Record<string, unknown>, now: Date, openedBy: string): LotRecord {
  const known = new Set(['lotId', 'product', 'quota', 'commonNamePattern', 'stations', 'closesAt']);
  for (const k of Object.keys(input)) if (!known.has(k)) throw invalid(k, 'is not a lot field (lotId, product, quota, commonNamePattern, stations, closesAt)');
  const lotId = checkLotId(input.lotId);
  const { product, quota, commonNamePattern, stations, closesAt } = input;
  if (typeof product !== 'string' || product.trim() === '' || product.length > 128 || /[\u0000-\u001f\u007f]/.test(product)) {
    throw invalid('product', 'must be 1-128 characters without control characters');
  }
  if (typeof quota !== 'number' || !Number.isInteger(quota) || quota < 1 || quota > MAX_LOT_QUOTA) throw invalid('quota', `must be an integer from 1 to ${MAX_LOT_QUOTA}`);
  if (commonNamePattern !== undefined) {
    if (typeof commonNamePattern !== 'string') throw invalid('commonNamePattern', 'must be a string (a regular expression)');
    compileLotPattern(commonNamePattern);
  }
  if (stations !== undefined) {
    const ok = Array.isArray(stations) && stations.length >= 1 && stations.length <= MAX_LOT_STATIONS && stations.every((s) => typeof s === 'string' && s.length >= 1 && s.length <= 1024 && !/[\u0000-\u001f]/.test(s));
    if (!ok) throw invalid('stations', `must list 1-${MAX_LOT_STATIONS} station ids or IAM identities (strings of 1-1024 characters)`);
  }
  if (typeof closesAt !== 'string' || !isRealTime(closesAt) || Number.isNaN(Date.parse(closesAt))) {
    throw invalid('closesAt', 'must be an ISO 8601 time with its zone, such as 2027-01-31T18:00:00Z');
  }
  const closes = new Date(Date.parse(closesAt));
  if (closes.getTime() <= now.getTime()) throw invalid('closesAt', 'must be in the future');
  if (closes.getTime() > now.getTime() + MAX_LOT_DAYS * 86_400_000) throw invalid('closesAt', 'must be at most 5 years ahead');
  return {
    lotId,
    product,
    quota,
    ...(commonNamePattern !== undefined ? { commonNamePattern: commonNamePattern as string } : {}),
    ...(stations !== undefined ? { stations: [...new Set(stations as string[])] } : {}),
    closesAt: closes.toISOString(),
    status: 'OPEN',
    openedAt: now.toISOString(),
    openedBy,
    issued: 0,
    revoked: 0,
    logged: 0,
  };
}

const sameTerms = (a: LotRecord, b: LotRecord) =>
  a.product === b.product &&
  a.quota === b.quota &&
  a.commonNamePattern === b.commonNamePattern &&
  a.closesAt === b.closesAt &&
  JSON.stringify([...(a.stations ?? [])].sort()) === JSON.stringify([...(b.stations ?? [])].sort());

/** POST /lots: the lot, created (true), or the same lot sent again (false). A different lot under the id is LOT_EXISTS. */
export async function openLot(deps: LotDeps, input: Record<string, unknown>, openedBy: string): Promise<{ lot: LotRecord; created: boolean }> {
  const lot = newLot(input, deps.clock(), openedBy);
  const existing = await deps.lots.createLot(lot);
  if (!existing) return { lot, created: true };
  if (sameTerms(existing, lot)) return { lot: existing, created: false };
  throw new CaError('LOT_EXISTS', `Lot ${lot.lotId} exists already with other terms (product ${existing.product}, quota ${existing.quota}); choose another lot id`, {
    details: [{ field: 'lotId', reason: 'a different lot has this id', lotId: lot.lotId }],
  });
}

export async function getLot(deps: LotDeps, lotId: string): Promise<LotRecord> {
  const lot = await deps.lots.getLot(checkLotId(lotId));
  if (!lot) throw new CaError('NOT_FOUND', `No lot ${lotId}`);
  return lot;
}

/** POST /lots/{lotId}/close: closed at once; a lot closed already stays as it was. */
export async function closeLot(deps: LotDeps, lotId: string, closedBy: string): Promise<LotRecord> {
  const lot = await deps.lots.closeLot(checkLotId(lotId), deps.clock().toISOString(), closedBy);
  if (!lot) throw new CaError('NOT_FOUND', `No lot ${lotId}`);
  return lot;
}

/** Closed by an operator, or past its closing time. */
export const isClosed = (lot: LotRecord, now: Date): boolean => lot.status === 'CLOSED' || Date.parse(lot.closesAt) <= now.getTime();

/** What GET /lots/{lotId} shows. */
export function lotView(lot: LotRecord, now: Date) {
  const closed = isClosed(lot, now);
  return {
    lotId: lot.lotId,
    product: lot.product,
    quota: lot.quota,
    issued: lot.issued,
    revoked: lot.revoked,
    remaining: closed ? 0 : Math.max(0, lot.quota - lot.issued),
    status: closed ? 'CLOSED' : 'OPEN',
    ...(lot.commonNamePattern !== undefined ? { commonNamePattern: lot.commonNamePattern } : {}),
    ...(lot.stations ? { stations: lot.stations } : {}),
    closesAt: lot.closesAt,
    openedAt: lot.openedAt,
    openedBy: lot.openedBy,
    ...(lot.status === 'CLOSED' ? { closedAt: lot.closedAt, closedBy: lot.closedBy } : closed ? { closedAt: lot.closesAt } : {}),
    log: {
      logged: lot.logged ?? 0,
      ...(lot.openedLogIndex !== undefined ? { openedIndex: lot.openedLogIndex } : {}),
      ...(lot.closedLogIndex !== undefined ? { closedIndex: lot.closedLogIndex } : {}),
      ...(lot.closedCount !== undefined ? { closedCount: lot.closedCount } : {}),
    },
  };
}

/**
 * Before anything is claimed: the lot exists, this station may issue under it,
 * and the common name fits the lot's pattern. Whether it is open and has a seat
 * left is decided atomically by takeLotSeat.
 */
export async function admitToLot(deps: LotDeps, lotId: string, stationId: string, commonName: string | undefined): Promise<LotRecord> {
  const lot = await deps.lots.getLot(checkLotId(lotId));
  if (!lot) {
    throw new CaError('LOT_NOT_FOUND', `No lot ${lotId}: an operator opens it first (POST /lots)`, { details: [{ field: 'lotId', reason: 'no such lot', lotId }] });
  }
  if (lot.stations && !lot.stations.includes(stationId)) {
    throw new CaError('LOT_STATION_NOT_ALLOWED', `This station (${stationId}) may not issue under lot ${lotId}`, { details: [{ field: 'lotId', reason: 'station not allowed', lotId, stationId }] });
  }
  if (lot.commonNamePattern !== undefined && !lotPattern(lot.commonNamePattern).test(commonName ?? '')) {
    throw new PolicyError(`The common name ${commonName === undefined ? '(none)' : `"${commonName}"`} is outside lot ${lotId}'s pattern`, {
      details: [{ field: 'CN', reason: `must match lot ${lotId}'s pattern`, pattern: lot.commonNamePattern, lotId }],
    });
  }
  return lot;
}

/** Takes one of the lot's seats, or says why there is none (closed, or the quota is used up). */
export async function takeLotSeat(deps: LotDeps, lotId: string): Promise<LotRecord> {
  const now = deps.clock();
  const seat = await deps.lots.takeSeat(lotId, now.toISOString());
  if (seat.taken) return seat.lot;
  const lot = seat.lot;
  if (!lot) throw new CaError('LOT_NOT_FOUND', `No lot ${lotId}`, { details: [{ field: 'lotId', reason: 'no such lot', lotId }] });
  if (isClosed(lot, now)) {
    throw new CaError('LOT_CLOSED', `Lot ${lotId} is closed (${lot.status === 'CLOSED' ? `by ${lot.closedBy} at ${lot.closedAt}` : `at ${lot.closesAt}`}); nothing more is issued under it`, {
      details: [{ field: 'lotId', reason: 'closed', lotId }],
    });
  }
  throw new CaError('LOT_QUOTA_EXCEEDED', `Lot ${lotId} has issued its quota of ${lot.quota} certificates; an operator must open another lot`, {
    details: [{ field: 'lotId', reason: 'quota used up', lotId, quota: lot.quota, issued: lot.issued }],
  });
}
