import net from 'node:net';
import type { AddressInfo } from 'node:net';

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { canListRecords } from '../../nango-integrations/clari-copilot/record-lister.js';
import type { NangoSync } from '../../nango-integrations/models.js';
import { createClariProxy, type ClariProxy } from '../nango-server/proxy.js';
import { openStore, type LocalStore } from '../nango-server/database.js';
import type { NangoRecord } from '../nango-server/records.js';
import { liveRecords, makeTempDir } from '../nango-server/test-helpers.js';
import { storePersist } from './persist.js';
import { ProxyHttpError, ProxyRequestError, runSync, type RunnerEvent, type RunSyncOptions } from './run-sync.js';

const KEY = 'clari-copilot';
const CALLS = Array.from({ length: 5 }, (_, i) => ({ id: `call-${i + 1}`, title: `Call ${i + 1}` }));

async function startFakeClari(): Promise<{ app: FastifyInstance; url: string; hits: Map<string, number> }> {
    const hits = new Map<string, number>();
    const app = Fastify();
    app.addHook('onRequest', (request, _reply, done) => {
        const path = request.url.split('?')[0] ?? '';
        hits.set(path, (hits.get(path) ?? 0) + 1);
        done();
    });
    app.get('/calls', (request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const skip = Number(query['skip'] ?? 0);
        const limit = Number(query['limit'] ?? 100);
        return reply.send({ calls: CALLS.slice(skip, skip + limit), auth: request.headers['x-api-key'] });
    });
    app.get('/busy', (_request, reply) => reply.code(429).header('retry-after', '30').send({ message: 'Too many requests' }));
    app.get('/flaky', (_request, reply) =>
        (hits.get('/flaky') ?? 0) <= 3 ? reply.code(503).send('unavailable') : reply.send({ ok: true })
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, hits };
}

describe('runSync', () => {
    const tmp = makeTempDir('runner-test');
    let store: LocalStore;
    let clari: Awaited<ReturnType<typeof startFakeClari>>;
    let proxy: ClariProxy;
    let connectionCount = 0;

    /** A fresh connection per test keeps runs and records independent. */
    async function connection(metadata: Record<string, unknown> | null = null): Promise<string> {
        const connectionId = `conn-${++connectionCount}`;
        await store.connections.upsertConnection({
            connectionId,
            providerConfigKey: KEY,
            provider: 'clari-copilot',
            apiKey: 'secret-key',
            apiPassword: 'secret-pw',
            metadata
        });
        return connectionId;
    }

    function run(connectionId: string, fetchData: (nango: NangoSync) => Promise<void>, extra: Partial<RunSyncOptions> = {}) {
        return runSync({
            persist: storePersist(store),
            connectionId,
            providerConfigKey: KEY,
            syncName: 'calls',
            proxy,
            fetchData,
            ...extra
        });
    }

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        clari = await startFakeClari();
        proxy = createClariProxy({ baseUrl: clari.url, credentials: { apiKey: 'secret-key', apiPassword: 'secret-pw' }, baseDelayMs: 1 });
    });

    afterAll(async () => {
        proxy.close();
        await clari.app.close();
        await store.close();
        tmp.cleanup();
    });

    it('runs a sync that fetches, saves, deletes and reads back, and reports progress', async () => {
        const connectionId = await connection();
        const events: RunnerEvent[] = [];
        const readBack: [string, unknown][] = [];
        const result = await run(
            connectionId,
            async (nango) => {
                const res = await nango.get<{ calls: { id: string; title: string }[]; auth: string }>({
                    endpoint: '/calls',
                    params: { limit: 3 }
                });
                expect(res.status).toBe(200);
                expect(res.data.auth).toBe('secret-key');
                await nango.batchSave(res.data.calls, 'Call');
                await nango.batchDelete([{ id: 'call-2' }], 'Call');
                const found = await nango.getRecordsByIds(['call-1', 'call-2', 'call-3', 'missing'], 'Call');
                readBack.push(...found.entries());
                await nango.log('fetched', { calls: 3 }, { level: 'warn' });
            },
            { onEvent: (e) => events.push(e) }
        );

        // As on Nango: records as the records API serves them, deleted ones included.
        expect(readBack.sort(([a], [b]) => a.localeCompare(b))).toMatchObject([
            ['call-1', { id: 'call-1', title: 'Call 1', _nango_metadata: { last_action: 'ADDED', deleted_at: null, pruned_at: null } }],
            ['call-2', { id: 'call-2', title: 'Call 2', _nango_metadata: { last_action: 'DELETED' } }],
            ['call-3', { id: 'call-3', title: 'Call 3', _nango_metadata: { last_action: 'ADDED' } }]
        ]);
        expect(result.lastSyncDate).toBeUndefined();
        expect(result.counts).toEqual({ added: 3, updated: 0, unchanged: 0, deleted: 1, requests: 1, retries: 0 });
        expect(events.map((e) => e.type)).toEqual(['run-start', 'request', 'saved', 'deleted', 'log', 'run-end']);
        expect(events[1]).toMatchObject({ type: 'request', method: 'GET', endpoint: '/calls', status: 200, attempt: 0 });
        expect(events[4]).toEqual({ type: 'log', level: 'warn', message: 'fetched {"calls":3}' });
        expect(events[5]).toMatchObject({ type: 'run-end', status: 'success' });

        const listed = await store.records.listRecords({ connectionId, model: 'Call' });
        expect(listed.records.map((r) => [r.id, r._nango_metadata.last_action])).toEqual([
            ['call-1', 'ADDED'],
            ['call-3', 'ADDED'],
            ['call-2', 'DELETED']
        ]);
    });

    it('gives the next run the start of the last successful run as lastSyncDate', async () => {
        const connectionId = await connection();
        const seen: (Date | undefined)[] = [];
        const first = await run(connectionId, (nango) => {
            seen.push(nango.lastSyncDate);
            return Promise.resolve();
        });
        const second = await run(connectionId, (nango) => {
            seen.push(nango.lastSyncDate);
            return Promise.resolve();
        });
        expect(seen).toEqual([undefined, first.startedAt]);
        expect(second.lastSyncDate).toEqual(first.startedAt);
        expect(second.startedAt.getTime()).toBeGreaterThanOrEqual(first.startedAt.getTime());
    });

    it('records a failed run, rethrows, and leaves lastSyncDate where it was', async () => {
        const connectionId = await connection();
        const ok = await run(connectionId, async (nango) => {
            await nango.batchSave([{ id: 'a' }], 'Call');
        });
        const boom = new Error('sync exploded');
        const events: RunnerEvent[] = [];
        await expect(
            run(
                connectionId,
                async (nango) => {
                    await nango.batchSave([{ id: 'b' }], 'Call');
                    throw boom;
                },
                { onEvent: (e) => events.push(e) }
            )
        ).rejects.toBe(boom);
        expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'failed', error: 'Error: sync exploded' });
        expect(await store.runs.lastSuccessfulRunStart(connectionId, 'calls')).toEqual(ok.startedAt);
        // Batches saved before the failure stay, as in Nango.
        expect([...(await liveRecords(store, connectionId, 'Call', ['a', 'b'])).keys()].sort()).toEqual(['a', 'b']);

        const next = await run(connectionId, () => Promise.resolve());
        expect(next.lastSyncDate).toEqual(ok.startedAt);
    });

    it('throws an AxiosError-shaped error for a non-2xx response', async () => {
        const connectionId = await connection();
        let caught: unknown;
        await expect(
            run(connectionId, async (nango) => {
                try {
                    await nango.get({ endpoint: '/busy' });
                } catch (err) {
                    caught = err;
                    throw err;
                }
            })
        ).rejects.toBeInstanceOf(ProxyHttpError);
        expect(caught).toBeInstanceOf(Error);
        expect(caught).toMatchObject({
            name: 'AxiosError',
            isAxiosError: true,
            code: 'ERR_BAD_REQUEST',
            message: 'Request failed with status code 429',
            response: {
                status: 429,
                statusText: 'Too Many Requests',
                headers: { 'retry-after': '30' },
                data: { message: 'Too many requests' }
            }
        });
        // The error must not carry credentials anywhere.
        expect(JSON.stringify(caught)).not.toMatch(/secret-(key|pw)/);
    });

    it('retries through the proxy when the sync asks for it, counting the retries', async () => {
        const connectionId = await connection();
        const events: RunnerEvent[] = [];
        const result = await run(
            connectionId,
            async (nango) => {
                const res = await nango.get({ endpoint: '/flaky', retries: 5 });
                expect(res.data).toEqual({ ok: true });
            },
            { onEvent: (e) => events.push(e) }
        );
        expect(result.counts).toMatchObject({ requests: 4, retries: 3 });
        const retries = events.flatMap((e) => (e.type === 'retry' ? [[e.attempt, e.status, e.waitMs]] : []));
        expect(retries).toEqual([
            [0, 503, 1],
            [1, 503, 2],
            [2, 503, 4]
        ]);
    });

    it('throws a network error with a code and no response', async () => {
        const closed = net.createServer();
        await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
        const { port } = closed.address() as AddressInfo;
        await new Promise((resolve) => closed.close(resolve));
        const deadProxy = createClariProxy({
            baseUrl: `http://127.0.0.1:${port}`,
            credentials: { apiKey: 'k', apiPassword: 'p' },
            baseDelayMs: 1
        });
        const connectionId = await connection();
        try {
            const failure = run(
                connectionId,
                async (nango) => {
                    await nango.get({ endpoint: '/calls', retries: 2 });
                },
                { proxy: deadProxy }
            );
            await expect(failure).rejects.toBeInstanceOf(ProxyRequestError);
            await expect(failure).rejects.toMatchObject({ code: 'ECONNREFUSED', response: undefined, isAxiosError: true });
        } finally {
            deadProxy.close();
        }
    });

    it('offers listRecords as Nango runner does: every record of the model, deleted and pruned ones included', async () => {
        const connectionId = await connection();
        const ids = Array.from({ length: 105 }, (_, index) => `r${String(index).padStart(3, '0')}`);
        await store.records.saveRecords(
            connectionId,
            'Call',
            ids.map((id) => ({ id, title: id })),
            'e0'
        );
        await store.records.saveRecords(connectionId, 'Other', [{ id: 'elsewhere' }], 'e0');
        await store.records.deleteRecords(connectionId, 'Call', ['r001'], 'e0');
        const first = (await store.records.listRecords({ connectionId, model: 'Call', limit: 1 })).records[0];
        await store.records.pruneRecords({ connectionId, model: 'Call', untilCursor: first?._nango_metadata.cursor ?? '' });

        const seen: unknown[] = [];
        let offered = false;
        await run(connectionId, async (nango) => {
            // The sync's own guard: the 0.69.14 types do not declare listRecords.
            offered = canListRecords(nango);
            if (canListRecords(nango)) {
                for await (const record of nango.listRecords('Call')) {
                    seen.push(record);
                }
            }
        });
        expect(offered).toBe(true);
        const records = seen as NangoRecord[];
        // More than one page of 100, each record once, in the records API's order.
        expect(records.map((record) => record.id).sort()).toEqual(ids);
        expect(records.at(-1)).toMatchObject({ id: 'r001', _nango_metadata: { last_action: 'DELETED' } });
        expect(records[0]).toEqual({
            id: 'r000',
            _nango_metadata: expect.objectContaining({ pruned_at: expect.any(String) as unknown }) as unknown
        });
    });

    it('deleteRecordsFromPreviousExecutions drops what this run did not save', async () => {
        const connectionId = await connection();
        await run(connectionId, async (nango) => {
            await nango.batchSave([{ id: 'x' }, { id: 'y' }], 'Call');
        });
        let deleted: string[] = [];
        const result = await run(connectionId, async (nango) => {
            await nango.batchSave([{ id: 'y', _nango_metadata: { cursor: 'c' } }], 'Call');
            deleted = (await nango.deleteRecordsFromPreviousExecutions('Call')).deletedKeys;
        });
        expect(deleted).toEqual(['x']);
        expect(result.counts).toMatchObject({ unchanged: 1, deleted: 1 });
        expect((await liveRecords(store, connectionId, 'Call', ['y'])).get('y')).toEqual({ id: 'y' });
    });

    it('reads metadata from the store, or the override instead', async () => {
        const connectionId = await connection({ backfillDays: 2 });
        const seen: unknown[] = [];
        await run(connectionId, async (nango) => {
            seen.push(await nango.getMetadata());
        });
        await run(
            connectionId,
            async (nango) => {
                seen.push(await nango.getMetadata());
            },
            { metadata: { backfillDays: 1 } }
        );
        expect(seen).toEqual([{ backfillDays: 2 }, { backfillDays: 1 }]);
        expect(await store.connections.getMetadata(connectionId, KEY)).toEqual({ backfillDays: 2 });
    });

    it('offers only what the sync calls: NangoSync methods it does not use are absent, not stubbed', async () => {
        const unused = ['post', 'paginate', 'setMetadata', 'updateMetadata', 'setMergingStrategy', 'getEnvironmentVariables'];
        const offered = new Map<string, string>();
        await run(await connection(), (nango) => {
            unused.forEach((method) => offered.set(method, typeof (nango as unknown as Record<string, unknown>)[method]));
            return Promise.resolve();
        });
        expect(Object.fromEntries(offered)).toEqual(Object.fromEntries(unused.map((method) => [method, 'undefined'])));
    });

    it('rejects a batchSave record without an id', async () => {
        const connectionId = await connection();
        await expect(
            run(connectionId, async (nango) => {
                await nango.batchSave([{ title: 'nameless' }], 'Call');
            })
        ).rejects.toThrow(/missing a string or number id/);
    });
});
