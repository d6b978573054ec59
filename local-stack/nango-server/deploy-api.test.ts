import { Nango, type StandardNangoConfig } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ScriptDifferences } from './deploy-api.js';
import { startNangoServer, type RunningNangoServer } from './server.js';
import { openStore, type LocalStore } from './database.js';
import type { DeployedFlow } from './deployments.js';
import { makeTempDir } from './test-helpers.js';
import { actionFlow, confirmationBody, deployBody, JS, KEY, syncFlow, TS, type Json } from './deploy-fixtures.js';

const SECRET = 'deploy-secret';

describe('deploy API', () => {
    const tmp = makeTempDir('deploy-api-test');
    let store: LocalStore;
    let server: RunningNangoServer;
    let nango: Nango;

    const post = async (path: string, body: unknown): Promise<{ status: number; body: unknown }> => {
        const response = await fetch(`${server.url}${path}`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body)
        });
        return { status: response.status, body: await response.json() };
    };
    const deploy = (body: unknown) => post('/sync/deploy', body);
    const confirm = async (body: unknown): Promise<ScriptDifferences> => {
        const response = await post('/sync/deploy/confirmation', body);
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        return response.body as ScriptDifferences;
    };
    const names = (flows: DeployedFlow[]): string[] => flows.map((flow) => `${flow.type}:${flow.name}@${flow.version}`);
    const scriptsConfig = async (): Promise<StandardNangoConfig[]> => {
        const answer = await nango.getScriptsConfig();
        if (!Array.isArray(answer)) {
            throw new Error('expected the nango format');
        }
        return answer;
    };

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: 'local',
            providerConfigKey: KEY,
            provider: KEY,
            apiKey: 'k',
            apiPassword: 'p'
        });
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        nango = new Nango({ secretKey: SECRET, host: server.url });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('lists nothing before the first deploy, and the confirmation calls the sync new without storing it', async () => {
        expect(await scriptsConfig()).toEqual([]);
        const differences = await confirm(confirmationBody([syncFlow()]));
        expect(differences.newSyncs).toEqual([{ name: 'calls', providerConfigKey: KEY, auto_start: true, connections: 1 }]);
        expect(differences.deletedSyncs).toEqual([]);
        expect(differences.deletedModels).toEqual([]);
        expect(await store.deployments.listDeployedFlows()).toEqual([]);
    });

    it('stores the deployed sync with its compiled JS, answers name and version, and serves it in /scripts/config', async () => {
        const response = await deploy(deployBody([syncFlow()]));
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(response.body).toEqual([
            {
                name: 'calls',
                version: '1.0.0',
                providerConfigKey: KEY,
                type: 'sync',
                last_deployed: expect.any(String) as string,
                input: 'Options',
                models: ['Call'],
                runs: 'every hour'
            }
        ]);

        const flow = await store.deployments.getDeployedFlow(KEY, 'calls');
        expect(flow).toMatchObject({
            providerConfigKey: KEY,
            type: 'sync',
            name: 'calls',
            version: '1.0.0',
            runs: 'every hour',
            models: ['Call'],
            endpoints: [{ method: 'GET', path: '/calls', group: 'Calls' }],
            syncType: 'incremental',
            trackDeletes: false,
            autoStart: true,
            inputModel: 'Options',
            description: 'Fetches calls',
            js: JS,
            ts: TS,
            sdkVersion: '0.69.14-yaml'
        });
        // Only the definitions the sync reaches, following $ref from its model and input.
        expect(Object.keys((flow?.jsonSchema?.['definitions'] as Json | undefined) ?? {}).sort()).toEqual(['Call', 'Options', 'User']);
        expect(flow?.rawConfig).toMatchObject({ syncName: 'calls', webhookSubscriptions: [] });
        expect(flow?.rawConfig).not.toHaveProperty('fileBody');

        const [config, ...others] = await scriptsConfig();
        expect(others).toEqual([]);
        expect(config).toMatchObject({ providerConfigKey: KEY, provider: KEY, actions: [], 'on-events': [] });
        expect(config?.syncs).toEqual([
            {
                name: 'calls',
                type: 'sync',
                runs: 'every hour',
                auto_start: true,
                attributes: {},
                description: 'Fetches calls',
                scopes: [],
                metadata: { description: 'Fetches calls', scopes: [] },
                track_deletes: false,
                returns: ['Call'],
                endpoints: [{ method: 'GET', path: '/calls', group: 'Calls' }],
                is_public: false,
                pre_built: false,
                version: '1.0.0',
                last_deployed: flow?.deployedAt.toISOString(),
                input: 'Options',
                sync_type: 'incremental',
                webhookSubscriptions: [],
                enabled: true,
                json_schema: flow?.jsonSchema,
                is_zero_yaml: false,
                sdk_version: '0.69.14-yaml'
            }
        ]);
    });

    it('replaces the flow on redeploy: still one row, the new version and JS, a later deployed_at', async () => {
        const before = await store.deployments.getDeployedFlow(KEY, 'calls');
        const newJs = `${JS}// v2\n`;
        const response = await deploy(deployBody([syncFlow({ version: '1.0.1', fileBody: { js: newJs, ts: TS } })]));
        expect(response.status).toBe(200);
        const flows = await store.deployments.listDeployedFlows();
        expect(names(flows)).toEqual(['sync:calls@1.0.1']);
        expect(flows[0]?.js).toBe(newJs);
        expect(flows[0]?.deployedAt.getTime()).toBeGreaterThan(before?.deployedAt.getTime() ?? Infinity);
    });

    const invalidFlows: [string, unknown][] = [
        ['flowConfigs that is not an array', 'calls'],
        ['models that is a string', [syncFlow({ models: 'Call' })]],
        ['track_deletes that is a string', [syncFlow({ track_deletes: 'no' })]],
        ['an integration this server does not serve', [syncFlow({ providerConfigKey: 'hubspot' })]],
        ['an empty compiled JS', [syncFlow({ fileBody: { js: '', ts: TS } })]],
        ['a compiled JS of blanks', [syncFlow({ fileBody: { js: ' \n\t', ts: TS } })]],
        ['no compiled JS', [syncFlow({ fileBody: { ts: TS } })]],
        ['a sync without a schedule', [syncFlow({ runs: null })]],
        ['a misspelt flow field', [syncFlow({ track_delete: true })]],
        ['an endpoint path without its slash', [syncFlow({ endpoints: [{ method: 'GET', path: 'calls' }] })]],
        ['the same sync twice', [syncFlow({ version: '9.9.9' }), syncFlow({ version: '9.9.9' })]],
        ['a valid flow next to one for another integration', [syncFlow({ version: '9.9.9' }), actionFlow({ providerConfigKey: 'hubspot' })]]
    ];

    it.each(invalidFlows)('refuses %s with a 400 in Nango’s error shape and keeps the previous deployment', async (_what, flowConfigs) => {
        const previous = await store.deployments.listDeployedFlows();
        for (const [path, body] of [
            ['/sync/deploy', deployBody(flowConfigs)],
            ['/sync/deploy/confirmation', confirmationBody(flowConfigs)]
        ] as const) {
            const response = await post(path, body);
            expect(response.status, `${path} ${JSON.stringify(response.body)}`).toBe(400);
            expect(response.body).toEqual({
                error: {
                    code: 'invalid_body',
                    message: expect.any(String) as string,
                    errors: expect.arrayContaining([expect.objectContaining({ path: expect.any(Array) as unknown[] })]) as unknown[]
                }
            });
        }
        expect(await store.deployments.listDeployedFlows()).toEqual(previous);
    });

    it('names the foreign integration and the empty JS in the message the CLI prints', async () => {
        const foreign = await deploy(deployBody([syncFlow({ providerConfigKey: 'hubspot' })]));
        expect(foreign.body).toMatchObject({
            error: { code: 'invalid_body', message: expect.stringContaining('"hubspot" does not exist') as string }
        });
        const empty = await deploy(deployBody([syncFlow({ fileBody: { js: '', ts: TS } })]));
        expect(empty.body).toMatchObject({
            error: { message: expect.stringMatching(/^flowConfigs\.0\.fileBody\.js: the compiled JS is empty/) as string }
        });
    });

    it('refuses malformed bodies as a whole: missing fields, not JSON, query parameters', async () => {
        const previous = await store.deployments.listDeployedFlows();
        const { flowConfigs: _flows, ...withoutFlows } = deployBody([syncFlow()]);
        const { reconcile: _reconcile, ...withoutReconcile } = deployBody([syncFlow()]);
        const { nangoYamlBody: _yaml, ...withoutYaml } = deployBody([syncFlow({ version: '9.9.9' })]);
        for (const body of [
            withoutFlows,
            withoutReconcile,
            withoutYaml,
            deployBody([syncFlow()], { jsonSchema: 'none' }),
            '{"flowConfigs": ['
        ]) {
            const response = await deploy(body);
            expect(response.status, JSON.stringify(response.body)).toBe(400);
            expect(response.body).toMatchObject({ error: { code: 'invalid_body' } });
        }
        const withQuery = await post('/sync/deploy?reconcile=false', deployBody([syncFlow({ version: '9.9.9' })]));
        expect(withQuery).toMatchObject({ status: 400, body: { error: { code: 'invalid_query_params' } } });
        expect(await store.deployments.listDeployedFlows()).toEqual(previous);
    });

    it('ignores top-level fields it has no use for', async () => {
        const response = await deploy(deployBody([syncFlow({ version: '1.0.2' })], { source: 'repo', somethingNew: { a: 1 } }));
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(names(await store.deployments.listDeployedFlows())).toEqual(['sync:calls@1.0.2']);
    });

    it('accepts a deploy larger than Fastify’s default 1 MiB body limit', async () => {
        const bigJs = `${JS}/*${'x'.repeat(2 * 1024 * 1024)}*/\n`;
        const response = await deploy(deployBody([syncFlow({ version: '1.0.3', fileBody: { js: bigJs, ts: TS } })]));
        expect(response.status).toBe(200);
        expect((await store.deployments.getDeployedFlow(KEY, 'calls'))?.js.length).toBe(bigJs.length);
    });

    it('numbers unversioned scripts: 0.0.1 first, then one patch up per deploy', async () => {
        const unversioned = actionFlow({ version: '' });
        await deploy(deployBody([syncFlow({ version: '1.0.3' }), unversioned]));
        expect((await store.deployments.getDeployedFlow(KEY, 'create-note'))?.version).toBe('0.0.1');
        await deploy(deployBody([syncFlow({ version: '1.0.3' }), unversioned]));
        expect((await store.deployments.getDeployedFlow(KEY, 'create-note'))?.version).toBe('0.0.2');
    });

    it('reports and performs removals only on a full deploy; a single-script deploy leaves the rest', async () => {
        const contacts = syncFlow({ syncName: 'contacts', models: ['Contact'], endpoints: [{ method: 'GET', path: '/contacts' }] });
        await deploy(deployBody([syncFlow(), actionFlow(), contacts]));
        expect(names(await store.deployments.listDeployedFlows())).toEqual([
            'sync:calls@1.0.0',
            'sync:contacts@1.0.0',
            'action:create-note@0.1.0'
        ]);

        const full = await confirm(confirmationBody([syncFlow()]));
        expect(full.deletedSyncs).toEqual([{ name: 'contacts', providerConfigKey: KEY, auto_start: true, connections: 1 }]);
        expect(full.deletedActions).toEqual([{ name: 'create-note', providerConfigKey: KEY }]);
        expect(full.deletedModels).toEqual(['Contact']);
        expect(full.updatedSyncs.map((sync) => sync.name)).toEqual(['calls']);

        const single = await confirm(confirmationBody([syncFlow()], { singleDeployMode: true, onEventScriptsByProvider: undefined }));
        expect(single).toMatchObject({ deletedSyncs: [], deletedActions: [], deletedModels: [] });

        await deploy(deployBody([syncFlow({ version: '1.1.0' })], { singleDeployMode: true }));
        expect(names(await store.deployments.listDeployedFlows())).toEqual([
            'sync:calls@1.1.0',
            'sync:contacts@1.0.0',
            'action:create-note@0.1.0'
        ]);

        await deploy(deployBody([syncFlow({ version: '1.1.0' })]));
        expect(names(await store.deployments.listDeployedFlows())).toEqual(['sync:calls@1.1.0']);
        expect(await store.deployments.getDeployedFlow(KEY, 'contacts')).toBeUndefined();
    });

    it('stores on-event scripts and lists them under on-events', async () => {
        const onEvents = [
            { providerConfigKey: KEY, scripts: [{ name: 'welcome', fileBody: { js: JS, ts: TS }, event: 'post-connection-creation' }] }
        ];
        const differences = await confirm(confirmationBody([syncFlow({ version: '1.1.0' })], { onEventScriptsByProvider: onEvents }));
        expect(differences.newOnEventScripts).toEqual([{ name: 'welcome', providerConfigKey: KEY, event: 'post-connection-creation' }]);
        const response = await deploy(deployBody([syncFlow({ version: '1.1.0' })], { onEventScriptsByProvider: onEvents }));
        // The CLI prints the answer as the deployed functions: syncs and actions only.
        expect((response.body as { name: string }[]).map((result) => result.name)).toEqual(['calls']);
        const [config] = await scriptsConfig();
        expect(config?.['on-events'].map((script) => [script.name, script.type])).toEqual([['welcome', 'on-event']]);
    });

    it('answers format=openai with function definitions, an action’s parameters from its input model', async () => {
        await deploy(deployBody([syncFlow(), actionFlow()]));
        const answer = await nango.getScriptsConfig('openai');
        expect(answer).toEqual({
            data: [
                { name: 'calls', description: 'Fetches calls', parameters: { type: 'object', properties: {}, required: [] } },
                {
                    name: 'create-note',
                    description: 'Adds a note to a call.\n- callId: the call to annotate\n- text: what the note says',
                    parameters: {
                        type: 'object',
                        properties: {
                            callId: { type: 'string', description: 'the call to annotate' },
                            text: { type: 'string', description: 'what the note says' }
                        },
                        required: ['callId', 'text']
                    }
                }
            ]
        });
        for (const query of ['format=xml', 'format=nango&extra=1']) {
            const response = await fetch(`${server.url}/scripts/config?${query}`, { headers: { Authorization: `Bearer ${SECRET}` } });
            expect(response.status).toBe(400);
            expect(await response.json()).toMatchObject({ error: { code: 'invalid_query_params' } });
        }
    });

    it('requires the secret key', async () => {
        const response = await fetch(`${server.url}/sync/deploy`, {
            method: 'POST',
            body: '{}',
            headers: { 'Content-Type': 'application/json' }
        });
        expect(response.status).toBe(401);
    });
});

describe('deployed flows in the store', () => {
    const tmp = makeTempDir('deploy-store-test');

    afterAll(() => {
        tmp.cleanup();
    });

    const flow = (name: string, js: string) => ({
        providerConfigKey: KEY,
        type: 'sync' as const,
        name,
        version: '1.0.0',
        runs: 'every hour',
        models: ['Call'],
        endpoints: [{ method: 'GET' as const, path: `/${name}` }],
        syncType: 'incremental' as const,
        trackDeletes: false,
        autoStart: true,
        inputModel: null,
        description: null,
        scopes: [],
        js,
        ts: TS,
        jsonSchema: null,
        rawConfig: { syncName: name },
        sdkVersion: null
    });

    it('writes a deployment all or nothing, and keeps it across a reopen', async () => {
        const store = await openStore({ dir: tmp.dir });
        try {
            await store.deployments.deployFlows([flow('calls', JS)], { reconcile: true });
            const before = await store.deployments.listDeployedFlows();
            // The second flow breaks the table's non-empty JS check after the first was written and the old set removed.
            await expect(store.deployments.deployFlows([flow('other', JS), flow('broken', '')], { reconcile: true })).rejects.toThrow();
            await expect(store.deployments.deployFlows([flow('calls', JS), flow('calls', JS)], { reconcile: false })).rejects.toThrow(
                /twice/
            );
            expect(await store.deployments.listDeployedFlows()).toEqual(before);
        } finally {
            await store.close();
        }
        const reopened = await openStore({ dir: tmp.dir });
        try {
            expect((await reopened.deployments.listDeployedFlows()).map((stored) => stored.name)).toEqual(['calls']);
        } finally {
            await reopened.close();
        }
    });
});
