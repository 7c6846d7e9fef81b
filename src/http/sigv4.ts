/**
 * Local SigV4 mode: the local API asks for what API Gateway asks for in AWS, an
 * AWS Signature Version 4 (service execute-api) on every request, so the whole
 * station path, signing included, runs offline. The signature is recomputed with
 * the AWS SDK's own signer over exactly the headers the client signed, and
 * compared in constant time; the body must be the one that was signed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpError } from './errors.js';
import type { HttpEvent } from './edge.js';
import { header } from './requests.js';

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** The credential scope's region (API Gateway's in AWS). */
  region: string;
}

/** How far a request's X-Amz-Date may be from the server's clock, as in AWS. */
export const MAX_SKEW_MS = 5 * 60_000;

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

const denied = (message: string) => new HttpError('ACCESS_DENIED', message);

/** `20261130T120000Z` → Date, or undefined. */
function amzDate(value: string | undefined): Date | undefined {
  const m = value && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** The request's body bytes as the client sent them. */
const bodyOf = (event: HttpEvent) => (event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0));

/** The query as the signer canonicalises it (names and values decoded; repeated names as arrays). */
function queryOf(event: HttpEvent): Record<string, string | string[]> {
  const multi = event.multiValueQueryStringParameters ?? {};
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) out[k] = multi[k] && multi[k]!.length > 1 ? multi[k]! : v;
  return out;
}

/**
 * Checks a request's SigV4 signature; returns the caller's access key id, or
 * throws 403 ACCESS_DENIED saying what is wrong (missing, unknown key, skew,
 * scope, body, signature).
 */
export async function verifySigV4(event: HttpEvent, credentials: LocalCredentials, now: Date): Promise<string> {
  const authorization = header(event, 'authorization');
  if (!authorization) throw denied('Missing authentication: sign the request with AWS Signature Version 4 (service execute-api)');
  const m = AUTHORIZATION.exec(authorization.trim());
  if (!m) throw denied('The Authorization header is not an AWS4-HMAC-SHA256 signature');
  const [, accessKeyId, day, region, service, signedHeaderList, signature] = m as unknown as string[];
  if (accessKeyId !== credentials.accessKeyId) throw denied('The access key is not known to this API');
  if (region !== credentials.region || service !== 'execute-api') {
    throw denied(`The signature's scope must be region ${credentials.region}, service execute-api`);
  }
  const signedAt = amzDate(header(event, 'x-amz-date'));
  if (!signedAt || signedAt.toISOString().slice(0, 10).replace(/-/g, '') !== day) throw denied('X-Amz-Date is missing or does not match the credential scope');
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_SKEW_MS) throw denied('The signature is stale: X-Amz-Date is more than 5 minutes from the server time');
  const signed = signedHeaderList!.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) throw denied('The signature must cover the host and x-amz-date headers');

  const body = bodyOf(event);
  const contentSha = header(event, 'x-amz-content-sha256');
  if (contentSha !== undefined && contentSha !== createHash('sha256').update(body).digest('hex')) {
    throw denied('x-amz-content-sha256 is not the hash of the body sent');
  }
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = header(event, name);
    if (value === undefined) throw denied(`The signed header ${name} is missing`);
    headers[name] = value;
  }
  const request = new HttpRequest({ method: event.httpMethod, protocol: 'http:', hostname: headers.host!, path: event.path, query: queryOf(event), headers, body });
  const signer = new SignatureV4({ credentials, region: credentials.region, service: 'execute-api', sha256: Sha256, applyChecksum: false });
  const recomputed = await signer.sign(request, { signingDate: signedAt, signableHeaders: new Set(signed) });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(recomputed.headers.authorization ?? recomputed.headers.Authorization))?.[1] ?? '';
  const ok = expected.length === 64 && timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature!, 'hex'));
  if (!ok) throw denied('The request signature does not match: check the secret access key and that the request was sent as signed');
  return accessKeyId!;
}
