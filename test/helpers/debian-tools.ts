import { execFileSync, spawnSync } from 'node:child_process';

/** A tool a test needs: how to check for it, and the Debian package that brings it. */
export interface DebianTool {
  name: string;
  /** A shell test that succeeds when the tool is there. */
  check: string;
  apt: string;
}

const present = (tool: DebianTool) => spawnSync('bash', ['-c', tool.check], { stdio: 'ignore' }).status === 0;

/**
 * Makes sure the tools are there. When one is missing: installed with apt-get
 * when running as root (as on CI), otherwise the test fails naming the packages.
 * Never a silent skip.
 */
export function ensureDebianTools(who: string, tools: DebianTool[]): void {
  const missing = tools.filter((t) => !present(t));
  if (!missing.length) return;
  const packages = [...new Set(missing.map((t) => t.apt))];
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${who} needs ${missing.map((t) => t.name).join(', ')}: install the Debian packages ${packages.join(' ')} ` +
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
  const still = tools.filter((t) => !present(t));
  if (still.length) throw new Error(`still missing after apt-get install ${packages.join(' ')}: ${still.map((t) => t.name).join(', ')}`);
}
