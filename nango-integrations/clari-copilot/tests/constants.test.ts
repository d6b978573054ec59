import { readFileSync } from 'node:fs';
import path from 'node:path';

import { getProvider } from '@nangohq/providers';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { CALL_MODEL, PROVIDER, PROVIDER_CONFIG_KEY, SYNC_NAME } from '../constants.js';
import { integrationDir } from './harness.js';

const nangoYamlSchema = z.object({
    integrations: z.record(z.string(), z.object({ syncs: z.record(z.string(), z.object({ output: z.string() })) })),
    models: z.record(z.string(), z.unknown())
});

describe('the integration names', () => {
    const config = nangoYamlSchema.parse(yaml.load(readFileSync(path.join(integrationDir, '..', 'nango.yaml'), 'utf8')));

    it('are the ones nango.yaml declares: the integration, its sync and the sync output model', () => {
        expect(Object.keys(config.integrations)).toEqual([PROVIDER_CONFIG_KEY]);
        expect(config.integrations[PROVIDER_CONFIG_KEY]?.syncs[SYNC_NAME]?.output).toBe(CALL_MODEL);
        expect(Object.keys(config.models)).toContain(CALL_MODEL);
    });

    it('name a provider Nango knows, with a proxy to Clari Copilot', () => {
        expect(getProvider(PROVIDER)?.proxy?.base_url).toMatch(/clari\.com/);
    });

    it('match the folder nango compile reads the sync from', () => {
        expect(path.basename(integrationDir)).toBe(PROVIDER_CONFIG_KEY);
    });
});
