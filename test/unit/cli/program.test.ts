import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiGatewayRegion } from '../../../src/cli/aws.js';
import { runCli } from '../../../src/cli/program.js';
import { captureIo } from './cli-io.js';
import { startFakeApi, type FakeApi } from './fake-api.js';

const noSleep = { sleep: async () => {}, random: () => 0.5 };

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  const io = captureIo(env);
  const code = await runCli(argv, { io, retry: noSleep });
  return { code, out: io.stdoutText(), err: io.stderrText() };
}

describe('factory-ca arguments', () => {
  it.each(['issue', 'get', 'list', 'export', 'revoke', 'ca', 'rotate'])('%s --help prints its usage and exits 0', async (command) => {
    const r = await run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: factory-ca ${command} [options]`);
    expect(r.out).toContain('--url <url>');
    expect(r.out).toContain('--aws-profile <profile>');
  });

  it('--help lists every command and the exit statuses', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['issue', 'get', 'list', 'export', 'revoke', 'ca', 'rotate']) expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.out).toContain('Exit status: 0 done; 2 refused');
  });

  it.each([
    [['issue', '--url', 'http://localhost:3000', '--csr', 'a.csr', '--bogus'], "unknown option '--bogus'"],
    [['list', '--frobnicate'], "unknown option '--frobnicate'"],
    [['rotate', '--url', 'http://x', '--reason', 'tired'], "argument 'tired' is invalid"],
    [['issue', '--csr', 'a.csr'], "required option '--url <url>' not specified (or set FACTORY_CA_URL)"],
    [['issue', '--url', 'http://x'], 'give --csr <file> or --csr-dir <dir>'],
    [['issue', '--url', 'http://x', '--csr-dir', 'd'], '--csr-dir needs --out <dir>'],
    [['issue', '--url', 'http://x', '--csr', 'a', '--csr-dir', 'd', '--out', 'o'], "option '--csr <file>' cannot be used with option '--csr-dir <dir>'"],
    [['issue', '--url', 'http://x', '--csr-dir', 'd', '--out', 'o', '--concurrency', '0'], 'a whole number from 1 to 64'],
    [['issue', '--url', 'ftp://x', '--csr', 'a'], 'an http:// or https:// URL'],
    [['issue', '--url', 'http://x/?a=b', '--csr', 'a'], 'without ?query'],
    [['list', '--url', 'http://x', '--limit', '1001'], 'a whole number from 1 to 1000'],
    [['list', '--url', 'http://x', '--status', 'GONE'], 'ISSUED or REVOKED'],
    [['list', '--url', 'http://x', '--issued-after', 'yesterday'], 'an ISO 8601 date'],
    [['export', '--url', 'http://x'], "required option '--format <format>' not specified"],
    [['export', '--url', 'http://x', '--format', 'xml'], "argument 'xml' is invalid. Allowed choices are ndjson, csv"],
    [['revoke', 'ab', '--url', 'http://x'], "required option '--reason <reason>' not specified"],
    [['revoke', 'ab', '--url', 'http://x', '--reason', 'because'], "argument 'because' is invalid"],
    [['revoke', '--url', 'http://x', '--reason', 'superseded'], "missing required argument 'serial'"],
    [['get', 'ab', 'cd', '--url', 'http://x'], 'too many arguments'],
    [['frob'], "unknown command 'frob'"],
  ])('%j is a usage error: %s, then the usage, exit 1', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err).toContain('Usage: factory-ca');
  });

  it('takes --url from FACTORY_CA_URL', async () => {
    const r = await run(['ca'], { FACTORY_CA_URL: 'http://127.0.0.1:1' });
    expect(r.err).toContain('cannot reach http://127.0.0.1:1/ca (connection refused)');
  });

  it('a refused connection names the URL, npm start and serverless info', async () => {
    const r = await run(['get', 'ab', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach http://127.0.0.1:1/certificates/ab (connection refused)');
    expect(r.err).toContain('npm start');
    expect(r.err).toContain('serverless info');
  });

  it('a serial that is not hex is refused before any request', async () => {
    const r = await run(['get', 'xyz', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('not a serial number: xyz');
  });
});

describe('factory-ca operator commands against the API', () => {
  let api: FakeApi;
  let dir: string;
  beforeAll(async () => {
    api = await startFakeApi();
    api.seed(25, (i) => ({ stationId: i % 2 ? 'station-b' : 'station-a', issuingCaId: i < 20 ? 'issuing-1' : 'issuing-2' }));
    dir = mkdtempSync(join(tmpdir(), 'cli-op-'));
  });
  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const last = () => api.seen[api.seen.length - 1]!;

  it('get prints the record; colons and capitals in the serial are canonicalised', async () => {
    const r = await run(['get', '10:0A', '--url', api.url]);
    expect(r.code).toBe(0);
    expect(last().path).toBe('/certificates/100a');
    expect(r.out).toMatch(/^serial +100a$/m);
    expect(r.out).toMatch(/^commonName +seed-10$/m);
    expect(r.out).toMatch(/^stationId +station-a$/m);
  });

  it('get of an unknown serial: the error code and message, exit 2', async () => {
    const r = await run(['get', 'ffff', '--url', api.url]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('NOT_FOUND (HTTP 404): No certificate with serial number ffff');
  });

  it('list sends every filter under its documented name', async () => {
    const r = await run(['list', '--url', `${api.url}/`, '--common-name', 'seed-3', '--issuing-ca-id', 'issuing-1', '--status', 'issued', '--station-id', 'station-b', '--issued-after', '2025-01-01', '--issued-before', '2026-01-01T00:00:00Z', '--limit', '10']);
    expect(r.code).toBe(0);
    expect(last().path).toBe('/certificates');
    expect(Object.fromEntries(last().query)).toEqual({
      commonName: 'seed-3',
      issuingCaId: 'issuing-1',
      status: 'ISSUED',
      stationId: 'station-b',
      issuedAfter: '2025-01-01T00:00:00.000Z',
      issuedBefore: '2026-01-01T00:00:00.000Z',
      limit: '10',
    });
    expect(r.out).toMatch(/^1003 +seed-3 +ISSUED /m);
    expect(r.out).toContain('1 certificate\n');
  });

  it('list shows one page and how to get the next', async () => {
    const r = await run(['list', '--url', api.url, '--limit', '10']);
    expect(r.out.trim().split('\n')).toHaveLength(12); // header, 10 rows, count
    const token = /--next (\S+)/.exec(r.err)![1]!;
    const again = await run(['list', '--url', api.url, '--limit', '10', '--next', token, '--json']);
    expect(last().query.get('next')).toBe(token);
    expect((JSON.parse(again.out) as { items: { serialNumber: string }[] }).items[0]!.serialNumber).toBe((0x1000 + 10).toString(16));
  });

  it('export --format ndjson walks every page', async () => {
    const before = api.seen.length;
    const r = await run(['export', '--url', api.url, '--format', 'ndjson', '--limit', '7', '--station-id', 'station-a']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { stationId: string });
    expect(lines).toHaveLength(13);
    expect(lines.every((l) => l.stationId === 'station-a')).toBe(true);
    const pages = api.seen.slice(before);
    expect(pages).toHaveLength(2);
    expect(pages[0]!.query.has('next')).toBe(false);
    expect(pages[1]!.query.get('next')).toBeTruthy();
    expect(r.err).toContain('exported 13 certificates');
  });

  it('export --format csv --out writes the file whole', async () => {
    const file = join(dir, 'issuing-2.csv');
    const r = await run(['export', '--url', api.url, '--format', 'csv', '--issuing-ca-id', 'issuing-2', '--out', file]);
    expect(r.code).toBe(0);
    const rows = readFileSync(file, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('serialNumber,commonName,status,issuedAt,notBefore,notAfter,issuingCaId,stationId,revokedAt,revocationReason,certificateId');
    expect(rows).toHaveLength(6);
    expect(rows[1]).toMatch(/^1014,seed-20,ISSUED,2025-01-21T00:00:00.000Z,,,issuing-2,station-a,,,[0-9a-f]{64}$/);
    expect(last().query.get('limit')).toBe('1000');
  });

  it('revoke sends the reason; a second time says since when', async () => {
    const r = await run(['revoke', '1001', '--reason', 'keyCompromise', '--url', api.url]);
    expect(r.code).toBe(0);
    expect(last().method).toBe('POST');
    expect(last().path).toBe('/certificates/1001/revoke');
    expect(JSON.parse(last().body.toString())).toEqual({ reason: 'keyCompromise' });
    expect(r.out).toContain('revoked (keyCompromise)');
    const again = await run(['revoke', '1001', '--reason', 'superseded', '--url', api.url]);
    expect(again.out).toMatch(/already revoked \(since .+, keyCompromise\)/);
  });

  it('ca prints the active issuing CA and writes its files', async () => {
    const r = await run(['ca', '--url', api.url, '--out', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^active issuing CA +issuing-1$/m);
    expect(readFileSync(join(dir, 'root.pem'), 'utf8')).toBe(api.rootPem);
    expect(readFileSync(join(dir, 'chain.pem'), 'utf8')).toBe(api.issuingPem + api.rootPem);
  });

  it('rotate sends force only when asked, and says when the next rotation is due', async () => {
    const r = await run(['rotate', '--url', api.url]);
    expect(JSON.parse(last().body.toString())).toEqual({ force: false });
    expect(r.out).toContain('not rotated: not due');
    expect(r.out).toMatch(/^next rotation due +2030-01-01T00:00:00.000Z$/m);
    expect(r.out).toMatch(/^next log key rotation due +2031-01-01T00:00:00.000Z$/m);
    const forced = await run(['rotate', '--url', api.url, '--reason', 'keyCompromise']);
    // The reason goes to the service, which disables the compromised key itself.
    expect(JSON.parse(last().body.toString())).toEqual({ force: true, reason: 'keyCompromise' });
    expect(forced.out).toContain('issuing CA: rotated: forced');
    expect(forced.out).toContain('its KMS key is disabled');
    expect(forced.out).toContain('--issuing-ca-id issuing-1');
  });

  it('rotate --log-key sends the log key as the target, and shows the co-signing key and until when', async () => {
    const r = await run(['rotate', '--url', api.url, '--log-key', '--force']);
    expect(JSON.parse(last().body.toString())).toEqual({ force: true, key: 'log' });
    expect(r.code).toBe(0);
    expect(r.out).toContain('issuing CA: not rotated: not due');
    expect(r.out).toContain('issuance log key: rotated: forced');
    expect(r.out).toMatch(/^log key +alias\/factory-ca-test-log-2$/m);
    expect(r.out).toMatch(/^co-signed until +2030-02-01T00:00:00.000Z \(by generation 1\)$/m);
    const compromised = await run(['rotate', '--url', api.url, '--log-key', '--reason', 'keyCompromise']);
    expect(JSON.parse(last().body.toString())).toEqual({ force: true, reason: 'keyCompromise', key: 'log' });
    expect(compromised.out).toContain('aws kms get-public-key --key-id alias/factory-ca-test-log-2');
    expect(compromised.out).not.toContain('--issuing-ca-id');
    await run(['rotate', '--url', api.url, '--log-key', '--reason', 'keyCompromise', '--generation', '1']);
    expect(JSON.parse(last().body.toString())).toEqual({ force: true, reason: 'keyCompromise', key: 'log', generation: 1 });
    const sent = last();
    const refused = await run(['rotate', '--url', api.url, '--log-key', '--generation', '1']);
    expect([refused.code, refused.err]).toEqual([2, expect.stringContaining('--generation names a compromised log key')]);
    expect(last()).toBe(sent);
  });

  it('an API that ignores a filter cannot widen the answer: the filters apply to what comes back', async () => {
    const lax = await startFakeApi({ commonNameOnly: true });
    lax.seed(4, (i) => ({ subject: { CN: 'shared-cn' }, status: i % 2 ? 'REVOKED' : 'ISSUED' }));
    try {
      const r = await run(['list', '--url', lax.url, '--common-name', 'shared-cn', '--status', 'REVOKED', '--json']);
      expect(lax.seen[0]!.query.toString()).toBe('commonName=shared-cn&status=REVOKED');
      expect((JSON.parse(r.out) as { items: { status: string }[] }).items.map((i) => i.status)).toEqual(['REVOKED', 'REVOKED']);
    } finally {
      await lax.close();
    }
  });

  it('a rotation is never repeated on its own', async () => {
    const busy = await startFakeApi({ plan: () => ({ status: 503, headers: { 'retry-after': '1' } }) });
    try {
      const r = await run(['rotate', '--url', busy.url, '--force']);
      expect(r.code).toBe(3);
      expect(busy.seen).toHaveLength(1);
    } finally {
      await busy.close();
    }
  });
});

describe('which URLs are signed', () => {
  it.each([
    ['https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod', 'eu-west-1'],
    ['https://x1.execute-api.cn-north-1.amazonaws.com.cn/dev/', 'cn-north-1'],
    ['https://abc123defg.execute-api.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['http://localhost:3000', undefined],
    ['https://ca.example.com/prod', undefined],
    ['https://abc.execute-api.eu-west-1.amazonaws.com.evil.example/prod', undefined],
  ])('%s: region %s', (u, region) => {
    expect(apiGatewayRegion(new URL(u))).toBe(region);
  });

  it('an API Gateway URL is signed for its region, with the profile named', async () => {
    const profiles: (string | undefined)[] = [];
    const io = captureIo();
    const code = await runCli(['ca', '--url', 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod', '--aws-profile', 'station-7'], {
      io,
      credentials: (profile) => {
        profiles.push(profile);
        return async () => {
          throw new Error('Could not load credentials from any providers');
        };
      },
    });
    expect(code).toBe(1);
    expect(profiles).toEqual(['station-7']);
    expect(io.stderrText()).toContain('no AWS credentials found for profile station-7');
  });

  it('--sigv4 without a region anywhere says where to give one', async () => {
    const io = captureIo({ AWS_CONFIG_FILE: '/nonexistent' });
    const code = await runCli(['ca', '--url', 'http://127.0.0.1:1', '--sigv4'], { io, credentials: () => async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }) });
    expect(code).toBe(1);
    expect(io.stderrText()).toContain('no AWS region: give --region <region>');
  });
});
