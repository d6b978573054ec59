import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, startNangoServer, type LocalStore, type RunningNangoServer } from '../nango-server/index.js';
import { DeployFailedError, NANGO_INTEGRATIONS_DIR, deployWithCli, redact } from './deploy.js';
import { tempDir } from './test-helpers.js';

/*
 * The real pinned CLI (`nango deploy dev --auto-confirm`, 0.69.14) against the stand-in, offline:
 * what it stores, what @nangohq/node's getScriptsConfig then lists, and a redeploy.
 */

const SECRET = 'deploy-test-secret';

describe('nango deploy (CLI 0.69.14) against the stand-in', () => {
    let store: LocalStore;
    let server: RunningNangoServer;

    beforeAll(async () => {
        store = await openStore({ dir: tempDir('deploy-cli-') });
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
    });
    afterAll(async () => {
        await server.close();
        await store.close();
    });

    it('deploys the calls sync, lists it through getScriptsConfig, and replaces it on redeploy', async () => {
        const first = await deployWithCli({ serverUrl: server.url, secretKey: SECRET });
        expect(first.output).toContain('Successfully deployed the functions: calls@v1.0.0!');
        expect(first.deployed).toEqual(['calls@v1.0.0']);

        const configs = await new Nango({ secretKey: SECRET, host: server.url }).getScriptsConfig();
        if (!Array.isArray(configs)) {
            throw new Error('expected the nango format');
        }
        expect(configs.map((config) => config.providerConfigKey)).toEqual(['clari-copilot']);
        const [config] = configs;
        expect(config?.actions).toEqual([]);
        expect(config?.syncs).toHaveLength(1);
        expect(config?.syncs[0]).toMatchObject({
            name: 'calls',
            type: 'sync',
            version: '1.0.0',
            runs: 'every hour',
            returns: ['Call'],
            endpoints: [{ method: 'GET', path: '/calls', group: 'Calls' }],
            sync_type: 'incremental',
            track_deletes: false,
            input: 'ClariCopilotSyncOptions',
            sdk_version: '0.69.14-yaml'
        });

        const stored = await store.deployments.getDeployedFlow('clari-copilot', 'calls');
        // The CLI compiles before it deploys, so the stored module is the one it just wrote.
        const compiled = readFileSync(path.join(NANGO_INTEGRATIONS_DIR, 'dist/calls-clari-copilot.js'), 'utf8');
        expect(stored?.js).toBe(compiled);
        expect(stored?.js).toContain('fetchData');
        expect(stored?.ts).toBe(readFileSync(path.join(NANGO_INTEGRATIONS_DIR, 'clari-copilot/syncs/calls.ts'), 'utf8'));
        expect(stored?.models).toEqual(['Call']);
        expect(Object.keys((stored?.jsonSchema?.['definitions'] as object | undefined) ?? {})).toContain('CallUser');

        await deployWithCli({ serverUrl: server.url, secretKey: SECRET });
        const flows = await store.deployments.listDeployedFlows();
        expect(flows.map((flow) => `${flow.type}:${flow.name}@${flow.version}`)).toEqual(['sync:calls@1.0.0']);
        expect(flows[0]?.deployedAt.getTime()).toBeGreaterThan(stored?.deployedAt.getTime() ?? Infinity);
    }, 240_000);

    it('fails with one line that quotes the CLI and never the secret key', async () => {
        const wrongKey = 'not-the-right-key';
        const error = await deployWithCli({ serverUrl: server.url, secretKey: wrongKey }).catch((err: unknown) => err);
        expect(error).toBeInstanceOf(DeployFailedError);
        const message = (error as Error).message;
        expect(message).toMatch(/^nango deploy failed \(exit code 1\): .*unknown_account/);
        expect(message).not.toContain('\n');
        expect(message).not.toContain(wrongKey);
        expect(message).not.toContain(SECRET);
    }, 120_000);

    it('fails when the folder is no Nango project', async () => {
        const error = await deployWithCli({ serverUrl: server.url, secretKey: SECRET, cwd: tempDir('not-nango-') }).catch(
            (err: unknown) => err
        );
        expect(error).toBeInstanceOf(DeployFailedError);
        expect((error as Error).message).toMatch(/^nango deploy failed \(exit code 1\): .*Not inside a Nango folder/);
    }, 60_000);
});

describe('redact', () => {
    it('hides whole occurrences of the key and leaves words that merely contain it', () => {
        expect(redact('Authorization: Bearer sek-1.2 then sek-1.23 and "sek-1.2"', 'sek-1.2')).toBe(
            'Authorization: Bearer *** then sek-1.23 and "***"'
        );
        expect(redact('Not inside', 's')).toBe('Not inside');
        expect(redact('no key', '')).toBe('no key');
    });
});
