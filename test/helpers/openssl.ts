import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `openssl verify -x509_strict` on a device certificate; returns its output or throws with it. */
export function opensslVerify(rootPem: string, issuingPem: string, devicePem: string, extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  try {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'issuing.pem'), issuingPem);
    writeFileSync(join(dir, 'device.pem'), devicePem);
    return execFileSync(
      'openssl',
      ['verify', '-x509_strict', '-purpose', 'sslclient', ...extra, '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem'), join(dir, 'device.pem')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`openssl verify failed: ${err.stdout ?? ''}${err.stderr ?? ''}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl x509 -text` of a certificate. */
export function opensslText(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
}
