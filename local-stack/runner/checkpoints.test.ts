import vm from 'node:vm';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NangoSync } from '../../nango-integrations/models.js';
import { CheckpointConflictError, syncCheckpointKey, type CheckpointValue } from '../nango-server/checkpoints.js';
import { openStore, type LocalStore } from '../nango-server/database.js';
import type { ClariProxy } from '../nango-server/proxy.js';
import { startNangoServer, type RunningNangoServer } from '../nango-server/server.js';
import { makeTempDir } from '../nango-server/test-helpers.js';
import { checkpointValue, InvalidCheckpointError, RunCheckpoints } from './checkpointing.js';
import { ExecutionKilledError } from './execution-limit.js';
import { createHttpPersist } from './http-persist.js';
import { storePersist, type CheckpointRef } from './persist.js';
import { runSync } from './run-sync.js';

/** What Nango's runner gives a script today and the 0.69.14 types do not declare. */
interface Checkpointing {
    getCheckpoint(): Promise<CheckpointValue | null>;
    saveCheckpoint(checkpoint: unknown): Promise<void>;
    clearCheckpoint(): Promise<void>;
}

const KEY = 'clari-copilot';
const SECRET = 'checkpoint-secret';
const noClari: ClariProxy = {
    baseUrl: 'http://127.0.0.1:9',
    request: () => Promise.reject(new Error('these scripts never call Clari')),
    close: () => undefined
};

function checkpointing(nango: NangoSync): Checkpointing {
    return nango as unknown as Checkpointing;
}

describe('checkpoint values', () => {
    it('keeps strings, numbers and booleans, stores a Date as its ISO string, and accepts 16 fields of 4000 characters', () => {
        const at = new Date('2025-03-04T05:06:07.089Z');
        expect(checkpointValue({ s: 'x', n: 1.5, b: false, d: at })).toEqual({ s: 'x', n: 1.5, b: false, d: '2025-03-04T05:06:07.089Z' });
        const widest = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`f${i}`, 'y'.repeat(4000)]));
        expect(checkpointValue(widest)).toEqual(widest);
        expect(checkpointValue({})).toEqual({});
        // A script's Date comes from its sandbox's realm, where `instanceof Date` is false.
        expect(checkpointValue({ d: vm.runInNewContext('new Date(0)') as unknown })).toEqual({ d: '1970-01-01T00:00:00.000Z' });
    });

    it.each([
        ['null', null, /must be a flat object, not null/],
        ['an array', [1], /must be a flat object, not an array/],
        ['a string', 'step-3', /must be a flat object, not a string/],
        ['a Date', new Date(), /must be a flat object/],
        ['17 fields', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, i])), /at most 16 fields; this one has 17/],
        ['a nested object', { page: { offset: 1 } }, /field "page" is an object; a checkpoint is flat/],
        ['an array value', { ids: ['a'] }, /field "ids" is an array/],
        ['a null value', { cursor: null }, /field "cursor" is null/],
        ['an undefined value', { cursor: undefined }, /field "cursor" is a undefined/],
        ['a bigint', { n: 1n }, /field "n" is a bigint/],
        ['a function', { f: () => 1 }, /field "f" is a function/],
        ['a string of 4001 characters', { s: 'z'.repeat(4001) }, /field "s" is a string of 4001 characters; strings are at most 4000/],
        ['NaN', { n: Number.NaN }, /field "n" is NaN; numbers must be finite/],
        ['Infinity', { n: Number.POSITIVE_INFINITY }, /field "n" is Infinity/],
        ['an invalid Date', { d: new Date('nope') }, /field "d" is an invalid Date/]
    ])('refuses %s, naming the rule', (_what, value, rule) => {
        expect(() => checkpointValue(value)).toThrow(InvalidCheckpointError);
        expect(() => checkpointValue(value)).toThrow(rule);
    });
});

describe('checkpoints in the runner', () => {
    const tmp = makeTempDir('checkpoints-test');
    let store: LocalStore;
    let server: RunningNangoServer;
    let nangoConnectionId: number;

    const run = (fetchData: (nango: NangoSync) => Promise<void>, extra: { syncName?: string; timeoutMs?: number } = {}) =>
        runSync({
            persist: storePersist(store),
            connectionId: 'conn',
            providerConfigKey: KEY,
            syncName: 'calls',
            proxy: noClari,
            fetchData,
            ...extra
        });
    const stored = (key = syncCheckpointKey('calls')) => store.checkpoints.getCheckpoint(nangoConnectionId, key);
    const api = (method: string, body?: unknown, query = '') =>
        fetch(`${server.url}/environment/dev/connection/${nangoConnectionId}/checkpoint${query}`, {
            method,
            headers: { authorization: `Bearer ${SECRET}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
        });

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        const connection = await store.connections.upsertConnection({
            connectionId: 'conn',
            providerConfigKey: KEY,
            provider: KEY,
            apiKey: 'k',
            apiPassword: 'p'
        });
        nangoConnectionId = connection.id;
        server = await startNangoServer({
            store,
            secretKey: SECRET,
            port: 0,
            clariBaseUrl: noClari.baseUrl,
            runJob: () => Promise.resolve()
        });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('gets null, saves under sync:<sync name>, reads it back, clears it to null, and a later save brings it back', async () => {
        const seen: (CheckpointValue | null)[] = [];
        const result = await run(async (nango) => {
            const api = checkpointing(nango);
            seen.push(await api.getCheckpoint());
            await api.saveCheckpoint({ offset: 100, since: new Date('2025-01-01T00:00:00.000Z'), done: false });
            seen.push(await api.getCheckpoint());
            await api.clearCheckpoint();
            seen.push(await api.getCheckpoint());
            await api.saveCheckpoint({ offset: 200 });
        });
        expect(seen).toEqual([null, { offset: 100, since: '2025-01-01T00:00:00.000Z', done: false }, null]);
        expect(await stored()).toMatchObject({ checkpoint: { offset: 200 }, deletedAt: null });
        expect(result.checkpoints).toEqual({ from: null, to: { offset: 200 } });
        expect((await store.runs.listRuns({ connectionId: 'conn', syncName: 'calls', limit: 1 }))[0]).toMatchObject({
            status: 'success',
            interrupted: false,
            checkpoints: { from: null, to: { offset: 200 } }
        });
    });

    it('keeps the checkpoint across runs: a success clears nothing, a failure keeps what it saved, a bad value fails the run', async () => {
        const next = await run(async (nango) => {
            expect(await checkpointing(nango).getCheckpoint()).toEqual({ offset: 200 });
        });
        expect(next.checkpoints).toEqual({ from: { offset: 200 }, to: { offset: 200 } });

        await expect(
            run(async (nango) => {
                await checkpointing(nango).saveCheckpoint({ offset: 300 });
                throw new Error('Clari went away');
            })
        ).rejects.toThrow('Clari went away');
        expect(await stored()).toMatchObject({ checkpoint: { offset: 300 } });

        await expect(run((nango) => checkpointing(nango).saveCheckpoint({ nested: { no: 1 } }))).rejects.toThrow(
            /field "nested" is an object/
        );
        expect(await stored()).toMatchObject({ checkpoint: { offset: 300 } });
        // A run that never touches its checkpoint reports no range.
        expect((await run(() => Promise.resolve())).checkpoints).toBeUndefined();
    });

    it('lets one of two writers holding the same version win: the other gets checkpoint_conflict, in process and over HTTP', async () => {
        const ref: CheckpointRef = { connectionId: 'conn', providerConfigKey: KEY, key: 'sync:race' };
        const http = createHttpPersist({ url: server.url, secretKey: SECRET, providerConfigKey: KEY });
        const a = new RunCheckpoints(storePersist(store), ref);
        const b = new RunCheckpoints(http, ref);
        expect(await a.get()).toBeNull();
        expect(await b.get()).toBeNull();
        await a.save({ writer: 'a' });
        await expect(b.save({ writer: 'b' })).rejects.toBeInstanceOf(CheckpointConflictError);
        await expect(b.clear()).rejects.toBeInstanceOf(CheckpointConflictError);
        expect(await b.get()).toEqual({ writer: 'a' });
        await b.save({ writer: 'b' });
        await expect(a.save({ writer: 'a again' })).rejects.toThrow(/another writer saved it first/);
        expect(await a.get()).toEqual({ writer: 'b' });
    });

    it('answers Nango persist routes: { checkpoint, version }, 409 on a stale expectedVersion, soft delete, 404 checkpoint_not_found', async () => {
        const key = 'sync:routes';
        expect(await (await api('GET', undefined, `?key=${key}`)).json()).toMatchObject({ error: { code: 'checkpoint_not_found' } });
        const first = await api('PUT', { key, checkpoint: { page: 1 }, expectedVersion: 1 });
        expect(first.status).toBe(200);
        const { version } = (await first.json()) as { version: number };
        expect(await (await api('PUT', { key, checkpoint: { page: 9 }, expectedVersion: 1 })).json()).toMatchObject({
            error: { code: 'checkpoint_conflict' }
        });
        expect((await api('PUT', { key, checkpoint: { page: 2 }, expectedVersion: version })).status).toBe(200);
        expect(await (await api('GET', undefined, `?key=${key}`)).json()).toEqual({
            checkpoint: { page: 2 },
            version: version + 1,
            deletedAt: null
        });
        expect((await api('DELETE', { key, expectedVersion: version })).status).toBe(409);
        expect((await api('DELETE', { key, expectedVersion: version + 1 })).status).toBe(204);
        const deleted = (await (await api('GET', undefined, `?key=${key}`)).json()) as { deletedAt: string | null; version: number };
        expect(deleted.deletedAt).toEqual(expect.any(String));
        expect((await api('DELETE', { key, expectedVersion: deleted.version })).status).toBe(404);
        expect(await (await api('PUT', { key, checkpoint: { page: 3 }, expectedVersion: deleted.version })).json()).toEqual({
            checkpoint: { page: 3 },
            version: deleted.version + 1
        });
        const bad = await api('PUT', { key, checkpoint: { page: { deep: 1 } }, expectedVersion: deleted.version + 1 });
        expect(bad.status).toBe(400);
        const other = await fetch(`${server.url}/environment/prod/connection/${nangoConnectionId}/checkpoint?key=${key}`, {
            headers: { authorization: `Bearer ${SECRET}` }
        });
        expect(other.status).toBe(404);
    });

    it("clears the sync's checkpoints, trackDeletes ones included, on POST /sync/trigger with sync_mode full_refresh", async () => {
        await store.deployments.deployFlows(
            ['calls', 'other'].map((name) => ({
                providerConfigKey: KEY,
                type: 'sync' as const,
                name,
                version: '1',
                runs: 'every day',
                models: ['Call'],
                endpoints: [],
                syncType: 'incremental' as const,
                trackDeletes: false,
                autoStart: false,
                inputModel: null,
                description: null,
                scopes: [],
                js: 'module.exports = {};',
                ts: '',
                jsonSchema: null,
                rawConfig: {},
                sdkVersion: null
            })),
            { reconcile: true }
        );
        const put = async (key: string) => {
            const current = await stored(key);
            await store.checkpoints.putCheckpoint(nangoConnectionId, key, { at: key }, current?.version ?? 1);
        };
        for (const key of ['sync:calls', 'sync:calls:trackDeletes:Call', 'sync:callsigns', 'sync:other']) {
            await put(key);
        }
        const trigger = (mode: string) =>
            fetch(`${server.url}/sync/trigger`, {
                method: 'POST',
                headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
                body: JSON.stringify({ syncs: ['calls'], provider_config_key: KEY, connection_id: 'conn', sync_mode: mode })
            });
        expect((await trigger('incremental')).status).toBe(200);
        expect(await stored('sync:calls')).toBeDefined();
        expect((await trigger('full_refresh')).status).toBe(200);
        expect(await stored('sync:calls')).toBeUndefined();
        expect(await stored('sync:calls:trackDeletes:Call')).toBeUndefined();
        expect(await stored('sync:callsigns')).toBeDefined();
        expect(await stored('sync:other')).toBeDefined();
    });

    it('interrupts at the first checkpoint past 80% of the execution, as a success, and kills a silent script at 95%', async () => {
        const steps: number[] = [];
        const interrupted = await run(
            async (nango) => {
                for (let step = 1; step <= 100; step++) {
                    await new Promise((resolve) => setTimeout(resolve, 40));
                    steps.push(step);
                    await checkpointing(nango).saveCheckpoint({ step });
                }
            },
            { syncName: 'bounded', timeoutMs: 1000 }
        );
        expect(interrupted.interrupted).toBe(true);
        const reached = interrupted.checkpoints?.to?.['step'];
        expect(reached).toBe(steps[steps.length - 1]);
        // 80% of 1 s at 40 ms a step, with some slack for a loaded machine.
        expect(reached).toBeGreaterThanOrEqual(15);
        expect(reached).toBeLessThan(24);
        const [record] = await store.runs.listRuns({ connectionId: 'conn', syncName: 'bounded', limit: 1 });
        expect(record).toMatchObject({ status: 'success', interrupted: true });
        expect(await store.runs.lastSuccessfulRunStart('conn', 'bounded')).toEqual(interrupted.startedAt);

        let lateCall: unknown;
        const started = Date.now();
        await expect(
            run(
                async (nango) => {
                    await new Promise((resolve) => setTimeout(resolve, 1500));
                    lateCall = await nango.batchSave([{ id: 'late' }], 'Call').catch((error: unknown) => error);
                },
                { syncName: 'silent', timeoutMs: 1000 }
            )
        ).rejects.toBeInstanceOf(ExecutionKilledError);
        expect(Date.now() - started).toBeLessThan(1400);
        const [killed] = await store.runs.listRuns({ connectionId: 'conn', syncName: 'silent', limit: 1 });
        expect(killed).toMatchObject({ status: 'failed', interrupted: false, summary: expect.stringMatching(/killed at 95%/) as unknown });
        await new Promise((resolve) => setTimeout(resolve, 700));
        // The script left running past the kill can no longer write.
        expect(lateCall).toBeInstanceOf(ExecutionKilledError);
    });
});
