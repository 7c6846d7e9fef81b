import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startLocalStack, type RunningStack } from '../helpers/local-stack-process.js';
import { opensslVerify } from '../helpers/openssl.js';

/**
 * `npm run demo:station` (scripts/station-demo.sh) against the local stack: a
 * device certificate from factory-ca, used over MQTT/TLS with a real mosquitto
 * broker that trusts factory-ca's root, and a certificate from another CA refused.
 */

const APT_PACKAGES = ['mosquitto', 'mosquitto-clients'];
const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-station-'));
let stack: RunningStack;

const has = (check: string) => spawnSync('bash', ['-c', check], { stdio: 'ignore' }).status === 0;
const missingTools = () =>
  [
    ['mosquitto', 'command -v mosquitto || [ -x /usr/sbin/mosquitto ]'],
    ['mosquitto_pub', 'command -v mosquitto_pub'],
    ['mosquitto_sub', 'command -v mosquitto_sub'],
    ['curl', 'command -v curl'],
  ]
    .filter(([, check]) => !has(check!))
    .map(([name]) => name!);

/** Installs mosquitto and its clients when missing (as root), or fails naming the packages. */
function ensureMosquitto(): void {
  const missing = missingTools();
  if (!missing.length) return;
  const packages = [...APT_PACKAGES, ...(missing.includes('curl') ? ['curl'] : [])];
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The station demo test needs ${missing.join(', ')}: install the Debian packages ${packages.join(' ')} ` +
        `(sudo apt-get install -y --no-install-recommends ${packages.join(' ')}), as .ci/run does.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update'], { env, stdio: 'pipe' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env, stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`apt-get install ${packages.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
  const still = missingTools();
  if (still.length) throw new Error(`still missing after apt-get install ${packages.join(' ')}: ${still.join(', ')}`);
}

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
  ensureMosquitto();
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
