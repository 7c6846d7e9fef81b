import { describe, expect, it } from '@jest/globals';
import { decodeEntry, encodeEntry, entryIdentity, EntryError, type LogEntry } from '../../../src/log/entries.js';

const SHA = 'ab'.repeat(32);
const text = (e: LogEntry) => Buffer.from(encodeEntry(e)).toString('utf8');

describe('Function: encodeEntry', () => {
  it.each<[string, LogEntry, string]>([
    [
      'lot-opened, every key',
      { openedAt: '2026-03-01T00:00:00.000Z', closesAt: '2026-04-01T00:00:00.000Z', stations: ['s1', 's2'], commonNamePattern: 'sn-[0-9]+', quota: 5, product: 'p', lotId: 'L1', type: 'lot-opened', v: 1 },
      '{"v":1,"type":"lot-opened","lotId":"L1","product":"p","quota":5,"commonNamePattern":"sn-[0-9]+","stations":["s1","s2"],"closesAt":"2026-04-01T00:00:00.000Z","openedAt":"2026-03-01T00:00:00.000Z"}',
    ],
    [
      'issued, no common name, no lot',
      { v: 1, type: 'issued', issuedAt: 't', stationId: 'st', issuingCaId: 'ca', certificateSha256: SHA, serialNumber: '0a' },
      `{"v":1,"type":"issued","serialNumber":"0a","certificateSha256":"${SHA}","issuingCaId":"ca","stationId":"st","issuedAt":"t"}`,
    ],
    [
      'issued in a lot',
      { v: 1, type: 'issued', lotSeq: 3, lotId: 'L1', issuedAt: 't', stationId: 'st', commonName: 'cn', issuingCaId: 'ca', certificateSha256: SHA, serialNumber: '0a' },
      `{"v":1,"type":"issued","serialNumber":"0a","certificateSha256":"${SHA}","issuingCaId":"ca","commonName":"cn","stationId":"st","issuedAt":"t","lotId":"L1","lotSeq":3}`,
    ],
    [
      'a re-enrollment in a lot',
      { v: 1, type: 'issued', replaces: '09', lotId: 'L1', issuedAt: 't', stationId: 'st', issuingCaId: 'ca', certificateSha256: SHA, serialNumber: '0a' },
      `{"v":1,"type":"issued","serialNumber":"0a","certificateSha256":"${SHA}","issuingCaId":"ca","stationId":"st","issuedAt":"t","lotId":"L1","replaces":"09"}`,
    ],
    [
      'revoked in a lot',
      { v: 1, type: 'revoked', lotRevocationSeq: 1, lotId: 'L1', revokedAt: 't', reason: 'keyCompromise', issuingCaId: 'ca', certificateSha256: SHA, serialNumber: '0a' },
      `{"v":1,"type":"revoked","serialNumber":"0a","certificateSha256":"${SHA}","issuingCaId":"ca","reason":"keyCompromise","revokedAt":"t","lotId":"L1","lotRevocationSeq":1}`,
    ],
    ['lot-closed', { issued: 7, closedAt: 't', lotId: 'L1', type: 'lot-closed', v: 1 }, '{"v":1,"type":"lot-closed","lotId":"L1","closedAt":"t","issued":7}'],
  ])('writes %s with its keys in the specified order', (_name, entry, expected) => {
    expect(text(entry)).toBe(expected);
    expect(decodeEntry(encodeEntry(entry))).toStrictEqual(JSON.parse(expected));
  });

  it('names each entry by what it says happened', () => {
    expect(entryIdentity({ v: 1, type: 'issued', serialNumber: '0a', certificateSha256: SHA, issuingCaId: 'ca', stationId: 's', issuedAt: 't' })).toBe('0a#issued');
    expect(entryIdentity({ v: 1, type: 'revoked', serialNumber: '0a', certificateSha256: SHA, issuingCaId: 'ca', reason: 'r', revokedAt: 't' })).toBe('0a#revoked');
    expect(entryIdentity({ v: 1, type: 'lot-closed', lotId: 'L', closedAt: 't', issued: 0 })).toBe('LOT#L#closed');
    expect(entryIdentity({ v: 1, type: 'lot-opened', lotId: 'L', product: 'p', quota: 1, closesAt: 't', openedAt: 't' })).toBe('LOT#L#opened');
  });

  it('refuses an entry with a missing key, a bad digest, a lot number without a lot, or a numbered re-enrollment', () => {
    expect(() => encodeEntry({ v: 1, type: 'lot-closed', lotId: 'L', closedAt: 't' } as unknown as LogEntry)).toThrow(EntryError);
    expect(() => encodeEntry({ v: 1, type: 'issued', serialNumber: '0a', certificateSha256: 'AB'.repeat(32), issuingCaId: 'ca', stationId: 's', issuedAt: 't' })).toThrow(EntryError);
    expect(() => encodeEntry({ v: 1, type: 'issued', serialNumber: '0a', certificateSha256: SHA, issuingCaId: 'ca', stationId: 's', issuedAt: 't', lotSeq: 1 })).toThrow(EntryError);
    // A re-enrollment takes no seat: never numbered in its lot.
    expect(() => encodeEntry({ v: 1, type: 'issued', serialNumber: '0a', certificateSha256: SHA, issuingCaId: 'ca', stationId: 's', issuedAt: 't', lotId: 'L', lotSeq: 1, replaces: '09' })).toThrow('a re-enrollment takes no seat of its lot: it has no lotSeq');
  });
});

describe('Function: decodeEntry', () => {
  it.each([
    ['not UTF-8', Uint8Array.of(0xff)],
    ['not JSON', Buffer.from('{')],
    ['an array', Buffer.from('[]')],
    ['another version', Buffer.from('{"v":2,"type":"lot-closed","lotId":"L","closedAt":"t","issued":1}')],
    ['an unknown type', Buffer.from('{"v":1,"type":"toString"}')],
    ['an unknown key', Buffer.from('{"v":1,"type":"lot-closed","lotId":"L","closedAt":"t","issued":1,"x":1}')],
    ['keys out of order', Buffer.from('{"v":1,"type":"lot-closed","closedAt":"t","lotId":"L","issued":1}')],
    ['spaces', Buffer.from('{"v":1, "type":"lot-closed","lotId":"L","closedAt":"t","issued":1}')],
    ['a negative count', Buffer.from('{"v":1,"type":"lot-closed","lotId":"L","closedAt":"t","issued":-1}')],
  ])('refuses %s', (_name, bytes) => {
    expect(() => decodeEntry(new Uint8Array(bytes))).toThrow(EntryError);
  });
});
