/**
 * GET /certificates: the query string as a ledger query. Every parameter is
 * checked here (names, repeats, lengths, statuses, times, limit); the store
 * then checks what only it can: the time range of a query by time alone, and
 * that `next` belongs to these filters.
 */
import type { ErrorDetail } from '../pki/errors.js';
import { CERTIFICATE_STATUSES, type CertificateFilters, type CertificateQuery, type CertificateStatus } from '../service/ports.js';
import type { HttpEvent } from './edge.js';
import { HttpError } from './errors.js';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const MAX_NEXT_LENGTH = 1024;

const FILTERS = ['commonName', 'lotId', 'issuingCaId', 'stationId', 'status', 'issuedAfter', 'issuedBefore'] as const;
const PARAMETERS: readonly string[] = [...FILTERS, 'limit', 'next'];
/**
 * In characters, and at most 1,024 bytes of UTF-8 each: with its prefix a value
 * is an index partition key, which DynamoDB caps at 2,048 bytes (an IAM ARN, the
 * longest station id, is well under 1,024).
 */
const MAX_LENGTH = { commonName: 256, lotId: 64, issuingCaId: 128, stationId: 1024 } as const;
const MAX_BYTES = 1024;
/** With the u flag, a surrogate code unit matches only when it is not half of a pair. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** YYYY-MM-DD, or a date and time with seconds optional, milliseconds at most, and a zone (Z or ±hh:mm). */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2})))?$/;

/** An ISO 8601 time as Date.toISOString() writes it (UTC, milliseconds), or undefined when it is not a valid one. */
export function isoTime(text: string): string | undefined {
  const m = ISO_8601.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  if (y! < 1970 || mo! < 1 || mo! > 12 || h > 23 || mi > 59 || s > 59 || Math.abs(offset) > 14 * 60) return undefined;
  // The day must exist in its month (no 30 February).
  if (d! < 1 || new Date(Date.UTC(y!, mo! - 1, d!)).getUTCDate() !== d) return undefined;
  const iso = new Date(Date.UTC(y!, mo! - 1, d!, h, mi, s, ms) - offset * 60_000).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

function textProblem(value: string, max: number): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > max || Buffer.byteLength(value, 'utf8') > MAX_BYTES) return `at most ${max} characters (${MAX_BYTES} bytes of UTF-8)`;
  if (LONE_SURROGATE.test(value)) return 'must be well-formed Unicode text (no lone surrogate)';
  return undefined;
}

/**
 * GET /certificates?…: at least one filter; `limit` 1..1000 (100 when absent);
 * `next` as the previous page gave it. Unknown or repeated parameters are refused.
 */
export function readCertificateQuery(event: HttpEvent): CertificateQuery {
  const params = event.queryStringParameters ?? {};
  const details: ErrorDetail[] = [];
  const refuse = (field: string, reason: string) => details.push({ field, reason });
  for (const name of Object.keys(params)) if (!PARAMETERS.includes(name)) refuse(name, `unknown query parameter; the parameters are ${PARAMETERS.join(', ')}`);
  for (const [name, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) if ((values?.length ?? 0) > 1) refuse(name, 'given more than once');

  const filters: CertificateFilters = {};
  for (const field of ['commonName', 'lotId', 'issuingCaId', 'stationId'] as const) {
    const value = params[field];
    if (value === undefined) continue;
    const problem = textProblem(value, MAX_LENGTH[field]);
    if (problem) refuse(field, problem);
    else filters[field] = value;
  }
  if (params.status !== undefined) {
    if ((CERTIFICATE_STATUSES as readonly string[]).includes(params.status)) filters.status = params.status as CertificateStatus;
    else refuse('status', `must be one of ${CERTIFICATE_STATUSES.join(', ')}`);
  }
  for (const field of ['issuedAfter', 'issuedBefore'] as const) {
    const value = params[field];
    if (value === undefined) continue;
    const time = isoTime(value);
    if (time) filters[field] = time;
    else refuse(field, 'an ISO 8601 date (2025-03-01, UTC midnight) or date and time with a zone (2025-03-01T08:00:00Z, 2025-03-01T09:00+01:00)');
  }
  if (filters.issuedAfter && filters.issuedBefore && filters.issuedAfter >= filters.issuedBefore) refuse('issuedBefore', 'must be later than issuedAfter');

  let limit = DEFAULT_LIST_LIMIT;
  if (params.limit !== undefined) {
    if (/^[0-9]{1,4}$/.test(params.limit) && Number(params.limit) >= 1 && Number(params.limit) <= MAX_LIST_LIMIT) limit = Number(params.limit);
    else refuse('limit', `an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  const next = params.next;
  if (next !== undefined && (next === '' || next.length > MAX_NEXT_LENGTH)) refuse('next', 'the next of the previous page, as it was given');

  if (details.length) throw new HttpError('INVALID_REQUEST', 'The query is not valid', { details });
  if (!FILTERS.some((f) => filters[f] !== undefined)) {
    throw new HttpError('INVALID_REQUEST', 'Give at least one filter: commonName, lotId, issuingCaId, stationId, status, or issuedAfter (with issuedBefore, which defaults to now)', {
      details: [{ field: 'query', reason: 'at least one of commonName, lotId, issuingCaId, stationId, status, issuedAfter, issuedBefore' }],
    });
  }
  return { filters, limit, ...(next !== undefined ? { next } : {}) };
}
