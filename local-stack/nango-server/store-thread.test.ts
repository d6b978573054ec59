import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { CheckpointConflictError } from './checkpoints.js';
import { openStore, StoreInUseError } from './database.js';
import { InvalidCursorError } from './record-codec.js';
import { SyncAlreadyRunningError, type SyncRun } from './runs.js';
import { StoreDamagedError } from './store-folder.js';
import { movableBuffers, STORE_THREAD_NICE_STEP } from './store-protocol.js';
import { openStoreInThread, StoreThreadStoppedError } from './store-thread.js';
import { makeTempDir } from './test-helpers.js';

const EXIT_CHILD = fileURLToPath(new URL('./thread-exit-child.ts', import.meta.url));
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const LAUNCHER = path.join(REPO_ROOT, 'local-stack', 'launch.mjs');

describe('the store in a thread of its own', () => {
    const tmp = makeTempDir('store-thread-test');
    afterAll(() => {
        tmp.cleanup();
    });
    const freshDir = (): string => fs.mkdtempSync(path.join(tmp.dir, 'store-'));

    it.runIf(process.platform === 'linux')('runs the store at a lower priority than the thread that opened it, on Linux', async () => {
        const niceOfThreads = (): number[] =>
            fs.readdirSync('/proc/self/task').flatMap((tid) => {
                try {
                    // Fields after the command name: state is the first, nice the 17th (field 19 of proc(5)).
                    const fields = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
                    return [Number(fields[16])];
                } catch {
                    return []; // a thread that ended meanwhile
                }
            });
        const own = os.getPriority(0);
        const lowered = Math.min(19, own + STORE_THREAD_NICE_STEP);
        const before = niceOfThreads().filter((nice) => nice === lowered).length;
        const store = await openStoreInThread({ dir: freshDir() });
        try {
            expect(niceOfThreads().filter((nice) => nice === lowered).length).toBe(before + 1);
            expect(os.getPriority(0)).toBe(own);
        } finally {
            await store.close();
        }
    });

    it('saves, lists and counts as the in-process store does, and what it wrote is there after reopening in process', async () => {
        const dir = freshDir();
        const store = await openStoreInThread({ dir });
        const transcript = 'words '.repeat(5_000);
        const saved = await store.records.saveRecords('c', 'Call', [{ id: 'a', transcript }, { id: 'b' }], 'e1');
        expect(saved.added.sort()).toEqual(['a', 'b']);
        expect(await store.records.countLiveRecords('c', 'Call')).toBe(2);
        const changes = await store.records.runChanges('e1');
        expect(changes).toBeInstanceOf(Map);
        expect(changes.get('Call')).toMatchObject({ added: 2, updated: 0, deleted: 0 });
        const run = await store.runs.startRun('c', 'calls', { pid: process.pid });
        expect(run.startedAt).toBeInstanceOf(Date);
        await store.close();

        const reopened = await openStore({ dir });
        try {
            const { records } = await reopened.records.listRecords({ connectionId: 'c', model: 'Call', ids: ['a'] });
            expect(records[0]).toMatchObject({ id: 'a', transcript });
            // Closing released the lock and recorded nothing as running: the next start finds the run cut short.
            expect((await reopened.runs.listRuns({ limit: 5 }))[0]?.status).toBe('failed');
        } finally {
            await reopened.close();
        }
    });

    it('hands a record body to the thread without a copy, and copies a small pooled Buffer', async () => {
        const store = await openStoreInThread({ dir: freshDir() });
        try {
            const records = Array.from({ length: 20 }, (_, index) => ({ id: `call-${index}`, transcript: 'words '.repeat(2_000) }));
            const body = Buffer.from(JSON.stringify({ connectionId: 'c', model: 'Call', executionId: 'e1', records }));
            const sent = body.buffer;
            expect(sent.byteLength).toBe(body.byteLength);
            expect(await store.wire.saveRecordsBody(body)).toMatchObject({ ok: true, summary: { added: expect.any(Array) as unknown } });
            // Moved, not copied: the caller's bytes are gone from this thread.
            expect(sent.byteLength).toBe(0);

            const answer = await store.wire.listRecordsJson({ connectionId: 'c', model: 'Call', limit: 100 });
            expect((JSON.parse(Buffer.from(answer).toString('utf8')) as { records: unknown[] }).records).toHaveLength(20);

            // A small Buffer shares Node's pool with others: it is copied, and the pool stays usable here.
            const small = Buffer.from(JSON.stringify({ connectionId: 'c', model: 'Call', executionId: 'e2', records: [{ id: 'x' }] }));
            expect(small.byteLength).toBeLessThan(small.buffer.byteLength);
            expect(await store.wire.saveRecordsBody(small)).toMatchObject({ ok: true });
            expect(small.buffer.byteLength).toBeGreaterThan(0);
            expect(JSON.parse(small.toString('utf8'))).toMatchObject({ executionId: 'e2' });
        } finally {
            await store.close();
        }
    });

    it("moves only the buffers a view owns whole: never a slice of a larger one, such as Node's Buffer pool", () => {
        // Large enough to own its memory on every Node: Node 24 serves Buffers of up to 64 KB from a pool too.
        const owned = Buffer.from('x'.repeat(100_000));
        const pooled = Buffer.from('small');
        const slice = new Uint8Array(new ArrayBuffer(64), 8, 16);
        expect(movableBuffers([owned, pooled, slice, 'text', { bytes: owned }])).toEqual([owned.buffer]);
        // What the store thread answers with: GET /records as bytes, the only result that carries megabytes.
        expect(movableBuffers([Buffer.from(JSON.stringify({ records: ['y'.repeat(100_000)] }))])).toHaveLength(1);
    });

    it('throws the store errors as their own classes, with their fields', async () => {
        const store = await openStoreInThread({ dir: freshDir() });
        try {
            const run = await store.runs.startRun('c', 'calls', { pid: process.pid });
            const running = await store.runs.startRun('c', 'calls', { pid: process.pid }).catch((err: unknown) => err);
            expect(running).toBeInstanceOf(SyncAlreadyRunningError);
            expect(running).toMatchObject({ name: 'SyncAlreadyRunningError', connectionId: 'c', syncName: 'calls' });
            expect((running as SyncAlreadyRunningError).runningSince).toEqual(run.startedAt);
            expect((running as Error).stack).toContain('runs.ts');

            await expect(store.records.listRecords({ connectionId: 'c', model: 'Call', cursor: 'bm9wZQ==' })).rejects.toBeInstanceOf(
                InvalidCursorError
            );
            await expect(store.records.listRecords({ connectionId: 'c', model: 'Call', limit: 0 })).rejects.toBeInstanceOf(RangeError);

            const connection = await store.connections.upsertConnection({
                connectionId: 'c',
                providerConfigKey: 'clari-copilot',
                provider: 'clari-copilot',
                apiKey: 'k',
                apiPassword: 'p'
            });
            const saved = await store.checkpoints.putCheckpoint(connection.id, 'calls', { at: 1 }, 1);
            const conflict = await store.checkpoints.putCheckpoint(connection.id, 'calls', { at: 2 }, 1).catch((err: unknown) => err);
            expect(conflict).toBeInstanceOf(CheckpointConflictError);
            expect(conflict).toMatchObject({ key: 'calls', expectedVersion: 1, currentVersion: saved.version });
        } finally {
            await store.close();
        }
    });

    it('answers connection lookups from a copy that every connection write through it renews', async () => {
        const store = await openStoreInThread({ dir: freshDir() });
        try {
            const input = {
                connectionId: 'c',
                providerConfigKey: 'clari-copilot',
                provider: 'clari-copilot',
                apiKey: 'k1',
                apiPassword: 'p'
            };
            expect(await store.connections.getConnection('c', 'clari-copilot')).toBeUndefined();
            await store.connections.upsertConnection(input);
            const first = await store.connections.getConnection('c', 'clari-copilot');
            expect(first?.apiKey).toBe('k1');
            (first as { apiKey: string }).apiKey = 'changed by a caller';
            expect((await store.connections.getConnection('c', 'clari-copilot'))?.apiKey).toBe('k1');

            await store.connections.upsertConnection({ ...input, apiKey: 'k2' });
            expect((await store.connections.getConnection('c', 'clari-copilot'))?.apiKey).toBe('k2');
            await store.connections.setMetadata('c', 'clari-copilot', { a: 1 });
            expect((await store.connections.getConnection('c', 'clari-copilot'))?.metadata).toEqual({ a: 1 });
            await store.connections.updateMetadata('c', 'clari-copilot', { b: 2 });
            expect((await store.connections.getConnection('c', 'clari-copilot'))?.metadata).toEqual({ a: 1, b: 2 });
        } finally {
            await store.close();
        }
    });

    it('tells every run-finished listener before finishRun returns, and stops telling one that unsubscribed', async () => {
        const store = await openStoreInThread({ dir: freshDir() });
        try {
            const heard: SyncRun[] = [];
            const unsubscribe = store.runs.onRunFinished((run) => heard.push(run));
            store.runs.onRunFinished(() => {
                throw new Error('a faulty listener');
            });
            const first = await store.runs.startRun('c', 'calls', { pid: process.pid });
            await store.runs.finishRun(first.runId, 'success', 'saved 1');
            expect(heard.map((run) => [run.runId, run.status])).toEqual([[first.runId, 'success']]);

            unsubscribe();
            const second = await store.runs.startRun('c', 'calls', { pid: process.pid });
            await store.runs.finishRun(second.runId, 'failed', 'boom');
            expect(heard).toHaveLength(1);
        } finally {
            await store.close();
        }
    });

    it('refuses a folder another store holds, and one whose database is damaged, with the errors openStore gives', async () => {
        const dir = freshDir();
        const held = await openStore({ dir });
        try {
            const inUse = await openStoreInThread({ dir }).catch((err: unknown) => err);
            expect(inUse).toBeInstanceOf(StoreInUseError);
            expect(inUse).toMatchObject({ dir, pid: process.pid });
        } finally {
            await held.close();
        }

        fs.rmSync(path.join(dir, 'pgdata'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'pgdata'), 'not a folder');
        const damaged = await openStoreInThread({ dir }).catch((err: unknown) => err);
        expect(damaged).toBeInstanceOf(StoreDamagedError);
        expect((damaged as Error).message).toContain(`remove the folder ${dir} `);
    });

    it('holds the folder until it is closed, then refuses further calls with a clear error', async () => {
        const dir = freshDir();
        const store = await openStoreInThread({ dir });
        await expect(openStore({ dir })).rejects.toBeInstanceOf(StoreInUseError);
        await store.close();
        await store.close();
        await expect(store.records.countLiveRecords('c', 'Call')).rejects.toBeInstanceOf(StoreThreadStoppedError);
        const next = await openStore({ dir });
        await next.close();
    });

    // From source the worker loads tsx itself; from a bundle (npm start, serve, sync) it starts the bundle beside it.
    it.each([
        { from: 'source', args: ['--import', 'tsx', EXIT_CHILD] },
        { from: 'a bundle', args: [LAUNCHER, path.relative(REPO_ROOT, EXIT_CHILD)] }
    ])('leaves no lock behind when its process, run from $from, exits with the store still open', async ({ args }) => {
        const dir = freshDir();
        const child = spawn(process.execPath, [...args, dir], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
        const [code] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        expect(code).toBe(130);
        expect(fs.readdirSync(dir)).not.toContain('store.lock');
        const next = await openStore({ dir });
        await next.close();
    });
});
