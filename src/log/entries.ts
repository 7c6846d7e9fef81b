/**
 * The issuance log's entries: the exact bytes each leaf holds.
 *
 * An entry is the UTF-8 JSON that JSON.stringify writes for an object whose
 * keys are in one fixed order per type (optional keys left out when absent),
 * so the same facts always give the same bytes and a verifier can re-encode a
 * decoded entry to check it is canonical. Four types:
 *
 *   {"v":1,"type":"lot-opened","lotId","product","quota","commonNamePattern"?,"stations"?,"closesAt","openedAt"}
 *   {"v":1,"type":"issued","serialNumber","certificateSha256","issuingCaId","commonName"?,"stationId","issuedAt","lotId"?,"lotSeq"?,"replaces"?}
 *   {"v":1,"type":"revoked","serialNumber","certificateSha256","issuingCaId","reason","revokedAt","lotId"?,"lotRevocationSeq"?}
 *   {"v":1,"type":"lot-closed","lotId","closedAt","issued"}
 *
 * Each entry has an identity (what it says happened, once): the log holds at
 * most one entry per identity.
 */

export interface LotOpenedEntry {
  v: 1;
  type: 'lot-opened';
  lotId: string;
  product: string;
  quota: number;
  commonNamePattern?: string;
  stations?: string[];
  closesAt: string;
  openedAt: string;
}

export interface IssuedEntry {
  v: 1;
  type: 'issued';
  serialNumber: string;
  /** Lower-case hex SHA-256 of the certificate DER. */
  certificateSha256: string;
  issuingCaId: string;
  commonName?: string;
  stationId: string;
  issuedAt: string;
  lotId?: string;
  /** 1, 2, 3… per lot, in log order: a certificate that took one of the lot's seats. */
  lotSeq?: number;
  /** A re-enrollment's certificate (EST simplereenroll): the serial it replaced. It stays in the lot and takes no seat, so it has no lotSeq. */
  replaces?: string;
}

export interface RevokedEntry {
  v: 1;
  type: 'revoked';
  serialNumber: string;
  certificateSha256: string;
  issuingCaId: string;
  /** RFC 5280 CRLReason name. */
  reason: string;
  revokedAt: string;
  lotId?: string;
  /** 1, 2, 3… per lot, in log order. */
  lotRevocationSeq?: number;
}

export interface LotClosedEntry {
  v: 1;
  type: 'lot-closed';
  lotId: string;
  closedAt: string;
  /** The lot's issuance entries: lotSeq 1..issued. */
  issued: number;
}

export type LogEntry = LotOpenedEntry | IssuedEntry | RevokedEntry | LotClosedEntry;
export type LogEntryType = LogEntry['type'];

export class EntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryError';
  }
}

type Field = [name: string, kind: 'string' | 'count' | 'strings', optional?: true];

/** Every type's keys, in their one order (after "v" and "type"). */
const FIELDS: Record<LogEntryType, readonly Field[]> = {
  'lot-opened': [
    ['lotId', 'string'],
    ['product', 'string'],
    ['quota', 'count'],
    ['commonNamePattern', 'string', true],
    ['stations', 'strings', true],
    ['closesAt', 'string'],
    ['openedAt', 'string'],
  ],
  issued: [
    ['serialNumber', 'string'],
    ['certificateSha256', 'string'],
    ['issuingCaId', 'string'],
    ['commonName', 'string', true],
    ['stationId', 'string'],
    ['issuedAt', 'string'],
    ['lotId', 'string', true],
    ['lotSeq', 'count', true],
    ['replaces', 'string', true],
  ],
  revoked: [
    ['serialNumber', 'string'],
    ['certificateSha256', 'string'],
    ['issuingCaId', 'string'],
    ['reason', 'string'],
    ['revokedAt', 'string'],
    ['lotId', 'string', true],
    ['lotRevocationSeq', 'count', true],
  ],
  'lot-closed': [
    ['lotId', 'string'],
    ['closedAt', 'string'],
    ['issued', 'count'],
  ],
};

const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkValue(type: string, [name, kind]: Field, value: unknown): void {
  const ok =
    kind === 'string'
      ? typeof value === 'string' && value !== ''
      : kind === 'count'
        ? Number.isSafeInteger(value) && (value as number) >= 0
        : Array.isArray(value) && value.every((s) => typeof s === 'string' && s !== '');
  if (!ok) throw new EntryError(`a ${type} entry's ${name} is ${kind === 'count' ? 'a non-negative integer' : kind === 'string' ? 'a non-empty string' : 'a list of non-empty strings'}`);
}

/** The entry as an object with its keys in their order, checked. */
function ordered(entry: LogEntry): Record<string, unknown> {
  const fields = FIELDS[entry.type as LogEntryType];
  if (!fields) throw new EntryError(`no log entry type ${JSON.stringify(entry.type)}`);
  const source = entry as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { v: 1, type: entry.type };
  for (const field of fields) {
    const [name, , optional] = field;
    const value = source[name];
    if (value === undefined) {
      if (optional) continue;
      throw new EntryError(`a ${entry.type} entry has a ${name}`);
    }
    checkValue(entry.type, field, value);
    out[name] = field[1] === 'strings' ? [...(value as string[])] : value;
  }
  if ('certificateSha256' in out && !SHA256_HEX.test(out.certificateSha256 as string)) {
    throw new EntryError('certificateSha256 is 64 lower-case hex digits');
  }
  if ((out.lotSeq !== undefined || out.lotRevocationSeq !== undefined) && out.lotId === undefined) {
    throw new EntryError(`a ${entry.type} entry numbered in a lot names the lot`);
  }
  if (out.replaces !== undefined && out.lotSeq !== undefined) throw new EntryError('a re-enrollment takes no seat of its lot: it has no lotSeq');
  return out;
}

/** The entry's bytes: the JSON of its keys in their order, UTF-8. */
export function encodeEntry(entry: LogEntry): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(ordered(entry)), 'utf8'));
}

/** An entry from its bytes, strictly: valid UTF-8 JSON of a known type, exactly as encodeEntry writes it. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new EntryError('a log entry is UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EntryError('a log entry is JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EntryError('a log entry is a JSON object');
  const object = value as Record<string, unknown>;
  if (object.v !== 1) throw new EntryError('a log entry has version 1');
  const fields = FIELDS[object.type as LogEntryType];
  if (typeof object.type !== 'string' || !Object.hasOwn(FIELDS, object.type) || !fields) throw new EntryError(`no log entry type ${JSON.stringify(object.type)}`);
  const known = new Set(['v', 'type', ...fields.map(([n]) => n)]);
  const extra = Object.keys(object).find((k) => !known.has(k));
  if (extra !== undefined) throw new EntryError(`a ${object.type} entry has no ${JSON.stringify(extra)}`);
  const entry = object as unknown as LogEntry;
  if (JSON.stringify(ordered(entry)) !== text) throw new EntryError('a log entry is in its canonical form (keys in order, no spaces)');
  return entry;
}

/** What an entry says happened, once: `<serial>#issued`, `<serial>#revoked`, `LOT#<lotId>#opened`, `LOT#<lotId>#closed`. */
export function entryIdentity(entry: LogEntry): string {
  switch (entry.type) {
    case 'issued':
      return issuedIdentity(entry.serialNumber);
    case 'revoked':
      return revokedIdentity(entry.serialNumber);
    case 'lot-opened':
      return lotOpenedIdentity(entry.lotId);
    case 'lot-closed':
      return lotClosedIdentity(entry.lotId);
  }
}

export const issuedIdentity = (serialNumber: string): string => `${serialNumber}#issued`;
export const revokedIdentity = (serialNumber: string): string => `${serialNumber}#revoked`;
export const lotOpenedIdentity = (lotId: string): string => `LOT#${lotId}#opened`;
export const lotClosedIdentity = (lotId: string): string => `LOT#${lotId}#closed`;
