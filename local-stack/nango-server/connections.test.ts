import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { UnknownConnectionError } from './connections.js';
import { makeTempDir } from './test-helpers.js';

describe('connections', () => {
    const tmp = makeTempDir('connections-test');
    let store: LocalStore;

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    it('upserts connections and gets, sets and merges metadata', async () => {
        const input = {
            connectionId: 'conn-meta',
            providerConfigKey: 'clari-copilot',
            provider: 'clari-copilot',
            apiKey: 'k',
            apiPassword: 'p'
        };
        const created = await store.connections.upsertConnection(input);
        expect(created.metadata).toBeNull();
        expect(await store.connections.getMetadata('conn-meta', 'clari-copilot')).toEqual({});

        await store.connections.setMetadata('conn-meta', 'clari-copilot', { backfillDays: 30, includeMedia: true });
        await store.connections.updateMetadata('conn-meta', 'clari-copilot', { backfillDays: 7 });
        expect(await store.connections.getMetadata('conn-meta', 'clari-copilot')).toEqual({ backfillDays: 7, includeMedia: true });

        const updated = await store.connections.upsertConnection({ ...input, apiKey: 'k2' });
        expect(updated).toMatchObject({ id: created.id, apiKey: 'k2', metadata: { backfillDays: 7, includeMedia: true } });
        await expect(store.connections.setMetadata('missing', 'clari-copilot', {})).rejects.toThrow(/unknown connection/);
    });

    it('lists and counts the connections of one integration, oldest first', async () => {
        const base = { providerConfigKey: 'list-key', provider: 'clari-copilot', apiKey: 'k', apiPassword: 'p' };
        expect(await store.connections.listConnectionIds('list-key')).toEqual([]);
        await store.connections.upsertConnection({ ...base, connectionId: 'second' });
        await store.connections.upsertConnection({ ...base, connectionId: 'first', providerConfigKey: 'other-key' });
        await store.connections.upsertConnection({ ...base, connectionId: 'third' });
        await store.connections.upsertConnection({ ...base, connectionId: 'second', apiKey: 'k2' });
        expect(await store.connections.listConnectionIds('list-key')).toEqual(['second', 'third']);
        expect(await store.connections.countConnections('list-key')).toBe(2);
        expect(await store.connections.getConnection('first', 'list-key')).toBeUndefined();
        await expect(store.connections.getMetadata('first', 'list-key')).rejects.toBeInstanceOf(UnknownConnectionError);
    });
});
