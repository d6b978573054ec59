import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NangoSync } from '../../nango-integrations/models.js';
import { startNangoServer, type RunningNangoServer } from '../nango-server/server.js';
import { openStore, type LocalStore } from '../nango-server/database.js';
import { SyncAlreadyRunningError } from '../nango-server/runs.js';
import { liveRecords, makeTempDir } from '../nango-server/test-helpers.js';
import { createHttpPersist, createServerProxy, LocalNangoRequestError, probeLocalNango, registerRemoteConnection } from './http-persist.js';
import { runSync } from './run-sync.js';

/** A runner in this process that never touches the store: everything goes through the local Nango's HTTP API. */

const SECRET = 'persist-secret';
const KEY = 'clari-copilot';
const CALLS = [
    { id: 'c1', title: 'one' },
    { id: 'c2', title: 'two' }
];

describe('runSync through the local Nango over HTTP', () => {
    const tmp = makeTempDir('http-persist');
    let store: LocalStore;
    let server: RunningNangoServer;
    let clari: FastifyInstance;
    let seenKeys: string[];

    const endpoint = () => ({ url: server.url, secretKey: SECRET, providerConfigKey: KEY });
    const run = (connectionId: string, fetchData: (nango: NangoSync) => Promise<void>) =>
        runSync({
            persist: createHttpPersist(endpoint()),
            proxy: createServerProxy(endpoint(), connectionId, 'http://unused.invalid'),
            connectionId,
            providerConfigKey: KEY,
            syncName: 'calls',
            fetchData
        });

    beforeAll(async () => {
        seenKeys = [];
        clari = Fastify();
        clari.get('/calls', async (request, reply) => {
            seenKeys.push(String(request.headers['x-api-key']));
            return reply.send({ calls: CALLS });
        });
        await clari.listen({ port: 0, host: '127.0.0.1' });
        store = await openStore({ dir: tmp.dir });
        const clariUrl = `http://127.0.0.1:${(clari.server.address() as AddressInfo).port}`;
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: clariUrl });
    });

    afterAll(async () => {
        await server.close();
        await clari.close();
        await store.close();
        tmp.cleanup();
    });

    it('probes the server, registers the connection, and runs a sync whose writes, logs and bookkeeping land in its store', async () => {
        expect(await probeLocalNango({ url: server.url, secretKey: SECRET })).toMatchObject({ storeDir: store.dir });
        await expect(probeLocalNango({ url: server.url, secretKey: 'wrong' })).rejects.toThrow(/rejects NANGO_SECRET_KEY_DEV/);
        expect(await probeLocalNango({ url: 'http://127.0.0.1:9', secretKey: SECRET })).toBeNull();
        await registerRemoteConnection(endpoint(), 'remote', { apiKey: 'key-1', apiPassword: 'pw-1' });

        const first = await run('remote', async (nango) => {
            const res = await nango.get<{ calls: { id: string; title: string }[] }>({ endpoint: '/calls', retries: 0 });
            await nango.batchSave(res.data.calls, 'Call');
            await nango.batchDelete([{ id: 'c2' }], 'Call');
            await nango.log('saved two, deleted one');
        });
        expect(first.counts).toMatchObject({ added: 2, deleted: 1, requests: 1 });
        expect(first.lastSyncDate).toBeUndefined();
        // The server's proxy added the connection's credentials; this process never had them.
        expect(seenKeys).toEqual(['key-1']);
        expect([...(await liveRecords(store, 'remote', 'Call', ['c1', 'c2'])).keys()]).toEqual(['c1']);
        expect((await store.runs.runLogs(first.runId)).map((line) => line.message)).toEqual(['saved two, deleted one']);
        const [latest] = await store.runs.listRuns({ connectionId: 'remote', limit: 1 });
        expect(latest).toMatchObject({ runId: first.runId, status: 'success' });

        const second = await run('remote', async (nango) => {
            const found = await nango.getRecordsByIds(['c1', 'c2'], 'Call');
            expect([...found.keys()].sort()).toEqual(['c1', 'c2']);
            await nango.batchSave([{ id: 'c1', title: 'one' }], 'Call');
            expect((await nango.deleteRecordsFromPreviousExecutions('Call')).deletedKeys).toEqual([]);
        });
        expect(second.lastSyncDate).toEqual(first.startedAt);
        expect(second.counts).toMatchObject({ unchanged: 1 });
    });

    it('refuses a second run of the same sync and connection while one is alive, through HTTP and in-process alike', async () => {
        await registerRemoteConnection(endpoint(), 'busy', { apiKey: 'k', apiPassword: 'p' });
        let release = (): void => undefined;
        const holding = run('busy', () => new Promise<void>((resolve) => (release = resolve)));
        await new Promise((resolve) => setTimeout(resolve, 200));

        const refused = run('busy', () => Promise.resolve());
        await expect(refused).rejects.toBeInstanceOf(LocalNangoRequestError);
        await expect(refused).rejects.toThrow(/the calls sync of connection busy is already running/);
        await expect(store.runs.startRun('busy', 'calls', { pid: process.pid })).rejects.toBeInstanceOf(SyncAlreadyRunningError);
        // Another connection is not held up.
        await expect(run('remote', () => Promise.resolve())).resolves.toMatchObject({ counts: { added: 0 } });

        release();
        await holding;
        await expect(run('busy', () => Promise.resolve())).resolves.toBeDefined();
    });

    it('takes over a run whose runner process is gone', async () => {
        const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
        const deadPid = Number(exited.stdout);
        expect(deadPid).toBeGreaterThan(0);
        const orphan = await store.runs.startRun('orphaned', 'calls', { pid: deadPid });

        const next = await store.runs.startRun('orphaned', 'calls', { pid: process.pid });
        const runs = await store.runs.listRuns({ connectionId: 'orphaned', limit: 5 });
        expect(runs.find((r) => r.runId === orphan.runId)).toMatchObject({
            status: 'failed',
            summary: expect.stringMatching(/exited during the run/) as unknown
        });
        expect(runs.find((r) => r.runId === next.runId)?.status).toBe('running');
        await store.runs.finishRun(next.runId, 'success');
    });
});
