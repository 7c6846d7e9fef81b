import { describe, expect, it } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { apiEvent, jsonPost } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';

const testApp = useTestApp();
const routes = routesOf(testApp);
const csrFor = (cn: string, key = newP256Key()) => buildCsr({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });
const revoke = (serialNumber: string, reason: string) =>
  callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber }, body: JSON.stringify({ reason }), headers: { 'content-type': 'application/json' } }));
/** The certificate items of the ledger, by CN. */
async function certificates(cn: string): Promise<number> {
  const out = await testApp().client.send(new ScanCommand({ TableName: testApp().config.tableName }));
  return (out.Items ?? []).filter((i) => i.pk?.S?.startsWith('CERT#') && i.commonName?.S === cn).length;
}

describe('Key trust through the issuing route (dynalite ledger)', () => {
  it('a key revoked for keyCompromise is never certified again, under its name or another: 409 KEY_BLOCKED, nothing recorded', async () => {
    const key = newP256Key();
    const first = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-a', key) }));
    expect(first.statusCode).toBe(201);
    expect((await revoke(first.json.serialNumber, 'keyCompromise')).statusCode).toBe(200);

    const sameCsrAgain = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-a', key) }));
    expect([sameCsrAgain.statusCode, sameCsrAgain.json.error.code]).toEqual([409, 'KEY_BLOCKED']);
    expect(sameCsrAgain.json.error.details[0]).toMatchObject({ serialNumber: first.json.serialNumber, revocationReason: 'keyCompromise' });
    const otherName = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-a-other', key) }));
    expect([otherName.statusCode, otherName.json.error.code]).toEqual([409, 'KEY_BLOCKED']);
    expect([await certificates('kt-a'), await certificates('kt-a-other')]).toEqual([1, 0]);
  });

  it('one key per device: the same key under another name is 409 KEY_IN_USE naming the serial, nothing recorded', async () => {
    const key = newP256Key();
    const first = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-b', key) }));
    const clone = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-b-clone', key) }));
    expect([clone.statusCode, clone.json.error.code, clone.json.error.details[0].serialNumber]).toEqual([409, 'KEY_IN_USE', first.json.serialNumber]);
    expect(await certificates('kt-b-clone')).toBe(0);
  });

  it('CSR A after A and B (same name) were issued and revoked: 409 KEY_BLOCKED, not a new certificate', async () => {
    const csrA = csrFor('kt-c');
    const a = await callRoute(routes.issue, jsonPost({ csr: csrA }));
    await revoke(a.json.serialNumber, 'superseded');
    const b = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-c') }));
    expect(b.statusCode).toBe(201);
    await revoke(b.json.serialNumber, 'cessationOfOperation');
    const again = await callRoute(routes.issue, jsonPost({ csr: csrA }));
    expect([again.statusCode, again.json.error.code]).toEqual([409, 'KEY_BLOCKED']);
    expect(await certificates('kt-c')).toBe(2);
  });
});

describe('The operators\' block list', () => {
  it('a key blocked by its PEM refuses a fresh CSR with that key: 409 KEY_BLOCKED naming the entry; blocking again answers 200', async () => {
    const key = newP256Key();
    const publicKeyPem = createPublicKey(key).export({ format: 'pem', type: 'spki' }) as string;
    const block = (body: unknown) => callRoute(routes.blockKeys, jsonPost(body));
    const first = await block({ publicKeyPem, reason: 'keyCompromise', entry: 'vendor incident SE-2026-11' });
    expect([first.statusCode, first.json.alreadyBlocked]).toEqual([201, false]);
    const again = await block({ spkiSha256: first.json.spkiSha256, reason: 'unspecified' });
    expect([again.statusCode, again.json.alreadyBlocked, again.json.reason]).toEqual([200, true, 'keyCompromise']);

    const refused = await callRoute(routes.issue, jsonPost({ csr: csrFor('kt-blocked', key) }));
    expect([refused.statusCode, refused.json.error.code]).toEqual([409, 'KEY_BLOCKED']);
    expect(refused.json.error.details[0]).toMatchObject({ blockEntry: 'vendor incident SE-2026-11', revocationReason: 'keyCompromise', spkiSha256: first.json.spkiSha256 });
    expect(await certificates('kt-blocked')).toBe(0);
    const read = await callRoute(routes.getBlockedKey, apiEvent({ pathParameters: { spkiSha256: first.json.spkiSha256 } }));
    expect(read.json).toMatchObject({ status: 'BLOCKED', blockedByEntry: 'vendor incident SE-2026-11' });
  });

  it('refuses what is not one SubjectPublicKeyInfo, or more than one way of naming keys, with 400', async () => {
    for (const body of [
      { publicKeyPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', reason: 'keyCompromise' },
      { publicKeyPem: 'junk', spkiSha256: 'a'.repeat(64), reason: 'keyCompromise' },
      { spkiSha256s: Array.from({ length: 201 }, (_, i) => i.toString(16).padStart(64, '0')).slice(0, 201), reason: 'keyCompromise' },
      { spkiSha256: 'a'.repeat(64), reason: 'certificateHold' },
    ]) {
      const res = await callRoute(routes.blockKeys, jsonPost(body));
      expect([res.statusCode, res.json.error.code]).toEqual([400, expect.stringMatching(/^(INVALID_REQUEST|CSR_MALFORMED)$/)]);
    }
  });
});
