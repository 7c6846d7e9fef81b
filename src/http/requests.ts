import type { RotationRequest } from '../service/rotation.js';
import { checkLotId } from '../service/lots.js';
import { HttpError } from './errors.js';
import { isSerial } from '../pki/serial.js';
import type { HttpEvent } from './edge.js';

/** The caller: the IAM identity API Gateway authenticated, or (local mode only) X-Station-Id. */
export function stationIdOf(event: HttpEvent, trustHeader: boolean): string {
  if (trustHeader) return header(event, 'x-station-id')?.slice(0, 128) || 'local';
  const identity = event.requestContext?.identity;
  return identity?.userArn || identity?.caller || 'unknown';
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted && v !== undefined) return v;
  return undefined;
}

/** The raw request body, refused when over `maxBytes` (decoded size). */
export function bodyBytes(event: HttpEvent, maxBytes: number): Buffer {
  const raw = event.body ?? '';
  // Refuse before decoding anything large.
  const approx = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (approx > maxBytes + 2) throw tooLarge(maxBytes);
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  return bytes;
}

const tooLarge = (max: number) => new HttpError('PAYLOAD_TOO_LARGE', `The request body is larger than ${max} bytes`);

export interface IssueRequest {
  csr: string | Uint8Array;
  profile?: string;
  /** The production lot: `lotId` in a JSON body, or the X-Lot-Id header (either form of body). */
  lotId?: string;
}

const JSON_FIELDS = new Set(['csr', 'profile', 'lotId']);

/** The lot of an issuance: the X-Lot-Id header or the body's lotId; both given, they must agree. */
function lotOf(event: HttpEvent, fromBody: unknown): { lotId?: string } {
  const fromHeader = header(event, 'x-lot-id');
  if (fromBody !== undefined && typeof fromBody !== 'string') throw invalid('lotId must be a string', 'lotId', 'must be a lot id');
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) {
    throw invalid('The X-Lot-Id header and the body\'s lotId name different lots', 'lotId', 'differs from X-Lot-Id');
  }
  const lotId = (fromBody as string | undefined) ?? fromHeader;
  return lotId !== undefined ? { lotId: checkLotId(lotId) } : {};
}

/**
 * POST /certificates accepts `application/json` ({"csr": "<PEM>", "profile"?})
 * or `application/pkcs10` (PEM, base64 DER or DER as the body).
 */
export function readIssueRequest(event: HttpEvent, maxBytes: number): IssueRequest {
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const bytes = bodyBytes(event, maxBytes);
  if (contentType === 'application/pkcs10') {
    if (bytes.length === 0) throw invalid('The request body is empty', 'body', 'a CSR is required');
    return { csr: bytes[0] === 0x30 ? new Uint8Array(bytes) : bytes.toString('utf8'), ...lotOf(event, undefined) };
  }
  if (contentType !== 'application/json') {
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${contentType || '(none)'} is not supported; use application/json or application/pkcs10`,
    );
  }
  const obj = jsonObject(bytes, { shape: '{"csr": "<PEM>"}', notJson: csrMediaTypeHint });
  const details = [];
  for (const k of Object.keys(obj)) if (!JSON_FIELDS.has(k)) details.push({ field: k, reason: 'unknown field' });
  if (typeof obj.csr !== 'string' || obj.csr.trim() === '') details.push({ field: 'csr', reason: 'required, a PEM or base64 string' });
  if (obj.profile !== undefined && typeof obj.profile !== 'string') details.push({ field: 'profile', reason: 'must be a string' });
  if (details.length) throw new HttpError('INVALID_REQUEST', 'The request body is not a valid issuance request', { details });
  return { csr: obj.csr as string, ...(obj.profile !== undefined ? { profile: obj.profile as string } : {}), ...lotOf(event, obj.lotId) };
}

/** What a body sent as JSON is when it is not JSON but a CSR: how to send it instead. */
function csrMediaTypeHint(bytes: Buffer): string | undefined {
  if (bytes.toString('latin1').trimStart().startsWith('-----BEGIN')) {
    return 'The request body is PEM, not JSON: send the PEM as it is with Content-Type: application/pkcs10, or as {"csr": "<PEM>"} with Content-Type: application/json';
  }
  if (bytes[0] === 0x30) return 'The request body looks like a DER CSR, not JSON: send it with Content-Type: application/pkcs10';
  return undefined;
}

/** A JSON object body; the refusal says what was sent instead when it can tell (a BOM, or what `notJson` recognises). */
function jsonObject(bytes: Buffer, o: { shape?: string; notJson?: (bytes: Buffer) => string | undefined } = {}): Record<string, unknown> {
  const text = bytes.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const bom = text.startsWith('\uFEFF') ? 'The request body is not valid JSON: it starts with a byte order mark (U+FEFF); send it without one' : undefined;
    throw invalid(bom ?? o.notJson?.(bytes) ?? 'The request body is not valid JSON', 'body', 'not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const shape = o.shape ? ` such as ${o.shape}` : '';
    throw invalid(`The request body must be a JSON object${shape}, not ${Array.isArray(body) ? 'an array' : body === null ? 'null' : `a ${typeof body}`}`, 'body', 'must be an object');
  }
  return body as Record<string, unknown>;
}

/** An optional JSON object body (operator routes): empty is `{}`; otherwise application/json. */
function optionalJsonBody(event: HttpEvent, maxBytes: number, fields: readonly string[]): Record<string, unknown> {
  const bytes = bodyBytes(event, maxBytes);
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') return {};
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${contentType || '(none)'} is not supported; use application/json`);
  }
  const obj = jsonObject(bytes);
  const unknown = Object.keys(obj).filter((k) => !fields.includes(k));
  if (unknown.length) {
    throw new HttpError('INVALID_REQUEST', 'The request body has unknown fields', { details: unknown.map((field) => ({ field, reason: 'unknown field' })) });
  }
  return obj;
}

/** POST /certificates/{serialNumber}/revoke: {"reason"?: RFC 5280 reason name}, `unspecified` when absent. */
export function readRevokeRequest<R extends string>(event: HttpEvent, maxBytes: number, reasons: readonly R[]): { reason: R } {
  const { reason = 'unspecified' } = optionalJsonBody(event, maxBytes, ['reason']);
  if (typeof reason !== 'string' || !(reasons as readonly string[]).includes(reason)) {
    throw new HttpError('INVALID_REQUEST', 'Unknown revocation reason', {
      details: [{ field: 'reason', reason: `must be one of ${reasons.join(', ')}` }],
    });
  }
  return { reason: reason as R };
}

/** The most keys one POST /blocked-keys may name (a file is sent in batches of this size). */
export const MAX_KEYS_PER_BLOCK_REQUEST = 200;
const HASH = /^[0-9a-f]{64}$/;

export interface BlockKeysRequest {
  /** Exactly one key: `publicKeyPem` or `spkiSha256`; or a batch: `spkiSha256s`. */
  publicKeyPem?: string;
  spkiSha256s: string[];
  single: boolean;
  reason: string;
  entry?: string;
}

/**
 * POST /blocked-keys: {"publicKeyPem" | "spkiSha256" | "spkiSha256s": [...], "reason", "entry"?}.
 * Hashes are the lower-case hex SHA-256 of the key's SubjectPublicKeyInfo DER.
 */
export function readBlockKeysRequest(event: HttpEvent, maxBytes: number, reasons: readonly string[]): BlockKeysRequest {
  const body = optionalJsonBody(event, maxBytes, ['publicKeyPem', 'spkiSha256', 'spkiSha256s', 'reason', 'entry']);
  const { publicKeyPem, spkiSha256, spkiSha256s, reason, entry } = body;
  const given = [publicKeyPem, spkiSha256, spkiSha256s].filter((v) => v !== undefined).length;
  if (given !== 1) throw invalid('Name the keys with exactly one of publicKeyPem, spkiSha256 or spkiSha256s', 'body', 'exactly one of publicKeyPem, spkiSha256, spkiSha256s');
  if (typeof reason !== 'string' || !reasons.includes(reason)) throw invalid('Give the reason the keys are blocked', 'reason', `one of ${reasons.join(', ')}`);
  if (entry !== undefined && (typeof entry !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(entry))) {
    throw invalid('entry must be 1-128 printable ASCII characters (an incident or list id)', 'entry', '1-128 printable ASCII characters');
  }
  const common = { reason, ...(entry !== undefined ? { entry: entry as string } : {}) };
  if (publicKeyPem !== undefined) {
    if (typeof publicKeyPem !== 'string') throw invalid('publicKeyPem must be a PEM string', 'publicKeyPem', 'a PEM "PUBLIC KEY" block');
    return { publicKeyPem, spkiSha256s: [], single: true, ...common };
  }
  const hashes = spkiSha256 !== undefined ? [spkiSha256] : spkiSha256s;
  if (!Array.isArray(hashes) || hashes.length === 0 || hashes.length > MAX_KEYS_PER_BLOCK_REQUEST) {
    throw invalid(`spkiSha256s must list 1 to ${MAX_KEYS_PER_BLOCK_REQUEST} hashes`, 'spkiSha256s', `1 to ${MAX_KEYS_PER_BLOCK_REQUEST} hashes`);
  }
  const bad = hashes.findIndex((h) => typeof h !== 'string' || !HASH.test(h));
  if (bad >= 0) {
    const field = spkiSha256 !== undefined ? 'spkiSha256' : `spkiSha256s[${bad}]`;
    throw invalid('A key hash must be the 64 lower-case hex digits of the SHA-256 of its SubjectPublicKeyInfo DER', field, '64 lower-case hex digits');
  }
  return { spkiSha256s: [...new Set(hashes as string[])], single: spkiSha256 !== undefined, ...common };
}

/** A key hash in a path. */
export function readKeyHash(event: HttpEvent): string {
  const hash = decodedPathParameter(event, 'spkiSha256').toLowerCase();
  if (!HASH.test(hash)) throw invalid('The key hash must be 64 hex digits (SHA-256 of the SubjectPublicKeyInfo DER)', 'spkiSha256', '64 hex digits');
  return hash;
}

/** POST /ca/rotate: {"force"?: boolean, "reason"?: "keyCompromise"}. */
export function readRotateRequest(event: HttpEvent, maxBytes: number): RotationRequest {
  const { force = false, reason, key = 'issuing', generation } = optionalJsonBody(event, maxBytes, ['force', 'reason', 'key', 'generation']);
  if (typeof force !== 'boolean') throw invalid('force must be true or false', 'force', 'must be a boolean');
  if (key !== 'issuing' && key !== 'log') throw invalid('key is issuing (the issuing CA, the default) or log (the issuance log key)', 'key', 'must be issuing or log');
  if (reason !== undefined && reason !== 'keyCompromise') {
    throw invalid(`The only rotation reason is keyCompromise (the ${key === 'log' ? 'issuance log key' : 'active issuing key'} is compromised)`, 'reason', 'must be keyCompromise');
  }
  if (generation !== undefined && (key !== 'log' || reason !== 'keyCompromise' || !Number.isSafeInteger(generation) || (generation as number) < 1)) {
    throw invalid('generation names the compromised issuance log key: a positive integer, with "key": "log" and "reason": "keyCompromise"', 'generation', 'a positive integer, with key log and reason keyCompromise');
  }
  return { force: force || reason === 'keyCompromise', ...(reason ? { reason } : {}), ...(key === 'log' ? { key } : {}), ...(generation !== undefined ? { generation: generation as number } : {}) };
}

/**
 * A path parameter, percent-decoded once when the platform left it encoded
 * (API Gateway and serverless-offline differ). A value that cannot be decoded
 * (a lone `%`, bad UTF-8) is a bad request, never a server error.
 */
function decodedPathParameter(event: HttpEvent, name: string): string {
  const raw = event.pathParameters?.[name] ?? '';
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid(`The ${name} path parameter is not valid percent-encoding`, name, 'not valid percent-encoding');
  }
}

function invalid(message: string, field: string, reason: string): HttpError {
  return new HttpError('INVALID_REQUEST', message, { details: [{ field, reason }] });
}

/** A serial number in a path: hex, case and colons tolerated, returned canonical. */
export function readSerial(event: HttpEvent): string {
  const serial = decodedPathParameter(event, 'serialNumber').replace(/:/g, '').toLowerCase();
  if (!isSerial(serial)) {
    throw invalid('The serial number must be hexadecimal', 'serialNumber', 'hex digits, at most 20 bytes');
  }
  return serial;
}

/** POST /lots: the lot's JSON object (its fields are checked by the use case). */
export function readLotRequest(event: HttpEvent, maxBytes: number): Record<string, unknown> {
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${contentType || '(none)'} is not supported; use application/json`);
  return jsonObject(bodyBytes(event, maxBytes), { shape: '{"lotId", "product", "quota", "closesAt"}' });
}

/** The {lotId} of a lot route. */
export const readLotId = (event: HttpEvent): string => checkLotId(event.pathParameters?.lotId ?? '');
