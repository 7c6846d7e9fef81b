import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishDueCrls } from '../../src/service/crl.js';
import { apiEvent, jsonPost } from '../helpers/api.js';
import { buildCsr, STRING, subject } from '../helpers/csr-builder.js';
import { ensureDebianTools, type DebianTool } from '../helpers/debian-tools.js';
import { freePort } from '../helpers/local-stack-process.js';
import { callRoute, routesOf, useTestApp } from '../helpers/test-app.js';

/**
 * A relying party other than AWS IoT: a mosquitto broker that checks client
 * certificates against factory-ca's chain and the issuing CA's CRL (crlfile)
 * refuses a revoked device in the TLS handshake and accepts a good one.
 */
const TOOLS: DebianTool[] = [
  { name: 'mosquitto', check: 'command -v mosquitto || [ -x /usr/sbin/mosquitto ]', apt: 'mosquitto' },
  { name: 'mosquitto_pub', check: 'command -v mosquitto_pub', apt: 'mosquitto-clients' },
];
const mosquittoBin = () => (spawnSync('bash', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/mosquitto');

const testApp = useTestApp();
const routes = routesOf(testApp);

beforeAll(() => ensureDebianTools('The CRL broker test', TOOLS));

async function device(cn: string) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await callRoute(routes.issue, jsonPost({ csr: buildCsr({ key: privateKey, subjectDer: subject({ CN: STRING.utf8(cn) }) }) }));
  expect(res.statusCode).toBe(201);
  return { ...res.json, keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string } as {
    serialNumber: string;
    certificatePem: string;
    caCertificatePem: string;
    rootCertificatePem: string;
    issuingCaId: string;
    keyPem: string;
  };
}

const waitFor = async (ok: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return ok();
};

describe('A mosquitto broker with crlfile (the issuing CA\'s CRL from GET /crl)', () => {
  it('refuses the revoked device\'s TLS connection and accepts a good one', async () => {
    const good = await device('crl-broker-good');
    const revoked = await device('crl-broker-revoked');
    const answer = await callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: revoked.serialNumber }, body: '{"reason":"keyCompromise"}', headers: { 'Content-Type': 'application/json' } }));
    expect(answer.statusCode).toBe(200);
    await publishDueCrls(testApp().crlPublishing.crl);
    const crlRes = await routes.getCrl(apiEvent({ path: `/crl/${good.issuingCaId}.crl`, pathParameters: { name: `${good.issuingCaId}.crl` } }), {} as never);
    expect(crlRes.statusCode).toBe(200);

    const dir = mkdtempSync(join(tmpdir(), 'crl-broker-'));
    let broker: ChildProcess | undefined;
    try {
      const file = (name: string, content: string | Uint8Array) => {
        writeFileSync(join(dir, name), content);
        return join(dir, name);
      };
      const crlPem = execFileSync('openssl', ['crl', '-inform', 'DER', '-outform', 'PEM'], { input: Buffer.from(crlRes.body, 'base64') }).toString();
      // The broker's own certificate, from a CA of its own (the clients trust it with --cafile).
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.pem')], { stdio: 'pipe' });
      const startBroker = async (withCrl: boolean) => {
        const port = await freePort();
        const log = join(dir, `mosquitto-${withCrl}.log`);
        file(
          'mosquitto.conf',
          [
            'per_listener_settings false',
            'persistence false',
            `log_dest file ${log}`,
            'log_type all',
            ...(process.getuid?.() === 0 ? ['user root'] : []),
            `listener ${port} 127.0.0.1`,
            `cafile ${file('chain.pem', good.caCertificatePem + good.rootCertificatePem)}`,
            ...(withCrl ? [`crlfile ${file('crl.pem', crlPem)}`] : []),
            'require_certificate true',
            'use_identity_as_username true',
            'allow_anonymous false',
            `certfile ${join(dir, 'server.pem')}`,
            `keyfile ${join(dir, 'server.key')}`,
            '',
          ].join('\n'),
        );
        writeFileSync(log, '');
        broker = spawn(mosquittoBin(), ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
        expect(await waitFor(() => readFileSync(log, 'utf8').includes(`listen socket on port ${port}.`), 10_000)).toBe(true);
        return { port, log: () => readFileSync(log, 'utf8') };
      };
      const publish = (port: number, d: typeof good) =>
        spawnSync(
          'mosquitto_pub',
          ['-h', 'localhost', '-p', String(port), '--cafile', join(dir, 'server.pem'), '--cert', file(`${d.serialNumber}.pem`, d.certificatePem + d.caCertificatePem), '--key', file(`${d.serialNumber}.key`, d.keyPem), '-t', 'things/x', '-m', 'hello', '-q', '1', '--tls-version', 'tlsv1.2'],
          { encoding: 'utf8', timeout: 20_000 },
        );

      // Without the CRL, the chain alone: both devices connect (the revoked one's chain is valid).
      const plain = await startBroker(false);
      expect(publish(plain.port, good).status).toBe(0);
      expect(publish(plain.port, revoked).status).toBe(0);
      expect(plain.log()).toContain("u'crl-broker-revoked'");
      broker?.kill();

      // With the CRL: the good device connects, the revoked one fails the TLS handshake.
      const checking = await startBroker(true);
      const accepted = publish(checking.port, good);
      expect({ status: accepted.status, err: accepted.stderr }).toEqual({ status: 0, err: '' });
      const refused = publish(checking.port, revoked);
      expect(refused.status).not.toBe(0);
      expect(checking.log()).toContain("u'crl-broker-good'");
      expect(checking.log()).not.toContain("u'crl-broker-revoked'");
      expect(checking.log()).toMatch(/certificate verify failed/);
    } finally {
      broker?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
