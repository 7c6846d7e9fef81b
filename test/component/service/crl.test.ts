import { describe, expect, it, jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCrlInfo } from '../../../src/pki/crl.js';
import { publishCrl, publishDueCrls } from '../../../src/service/crl.js';
import { CaError } from '../../../src/service/errors.js';
import { apiEvent, jsonPost } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';

const testApp = useTestApp();
const routes = routesOf(testApp);
const csrFor = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });

async function issue(cn: string) {
  const res = await callRoute(routes.issue, jsonPost({ csr: csrFor(cn) }));
  expect(res.statusCode).toBe(201);
  return res.json as { serialNumber: string; certificatePem: string; caCertificatePem: string; rootCertificatePem: string; issuingCaId: string };
}

async function getCrl(name: string) {
  const res = await routes.getCrl(apiEvent({ path: `/crl/${name}`, pathParameters: { name } }), {} as never);
  return { ...res, der: res.isBase64Encoded ? new Uint8Array(Buffer.from(res.body, 'base64')) : new Uint8Array() };
}

/** Runs openssl with files written in a temporary directory; returns stdout+stderr and whether it succeeded. */
function openssl(args: (dir: string) => string[], files: Record<string, string | Uint8Array>): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'crl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const r = spawnSync('openssl', args(dir), { encoding: 'utf8' });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pemOfCrl = (der: Uint8Array) => `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END X509 CRL-----\n`;

describe('CRLs', () => {
  it('publishes a CRL for the root and the issuing CA at bootstrap, each verified by openssl with its CA', async () => {
    const device = await issue('crl-first');
    for (const [name, caPem] of [
      ['root.crl', device.rootCertificatePem],
      [`${device.issuingCaId}.crl`, device.caCertificatePem],
    ] as const) {
      const res = await getCrl(name);
      expect(res.statusCode).toBe(200);
      expect(res.headers?.['Content-Type']).toBe('application/pkix-crl');
      expect(res.headers?.['Cache-Control']).toBe('public, max-age=60');
      const checked = openssl((d) => ['crl', '-inform', 'DER', '-in', join(d, 'c.crl'), '-noout', '-verify', '-CAfile', join(d, 'ca.pem'), '-text'], {
        'c.crl': res.der,
        'ca.pem': caPem,
      });
      expect(checked.out).toMatch(/verify OK/);
      expect(checked.out).toMatch(/No Revoked Certificates/);
      const info = readCrlInfo(res.der);
      expect(Date.parse(info.nextUpdate.toISOString()) - Date.parse(info.thisUpdate.toISOString())).toBe(7 * 86_400_000);
    }
  });

  it('lists a revoked certificate by the next publication: openssl verify -crl_check refuses it and accepts a good one', async () => {
    const revoked = await issue('crl-revoked');
    const good = await issue('crl-good');
    const before = readCrlInfo((await getCrl(`${revoked.issuingCaId}.crl`)).der);

    const answer = await callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: revoked.serialNumber }, body: JSON.stringify({ reason: 'keyCompromise' }), headers: { 'Content-Type': 'application/json' } }));
    expect(answer.statusCode).toBe(200);
    expect(answer.json.crl).toEqual({ issuingCaId: revoked.issuingCaId, path: `/crl/${revoked.issuingCaId}.crl`, publishedBy: expect.any(String) });
    expect(Date.parse(answer.json.crl.publishedBy) - Date.parse(answer.json.revokedAt)).toBeLessThanOrEqual(61_000);

    const report = await publishDueCrls(testApp().crlPublishing.crl);
    expect(report.published).toEqual([expect.objectContaining({ caId: revoked.issuingCaId, entries: 1 })]);
    const crl = (await getCrl(`${revoked.issuingCaId}.crl`)).der;
    const info = readCrlInfo(crl);
    expect(info.crlNumber).toBeGreaterThan(before.crlNumber);
    expect(info.entryCount).toBe(1);

    const text = openssl((d) => ['crl', '-inform', 'DER', '-in', join(d, 'c.crl'), '-noout', '-text'], { 'c.crl': crl }).out;
    expect(text.toLowerCase()).toContain(revoked.serialNumber.toUpperCase().toLowerCase().slice(0, 8));
    expect(text).toMatch(/Key Compromise/);

    const verify = (pem: string) =>
      openssl(
        (d) => ['verify', '-x509_strict', '-crl_check', '-CAfile', join(d, 'root.pem'), '-untrusted', join(d, 'issuing.pem'), '-CRLfile', join(d, 'crl.pem'), join(d, 'device.pem')],
        { 'root.pem': revoked.rootCertificatePem, 'issuing.pem': revoked.caCertificatePem, 'crl.pem': pemOfCrl(crl), 'device.pem': pem },
      );
    const refused = verify(revoked.certificatePem);
    expect(refused.ok).toBe(false);
    expect(refused.out).toMatch(/certificate revoked/);
    expect(verify(good.certificatePem)).toEqual({ ok: true, out: expect.stringMatching(/OK/) });

    // Nothing pending any more: the next run signs nothing new for this CA.
    const again = await publishDueCrls(testApp().crlPublishing.crl);
    expect(again.published.map((p) => p.caId)).not.toContain(revoked.issuingCaId);
  });

  it('lists a revocation the status index does not show yet (eventual consistency), from the pending serials', async () => {
    const t = testApp();
    const device = await issue('crl-lagging-index');
    const answer = await callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: device.serialNumber }, body: '{"reason":"superseded"}', headers: { 'Content-Type': 'application/json' } }));
    expect(answer.statusCode).toBe(200);
    // The index answers as if the revocation had not reached it.
    const spy = jest.spyOn(t.store, 'revokedOf').mockImplementation(async function* () {});
    try {
      await publishDueCrls(t.crlPublishing.crl);
    } finally {
      spy.mockRestore();
    }
    const text = openssl((d) => ['crl', '-inform', 'DER', '-in', join(d, 'c.crl'), '-noout', '-text'], { 'c.crl': (await getCrl(`${device.issuingCaId}.crl`)).der }).out;
    expect(text).toContain(`Serial Number: ${device.serialNumber.toUpperCase()}`);
    expect((await t.store.getCrlState(device.issuingCaId))!.pending).toEqual([]);
  });

  it('never moves the published CRL backwards when two publications race', async () => {
    const t = testApp();
    const ca = (await t.store.getCa((await t.store.getActiveIssuingCaId())!))!;
    const results = await Promise.all([publishCrl(t.crlPublishing.crl, ca), publishCrl(t.crlPublishing.crl, ca), publishCrl(t.crlPublishing.crl, ca)]);
    const state = await t.store.getCrlState(ca.id);
    const numbers = results.filter((r) => r !== undefined).map((r) => r!.crlNumber);
    expect(state!.published!.crlNumber).toBe(Math.max(...numbers));
    expect(state!.published!.crlNumber).toBe(state!.lastNumber);
    expect(readCrlInfo((await getCrl(`${ca.id}.crl`)).der).crlNumber).toBe(BigInt(state!.published!.crlNumber));
  });

  it('signs again when a CRL is a day old, and not before', async () => {
    const t = testApp();
    const d = t.crlPublishing.crl;
    await publishDueCrls(d);
    const quiet = await publishDueCrls(d);
    expect(quiet.published).toEqual([]);
    expect(quiet.hoursRemaining).toBeGreaterThanOrEqual(7 * 24 - 1);
    const later = await publishDueCrls({ ...d, clock: () => new Date(Date.now() + 25 * 3_600_000) });
    expect(later.published.map((p) => p.caId).sort()).toEqual(['issuing-1', 'root-1']);
  });

  it('answers 404 NOT_FOUND for a name that is no CRL, never touching the store with a malformed one', async () => {
    const state = jest.spyOn(testApp().store, 'getCrlState');
    try {
      for (const name of ['root', '../root.crl', 'issuing-1.crl.crl', 'ROOT.crl', 'issuing-01.crl', '.crl', 'issuing-1%2F..%2Froot.crl']) {
        const res = await callRoute(routes.getCrl, apiEvent({ path: `/crl/${name}`, pathParameters: { name } }));
        expect([name, res.statusCode, res.json.error?.code]).toEqual([name, 404, 'NOT_FOUND']);
      }
      expect(state).not.toHaveBeenCalled();
      // A well-formed name of a CA that has no CRL is looked up, and is not found either.
      const unknown = await callRoute(routes.getCrl, apiEvent({ path: '/crl/issuing-99.crl', pathParameters: { name: 'issuing-99.crl' } }));
      expect([unknown.statusCode, unknown.json.error?.code]).toEqual([404, 'NOT_FOUND']);
      expect(state).toHaveBeenCalledWith('issuing-99');
    } finally {
      state.mockRestore();
    }
  });

  it('a revocation whose CRL mark failed is finished by its repeat, and then listed', async () => {
    const t = testApp();
    const device = await issue('crl-mark-fault');
    const revoke = () =>
      callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: device.serialNumber }, body: '{"reason":"affiliationChanged"}', headers: { 'Content-Type': 'application/json' } }));
    const spy = jest.spyOn(t.store, 'markCrlPending').mockRejectedValueOnce(new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2 }));
    const failed = await revoke();
    expect([failed.statusCode, failed.json.error?.code]).toEqual([503, 'STORE_UNAVAILABLE']);
    spy.mockRestore();
    const again = await revoke();
    expect([again.statusCode, again.json.alreadyRevoked]).toEqual([200, true]);
    expect((await t.store.getCrlState(device.issuingCaId))!.pending).toContain(device.serialNumber);
    await publishDueCrls(t.crlPublishing.crl);
    const text = openssl((d) => ['crl', '-inform', 'DER', '-in', join(d, 'c.crl'), '-noout', '-text'], { 'c.crl': (await getCrl(`${device.issuingCaId}.crl`)).der }).out;
    expect(text).toContain(`Serial Number: ${device.serialNumber.toUpperCase()}`);
  });

  it('a publication whose record write failed leaves the CRL in force as it was, and the next run publishes', async () => {
    const t = testApp();
    const d = t.crlPublishing.crl;
    const device = await issue('crl-record-fault');
    await callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: device.serialNumber }, body: '{}', headers: { 'Content-Type': 'application/json' } }));
    const before = readCrlInfo((await getCrl(`${device.issuingCaId}.crl`)).der);
    const spy = jest.spyOn(t.store, 'recordCrlPublished').mockRejectedValueOnce(new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2 }));
    await expect(publishDueCrls(d)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/CRL publication failed for 1 CA/) });
    spy.mockRestore();
    // Still the CRL published before; the revocation is still pending.
    expect(readCrlInfo((await getCrl(`${device.issuingCaId}.crl`)).der).crlNumber).toBe(before.crlNumber);
    expect((await t.store.getCrlState(device.issuingCaId))!.pending).toContain(device.serialNumber);
    const report = await publishDueCrls(d);
    expect(report.published.map((p) => p.caId)).toContain(device.issuingCaId);
    const after = readCrlInfo((await getCrl(`${device.issuingCaId}.crl`)).der);
    // The number reserved by the failed run is skipped, never reused.
    expect(after.crlNumber).toBeGreaterThan(before.crlNumber + 1n);
    expect(after.entryCount).toBe(before.entryCount + 1);
  });
});

describe('CRL_BASE_URL', () => {
  const withUrl = useTestApp({ CRL_BASE_URL: 'http://pki.example.com/factory/' });
  const urlRoutes = routesOf(withUrl);

  it('puts the issuing CA\'s CRL distribution point in each device certificate, which openssl verify -crl_check accepts with that CRL', async () => {
    const res = await callRoute(urlRoutes.issue, jsonPost({ csr: csrFor('crl-cdp') }));
    expect(res.statusCode).toBe(201);
    const text = spawnSync('openssl', ['x509', '-noout', '-text'], { input: res.json.certificatePem, encoding: 'utf8' }).stdout;
    expect(text).toMatch(/X509v3 CRL Distribution Points:\s+Full Name:\s+URI:http:\/\/pki\.example\.com\/factory\/crl\/issuing-1\.crl/);
    const crlRes = await urlRoutes.getCrl(apiEvent({ path: '/crl/issuing-1.crl', pathParameters: { name: 'issuing-1.crl' } }), {} as never);
    const der = new Uint8Array(Buffer.from(crlRes.body, 'base64'));
    const verified = openssl(
      (d) => ['verify', '-x509_strict', '-crl_check', '-CAfile', join(d, 'root.pem'), '-untrusted', join(d, 'issuing.pem'), '-CRLfile', join(d, 'crl.pem'), join(d, 'device.pem')],
      { 'root.pem': res.json.rootCertificatePem, 'issuing.pem': res.json.caCertificatePem, 'crl.pem': pemOfCrl(der), 'device.pem': res.json.certificatePem },
    );
    expect(verified).toEqual({ ok: true, out: expect.stringMatching(/OK/) });
  });

  it('is refused at start when it is not a plain http(s) URL', async () => {
    const { loadConfig, ConfigError } = await import('../../../src/config/config.js');
    for (const bad of ['ftp://pki.example.com', 'http://pki.example.com/a?b=c', 'https://pki.exämple.com', 'pki.example.com']) {
      expect(() => loadConfig({ TABLE_NAME: 'ledger', CRL_BASE_URL: bad })).toThrow(ConfigError);
    }
  });
});

describe('After a compromise rotation', () => {
  const app = useTestApp();
  const r = routesOf(app);

  it('the root\'s authority revocation list names the compromised issuing CA (cACompromise) at once, and that CA\'s CRL stays at its last version', async () => {
    const before = await callRoute(r.getCa, apiEvent({ path: '/ca' }));
    const compromised = before.json.id as string;
    const lastOfCompromised = readCrlInfo(new Uint8Array(Buffer.from((await r.getCrl(apiEvent({ pathParameters: { name: `${compromised}.crl` } }), {} as never)).body, 'base64')));

    const rotated = await callRoute(r.rotate, apiEvent({ method: 'POST', body: JSON.stringify({ force: true, reason: 'keyCompromise' }), headers: { 'Content-Type': 'application/json' } }));
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json.actions).toEqual(expect.arrayContaining([expect.stringMatching(/^published CRL \d+ of root-1 \(1 entries/)]));

    const arl = new Uint8Array(Buffer.from((await r.getCrl(apiEvent({ pathParameters: { name: 'root.crl' } }), {} as never)).body, 'base64'));
    const caSerial = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: before.json.certificatePem, encoding: 'utf8' }).stdout.trim().split('=')[1]!;
    const text = openssl((d) => ['crl', '-inform', 'DER', '-in', join(d, 'arl.crl'), '-noout', '-text', '-verify', '-CAfile', join(d, 'root.pem')], {
      'arl.crl': arl,
      'root.pem': before.json.rootCertificatePem,
    }).out;
    expect(text).toMatch(/verify OK/);
    expect(text).toContain(`Serial Number: ${caSerial}`);
    expect(text).toMatch(/CA Compromise/);

    const report = await publishDueCrls(app().crlPublishing.crl);
    expect(report.skipped).toEqual(expect.arrayContaining([{ caId: compromised, why: 'key disabled after a compromise: its last CRL stays' }]));
    const still = readCrlInfo(new Uint8Array(Buffer.from((await r.getCrl(apiEvent({ pathParameters: { name: `${compromised}.crl` } }), {} as never)).body, 'base64')));
    expect(still.crlNumber).toBe(lastOfCompromised.crlNumber);
  });
});
