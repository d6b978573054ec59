import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import type { DeployFlowInput } from './deployments.js';
import { makeTempDir } from './test-helpers.js';

function flow(name: string, overrides: Partial<DeployFlowInput> = {}): DeployFlowInput {
    return {
        providerConfigKey: 'clari-copilot',
        type: 'sync',
        name,
        version: '1',
        runs: 'every hour',
        models: ['Call'],
        endpoints: [{ method: 'GET', path: `/${name}` }],
        syncType: 'incremental',
        trackDeletes: false,
        autoStart: true,
        inputModel: null,
        description: null,
        scopes: [],
        js: `module.exports = { default: async () => {} }; // ${name}`,
        ts: '',
        jsonSchema: null,
        rawConfig: { name },
        sdkVersion: null,
        ...overrides
    };
}

describe('deployments', () => {
    const tmp = makeTempDir('deployments-test');
    let store: LocalStore;

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    it('replaces a flow by integration, type and name, stamps each deployment later than the last, and reconciles', async () => {
        const first = await store.deployments.deployFlows([flow('calls'), flow('users')], { reconcile: false });
        expect(first.removed).toEqual([]);
        const second = await store.deployments.deployFlows([flow('calls', { version: '2' })], { reconcile: false });
        expect(second.deployed[0]?.deployedAt.getTime()).toBeGreaterThan(first.deployed[0]?.deployedAt.getTime() ?? Infinity);
        expect((await store.deployments.listDeployedFlows()).map((stored) => `${stored.name}@${stored.version}`)).toEqual([
            'calls@2',
            'users@1'
        ]);

        const third = await store.deployments.deployFlows([flow('calls', { version: '3' })], { reconcile: true });
        expect(third.removed).toEqual([{ providerConfigKey: 'clari-copilot', type: 'sync', name: 'users' }]);
        expect((await store.deployments.listDeployedFlows()).map((stored) => stored.name)).toEqual(['calls']);
    });

    it('refuses a deployment that lists a flow twice, storing nothing', async () => {
        await expect(store.deployments.deployFlows([flow('twice'), flow('twice')], { reconcile: false })).rejects.toThrow(/twice/);
        expect(await store.deployments.getDeployedFlow('clari-copilot', 'twice')).toBeUndefined();
    });

    it('prefers a sync over an action of the same name unless a type is asked for', async () => {
        await store.deployments.deployFlows([flow('same', { type: 'action', runs: null }), flow('same')], { reconcile: false });
        expect((await store.deployments.getDeployedFlow('clari-copilot', 'same'))?.type).toBe('sync');
        expect((await store.deployments.getDeployedFlow('clari-copilot', 'same', 'action'))?.type).toBe('action');
        expect(await store.deployments.getDeployedFlow('other', 'same')).toBeUndefined();
    });
});
