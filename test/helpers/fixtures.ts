import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const csrFixture = (name: string): string => readFileSync(join(FIXTURES, 'csr', name), 'utf8');
export const csrFixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, 'csr', name)));
