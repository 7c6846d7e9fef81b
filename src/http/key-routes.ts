/** The operators' block list: POST /blocked-keys, GET /blocked-keys/{spkiSha256}. */
import type { KeyBlockingFunction } from '../compose/operations.js';
import { spkiSha256OfPem } from '../pki/public-key.js';
import type { KeyEntry } from '../service/ports.js';
import { blockKeys, getBlockedKey } from '../service/blocked-keys.js';
import { REVOCATION_REASONS } from '../service/revoke-certificate.js';
import { httpFunction, json } from './edge.js';
import { readBlockKeysRequest, readKeyHash, stationIdOf } from './requests.js';

const entryView = (e: KeyEntry) => ({
  spkiSha256: e.spkiSha256,
  status: e.status,
  blockedAt: e.blockedAt,
  reason: e.reason,
  ...(e.blockedBySerial ? { blockedBySerial: e.blockedBySerial } : {}),
  ...(e.blockedByEntry ? { blockedByEntry: e.blockedByEntry } : {}),
});

/** 201 for a key blocked now, 200 for one blocked before (its first block stands); a batch answers 200 with counts. */
export const blockKeysRoute = (fn: KeyBlockingFunction) =>
  httpFunction('POST /blocked-keys', fn, async (event, { log }) => {
    const request = readBlockKeysRequest(event, fn.http.maxBodyBytes, REVOCATION_REASONS);
    const operator = stationIdOf(event, fn.http.trustStationHeader);
    const hashes = request.publicKeyPem !== undefined ? [spkiSha256OfPem(request.publicKeyPem)] : request.spkiSha256s;
    const entry = request.entry ?? `block list (${operator})`;
    const results = await blockKeys(fn.keys, hashes.map((spkiSha256) => ({ spkiSha256, reason: request.reason, entry })));
    const blocked = results.filter((r) => r.changed).length;
    Object.assign(log, { operator, keys: hashes.length, blocked, reason: request.reason });
    if (request.single || request.publicKeyPem !== undefined) {
      const [only] = results;
      return json(only!.changed ? 201 : 200, { ...entryView(only!.entry), alreadyBlocked: !only!.changed });
    }
    return json(200, { blocked, alreadyBlocked: results.length - blocked, items: results.map((r) => ({ spkiSha256: r.entry.spkiSha256, alreadyBlocked: !r.changed })) });
  });

export const getBlockedKeyRoute = (fn: KeyBlockingFunction) =>
  httpFunction('GET /blocked-keys/{spkiSha256}', fn, async (event, { log }) => {
    const hash = readKeyHash(event);
    log.spkiSha256 = hash;
    return json(200, entryView(await getBlockedKey(fn.keys, hash)));
  });
