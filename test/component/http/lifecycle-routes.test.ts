import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiEvent, jsonPost } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { logKeyAlias } from '../../../src/compose/log.js';
import { softwareKeyFile } from '../../../src/local/software-keys.js';
import { noteKey, parseNote, verifyCheckpoint } from '../../../src/log/checkpoint.js';
import { sequenceLog } from '../../../src/service/log-sequencer.js';

// No CA cache: a rotation is seen by the next request.
const testApp = useTestApp({ CA_CACHE_TTL_SECONDS: '0' });
const routes = routesOf(testApp);
const call = callRoute;
const { issue, revoke, rotate: rotateCa } = routes;
const csrFor = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
const revokeEvent = (serialNumber: string, body?: unknown, contentType = 'application/json') =>
  apiEvent({
    method: 'POST',
    path: `/certificates/${serialNumber}/revoke`,
    pathParameters: { serialNumber },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': contentType } }),
    userArn: 'arn:aws:iam::123456789012:user/operator',
  });
const rotateEvent = (body?: unknown) =>
  apiEvent({ method: 'POST', path: '/ca/rotate', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });

describe('Route: POST /certificates/{serialNumber}/revoke (AWS IoT in dry run)', () => {
  it('revokes with the given reason, records what AWS IoT was told, and frees the common name', async () => {
    const issued = await call(issue, jsonPost({ csr: csrFor('revoke-1') }));
    expect(issued.statusCode).toBe(201);

    const res = await call(revoke, revokeEvent(issued.json.serialNumber, { reason: 'keyCompromise' }));

    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      serialNumber: issued.json.serialNumber,
      status: 'REVOKED',
      revocationReason: 'keyCompromise',
      alreadyRevoked: false,
      iot: { certificateId: issued.json.certificateId, outcome: 'DRY_RUN', wasRegistered: false },
    });
    const stored = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: issued.json.serialNumber } }));
    expect(stored.json).toMatchObject({ status: 'REVOKED', revocationReason: 'keyCompromise', revokedAt: res.json.revokedAt });
    // The dry run wrote down the AWS CLI command an operator would run.
    const line = JSON.parse(readFileSync(join(testApp().stateDir, 'iot', 'revocations.jsonl'), 'utf8').trim().split('\n').pop()!);
    expect(line.command).toBe(`aws iot update-certificate --certificate-id ${issued.json.certificateId} --new-status REVOKED`);
    expect(testApp().metrics.counts('CertificatesRevoked')).toBe(1);
    // A new key may now get a certificate for the same name.
    const replacement = await call(issue, jsonPost({ csr: csrFor('revoke-1') }));
    expect(replacement.statusCode).toBe(201);
  });

  it('refuses the revoked certificate\'s CSR again (409 CERTIFICATE_REVOKED), and shows the revocation in the provisioning preview', async () => {
    const csr = csrFor('revoke-again');
    const issued = await call(issue, jsonPost({ csr }));
    await call(revoke, revokeEvent(issued.json.serialNumber, { reason: 'keyCompromise' }));

    const again = await call(issue, jsonPost({ csr }));

    expect([again.statusCode, again.json.error.code]).toEqual([409, 'CERTIFICATE_REVOKED']);
    expect(again.json.error.details[0]).toMatchObject({ serialNumber: issued.json.serialNumber, revocationReason: 'keyCompromise' });
    const stored = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: issued.json.serialNumber } }));
    expect(stored.json.provisioning).toMatchObject({ certificateStatus: 'REVOKED', problems: [expect.stringContaining('revoked')] });
  });

  it('is idempotent: a second revocation keeps the first time and reason', async () => {
    const issued = await call(issue, jsonPost({ csr: csrFor('revoke-2') }));
    const first = await call(revoke, revokeEvent(issued.json.serialNumber, { reason: 'superseded' }));
    const second = await call(revoke, revokeEvent(issued.json.serialNumber, { reason: 'keyCompromise' }));
    expect(second.statusCode).toBe(200);
    expect(second.json).toEqual({ ...first.json, alreadyRevoked: true });
  });

  it('takes "unspecified" when there is no body', async () => {
    const issued = await call(issue, jsonPost({ csr: csrFor('revoke-3') }));
    const res = await call(revoke, revokeEvent(issued.json.serialNumber));
    expect([res.statusCode, res.json.revocationReason]).toEqual([200, 'unspecified']);
  });

  it.each([
    ['an unknown reason', { reason: 'lost' }, 'application/json', 400, 'INVALID_REQUEST'],
    ['certificateHold (revocation here is final)', { reason: 'certificateHold' }, 'application/json', 400, 'INVALID_REQUEST'],
    ['an unknown field', { reason: 'superseded', note: 'x' }, 'application/json', 400, 'INVALID_REQUEST'],
    ['a reason that is not a string', { reason: 1 }, 'application/json', 400, 'INVALID_REQUEST'],
    ['not JSON', '{"reason": ', 'application/json', 400, 'INVALID_REQUEST'],
    ['a text body', 'keyCompromise', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses %s', async (_case, body, contentType, status, code) => {
    const issued = await call(issue, jsonPost({ csr: csrFor(`revoke-bad-${status}-${code}-${Math.random()}`.replace(/[^A-Za-z0-9-]/g, '')) }));
    const res = await call(revoke, revokeEvent(issued.json.serialNumber, body, contentType));
    expect([res.statusCode, res.json.error.code]).toEqual([status, code]);
    const stored = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: issued.json.serialNumber } }));
    expect(stored.json.status).toBe('ISSUED');
  });

  it('answers 404 for an unknown serial and 400 for one that is not hex', async () => {
    const missing = await call(revoke, revokeEvent('0123abcd'));
    expect([missing.statusCode, missing.json.error.code]).toEqual([404, 'NOT_FOUND']);
    const bad = await call(revoke, revokeEvent('xyz'));
    expect([bad.statusCode, bad.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });
});

describe('Route: POST /certificates Location', () => {
  it('includes the API Gateway stage, which requestContext.path carries', async () => {
    const event = jsonPost({ csr: csrFor('location-1') });
    (event.requestContext as unknown as { path: string }).path = '/prod/certificates';
    const res = await call(issue, event);
    expect(res.headers?.Location).toBe(`/prod/certificates/${res.json.serialNumber}`);
  });
});

describe('Route: POST /ca/rotate', () => {
  it('does nothing when the issuing CA is not due', async () => {
    const before = await call(routes.getCa, apiEvent());
    const res = await call(rotateCa, rotateEvent());
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({ rotated: false, reason: 'not due', activeIssuingCaId: before.json.id });
    // Nothing of the CA hierarchy changed (CRLs with pending revocations may be signed again).
    expect(res.json.actions.filter((a: string) => !a.startsWith('published CRL'))).toEqual([]);
    expect(Date.parse(res.json.nextDueAt)).toBeGreaterThan(Date.now());
  });

  it('rotates on request; certificates of the old and the new issuing CA both verify against the root', async () => {
    const old = await call(issue, jsonPost({ csr: csrFor('rotate-old') }));

    const res = await call(rotateCa, rotateEvent({ force: true }));

    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({ rotated: true, previousIssuingCaId: old.json.issuingCaId });
    expect(res.json.activeIssuingCaId).not.toBe(old.json.issuingCaId);
    const statuses = Object.fromEntries(res.json.cas.map((c: { id: string; status: string }) => [c.id, c.status]));
    expect(statuses[old.json.issuingCaId]).toBe('RETIRED');
    expect(statuses[res.json.activeIssuingCaId]).toBe('ACTIVE');

    const fresh = await call(issue, jsonPost({ csr: csrFor('rotate-new') }));
    expect(fresh.json.issuingCaId).toBe(res.json.activeIssuingCaId);
    expect(fresh.json.rootCertificatePem).toBe(old.json.rootCertificatePem);
    expect(opensslVerify(fresh.json.rootCertificatePem, fresh.json.caCertificatePem, fresh.json.certificatePem)).toMatch(/OK/);
    // The old certificate is still served with its own chain, and still verifies.
    const again = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: old.json.serialNumber } }));
    expect(again.json.caCertificatePem).toBe(old.json.caCertificatePem);
    expect(opensslVerify(again.json.rootCertificatePem, again.json.caCertificatePem, again.json.certificatePem)).toMatch(/OK/);
  });

  it('refuses a force that is not a boolean', async () => {
    const res = await call(rotateCa, rotateEvent({ force: 'yes' }));
    expect([res.statusCode, res.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('refuses a rotation reason other than keyCompromise', async () => {
    const res = await call(rotateCa, rotateEvent({ force: true, reason: 'superseded' }));
    expect([res.statusCode, res.json.error.code, res.json.error.details]).toEqual([400, 'INVALID_REQUEST', [{ field: 'reason', reason: 'must be keyCompromise' }]]);
  });

  it('rotates the issuance log key on request: the current tree is signed again by both keys, and a compromised one is dropped and moved aside', async () => {
    // Prepare: a checkpoint signed by the first log key.
    await call(issue, jsonPost({ csr: csrFor('log-key-1') }));
    await sequenceLog(testApp().logSequencing.sequencer);
    const key = (generation: number) => noteKey('factory-ca/local', readFileSync(join(testApp().stateDir, softwareKeyFile(logKeyAlias(testApp().config, generation))), 'utf8'));
    const checkpoint = async () => (await call(routes.getLogCheckpoint, apiEvent({ path: '/log/checkpoint', headers: { accept: 'application/json' } }))).json.checkpoint as string;
    const first = await checkpoint();
    expect(parseNote(first).signatures).toHaveLength(1);

    // Act: a forced log key rotation; the issuing CA is not due.
    const counted = { log: testApp().metrics.counts('LogKeyRotations'), ca: testApp().metrics.counts('IssuingCaRotations') };
    const res = await call(rotateCa, rotateEvent({ key: 'log', force: true }));
    // Counted as the scheduled job counts its rotations: the log key's, not the CA's.
    expect([testApp().metrics.counts('LogKeyRotations') - counted.log, testApp().metrics.counts('IssuingCaRotations') - counted.ca]).toEqual([1, 0]);

    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({ rotated: false, reason: 'not due', logKey: { rotated: true, reason: 'log key rotation requested', generation: 2, keyAlias: 'alias/factory-ca-local-log-2', previousGeneration: 1 } });
    await sequenceLog(testApp().logSequencing.sequencer);
    const cosigned = await checkpoint();
    const size = verifyCheckpoint(first, key(1)).size;
    // Each key as an auditor keeps it (a disabled key's file is moved aside).
    const [key1, key2] = [key(1), key(2)];
    expect([verifyCheckpoint(cosigned, key1).size, verifyCheckpoint(cosigned, key2).size]).toEqual([size, size]);

    // A compromise of key 2: key 3 signs, key 1 (not compromised) still co-signs, key 2's file is moved aside.
    const compromised = await call(rotateCa, rotateEvent({ key: 'log', reason: 'keyCompromise' }));
    expect(compromised.json.logKey).toMatchObject({ rotated: true, generation: 3, previousGeneration: 1 });
    const file2 = join(testApp().stateDir, softwareKeyFile('alias/factory-ca-local-log-2'));
    expect([existsSync(file2), existsSync(`${file2}.disabled`)]).toEqual([false, true]);
    await sequenceLog(testApp().logSequencing.sequencer);
    const after = await checkpoint();
    expect(parseNote(after).signatures).toHaveLength(2);
    expect([verifyCheckpoint(after, key(3)).size, verifyCheckpoint(after, key1).size]).toEqual([size, size]);
    expect(() => verifyCheckpoint(after, key2)).toThrow(/^the signature by factory-ca\/local has key ID [0-9a-f]{8}, not the key's [0-9a-f]{8}$/);

    // Then key 1 too: it is taken out of the co-signers and moved aside; key 3 signs alone.
    const oldest = await call(rotateCa, rotateEvent({ key: 'log', reason: 'keyCompromise', generation: 1 }));
    expect(oldest.json.logKey).toMatchObject({ rotated: false, generation: 3 });
    expect(oldest.json.logKey.previousGeneration).toBeUndefined();
    const file1 = join(testApp().stateDir, softwareKeyFile('alias/factory-ca-local-log-1'));
    expect([existsSync(file1), existsSync(`${file1}.disabled`)]).toEqual([false, true]);
    await sequenceLog(testApp().logSequencing.sequencer);
    expect(parseNote(await checkpoint()).signatures).toHaveLength(1);
    expect(verifyCheckpoint(await checkpoint(), key(3)).size).toBe(size);
  });

  it('refuses a rotation key other than issuing or log', async () => {
    const res = await call(rotateCa, rotateEvent({ key: 'root', force: true }));
    expect([res.statusCode, res.json.error.code, res.json.error.details]).toEqual([400, 'INVALID_REQUEST', [{ field: 'key', reason: 'must be issuing or log' }]]);
    for (const body of [{ key: 'log', generation: 1 }, { key: 'issuing', reason: 'keyCompromise', generation: 1 }, { key: 'log', reason: 'keyCompromise', generation: 0 }, { key: 'log', reason: 'keyCompromise', generation: '1' }]) {
      const refused = await call(rotateCa, rotateEvent(body));
      expect([refused.statusCode, refused.json.error.details[0].field]).toEqual([400, 'generation']);
    }
    const unknown = await call(rotateCa, rotateEvent({ key: 'log', reason: 'keyCompromise', generation: 99 }));
    expect([unknown.statusCode, unknown.json.error.code, unknown.json.error.details]).toEqual([400, 'INVALID_REQUEST', [{ field: 'generation', reason: expect.stringMatching(/^at most \d+$/) }]]);
  });

  it('a compromise rotation moves issuance at once and moves the old software key aside; the next certificate is of the new CA', async () => {
    const before = (await call(routes.getCa, apiEvent({}))).json.id as string;
    const res = await call(rotateCa, rotateEvent({ reason: 'keyCompromise' }));
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({ rotated: true, previousIssuingCaId: before, reason: `the key of ${before} is compromised` });
    expect(res.json.actions.some((a: string) => a.startsWith(`disabled the key of ${before}`))).toBe(true);
    const keyFile = join(testApp().stateDir, 'ca', `factory-ca-local-${before}.key`);
    expect([existsSync(keyFile), existsSync(`${keyFile}.disabled`)]).toEqual([false, true]);
    const next = await call(issue, jsonPost({ csr: csrFor('after-compromise') }));
    expect([next.statusCode, next.json.issuingCaId]).toEqual([201, res.json.activeIssuingCaId]);
  });
});
