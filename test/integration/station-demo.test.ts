import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startLocalStack, type RunningStack } from '../helpers/local-stack-process.js';
import { opensslVerify } from '../helpers/openssl.js';
import { ensureDebianTools, type DebianTool } from '../helpers/debian-tools.js';

/**
 * `npm run demo:station` (scripts/station-demo.sh) against the local stack: a
 * device certificate from factory-ca, used over MQTT/TLS with a real mosquitto
 * broker that trusts factory-ca's root, and a certificate from another CA refused.
 */

const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-station-'));
let stack: RunningStack;

const TOOLS: DebianTool[] = [
  { name: 'mosquitto', check: 'command -v mosquitto || [ -x /usr/sbin/mosquitto ]', apt: 'mosquitto' },
  { name: 'mosquitto_pub', check: 'command -v mosquitto_pub', apt: 'mosquitto-clients' },
  { name: 'mosquitto_sub', check: 'command -v mosquitto_sub', apt: 'mosquitto-clients' },
  { name: 'curl', check: 'command -v curl', apt: 'curl' },
];

/** Runs the demo script; resolves with its exit code and its stdout and stderr interleaved. */
function runDemo(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/station-demo.sh'], { env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  ensureDebianTools('The station demo test', TOOLS);
  stack = await startLocalStack(stateDir);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

describe('npm run demo:station (scripts/station-demo.sh)', () => {
  it('issues a device certificate, publishes with it over MQTT/TLS, and is refused with another CA\'s certificate', async () => {
    const mqttPort = await freePort();
    const { code, output } = await runDemo({ BASE_URL: stack.baseUrl, LOCAL_STATE_DIR: stateDir, MQTT_PORT: String(mqttPort) });
    if (code !== 0) throw new Error(`station-demo.sh exited ${code}:\n${output}`);

    for (const n of [1, 2, 3, 4, 5]) expect(output).toMatch(new RegExp(`^== Step ${n}\\. `, 'm'));
    const cn = /^ {2}device CN: +(\S+)$/m.exec(output)?.[1];
    expect(cn).toMatch(/^station-demo-[A-Za-z0-9_-]+$/);
    expect(output).toMatch(/^HTTP 201$/m);
    expect(output).toMatch(/^deviceCert\.crt: OK$/m);
    expect(output).toContain(`subscriber received: things/${cn}/hello Hello from ${cn}`);
    expect(output).toMatch(/^refused: the broker rejected the device certificate issued by another CA \(mosquitto_pub exit [1-9]\d*\)$/m);
    expect(output).toMatch(/thingName: +\S+/);
    expect(output.trimEnd().split('\n').pop()).toBe('station demo: OK');

    // Not a fake: the files the script left are the ones factory-ca issued and recorded…
    const work = join(stateDir, 'station-demo', cn!);
    const read = (f: string) => readFileSync(join(work, f), 'utf8');
    const ca = (await (await fetch(`${stack.baseUrl}/ca`)).json()) as { rootCertificatePem: string; certificatePem: string };
    expect(read('root.cert').trim()).toBe(ca.rootCertificatePem.trim());
    expect(opensslVerify(ca.rootCertificatePem, ca.certificatePem, read('deviceCert.crt'))).toMatch(/device\.pem: OK/);
    const serial = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', join(work, 'deviceCert.crt')], { encoding: 'utf8' })
      .trim()
      .replace(/^serial=/, '')
      .toLowerCase()
      .replace(/^0+/, '');
    const ledger = (await (await fetch(`${stack.baseUrl}/certificates?commonName=${cn}`)).json()) as { items: Record<string, unknown>[] };
    expect(ledger.items).toHaveLength(1);
    expect(ledger.items[0]).toMatchObject({ stationId: 'station-demo', status: 'ISSUED' });
    expect(String(ledger.items[0]!.serialNumber).replace(/^0+/, '')).toBe(serial);
    // …the refused one really is from another CA…
    expect(() => opensslVerify(ca.rootCertificatePem, ca.certificatePem, read('other-ca/deviceCert.crt'))).toThrow(/openssl verify failed/);
    // …and the broker saw the device connect with its certificate's CN as identity, and refused the other one in TLS.
    const brokerLog = read('broker/mosquitto.log');
    expect(brokerLog).toContain(`as ${cn} (p2, c1, k60, u'${cn}')`);
    expect(brokerLog).toMatch(/certificate verify failed/);
    expect(brokerLog).toMatch(/Received PUBLISH from \S+ .*things\/\S+\/hello/);

    // The broker was stopped.
    const brokerPid = Number(/mosquitto \(pid (\d+)\)/.exec(output)?.[1]);
    expect(brokerPid).toBeGreaterThan(0);
    expect(() => process.kill(brokerPid, 0)).toThrow();
    expect(existsSync(join(work, 'broker', 'mosquitto.conf'))).toBe(true);
  }, 120_000);
});
