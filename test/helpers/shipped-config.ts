/** The issuance policy and JITP template the project ships (config/), as the configuration loader reads them. */
import { readFileSync } from 'node:fs';
import { parsePolicy, type Policy } from '../../src/pki/policy.js';
import { parseTemplate, type ProvisioningTemplate } from '../../src/provisioning/template.js';
import type { CaNaming } from '../../src/service/ca-setup.js';

/** ORGANIZATION and COUNTRY as the tests (and the defaults) have them. */
export const NAMING: CaNaming = { organization: 'Example Corp', country: 'US' };

const configFile = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../config/${name}`, import.meta.url), 'utf8'));

/** config/policy.json, with settings replaced by `overrides`. */
export const shippedPolicy = (overrides: Partial<Policy> = {}): Policy => ({ ...parsePolicy(configFile('policy.json'), { ...NAMING }), ...overrides });

/** config/jitp-template.json. */
export const shippedTemplate = (): ProvisioningTemplate => parseTemplate(configFile('jitp-template.json'));
