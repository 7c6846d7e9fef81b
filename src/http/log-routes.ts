/**
 * The issuance log's routes. GET /log/checkpoint is public (a signed note holds
 * nothing secret, like a CRL); the proofs are authenticated like GET /certificates.
 */
import type { LogReadingFunction } from '../compose/log.js';
import { consistency, entryByIndex, latestCheckpoint, proofBySerial } from '../service/log-reading.js';
import { httpFunction, json, text, type HttpEvent } from './edge.js';
import { HttpError } from './errors.js';
import { JSON_TYPE, negotiate } from './negotiation.js';
import { header, readSerial } from './requests.js';

const NOTE_TYPE = 'text/plain';
const LOG_MEDIA_TYPES = [NOTE_TYPE, JSON_TYPE] as const;
/** A new checkpoint is signed every minute at most. */
const MAX_AGE_SECONDS = 30;
const COUNT = /^(0|[1-9][0-9]{0,15})$/;

/** A non-negative integer parameter (a tree size, an index); INVALID_REQUEST otherwise. */
function count(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!COUNT.test(value) || !Number.isSafeInteger(n)) {
    throw new HttpError('INVALID_REQUEST', `${field} must be a non-negative integer`, { details: [{ field, reason: 'a decimal integer without leading zeros' }] });
  }
  return n;
}

const query = (event: HttpEvent, name: string) => event.queryStringParameters?.[name] ?? undefined;
const required = (value: number | undefined, field: string): number => {
  if (value === undefined) throw new HttpError('INVALID_REQUEST', `${field} is required`, { details: [{ field, reason: 'required' }] });
  return value;
};

export const getLogCheckpointRoute = (fn: LogReadingFunction) =>
  httpFunction('GET /log/checkpoint', { obs: fn.obs, guards: fn.publicGuards }, async (event, { log }) => {
    const as = negotiate(header(event, 'accept'), LOG_MEDIA_TYPES);
    const cp = await latestCheckpoint(fn.log);
    log.treeSize = cp.treeSize;
    const headers = { 'Cache-Control': `public, max-age=${MAX_AGE_SECONDS}` };
    return as === JSON_TYPE ? json(200, cp, headers) : text(200, cp.checkpoint, 'text/plain; charset=utf-8', headers);
  });

export const getLogProofRoute = (fn: LogReadingFunction) =>
  httpFunction('GET /log/proof/{serialNumber}', fn, async (event, { log }) => {
    const serial = readSerial(event);
    const treeSize = count(query(event, 'treeSize'), 'treeSize');
    log.serialNumber = serial;
    const proof = await proofBySerial(fn.log, serial, treeSize);
    Object.assign(log, { leafIndex: proof.leafIndex, treeSize: proof.treeSize });
    return json(200, proof);
  });

export const getLogEntryRoute = (fn: LogReadingFunction) =>
  httpFunction('GET /log/entries/{index}', fn, async (event, { log }) => {
    const index = required(count(event.pathParameters?.index ?? undefined, 'index'), 'index');
    const treeSize = count(query(event, 'treeSize'), 'treeSize');
    log.leafIndex = index;
    const proof = await entryByIndex(fn.log, index, treeSize);
    log.treeSize = proof.treeSize;
    return json(200, proof);
  });

export const getLogConsistencyRoute = (fn: LogReadingFunction) =>
  httpFunction('GET /log/consistency', fn, async (event, { log }) => {
    const from = required(count(query(event, 'from'), 'from'), 'from');
    const to = required(count(query(event, 'to'), 'to'), 'to');
    Object.assign(log, { from, to });
    return json(200, await consistency(fn.log, from, to));
  });
