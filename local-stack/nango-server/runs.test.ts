import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { SyncAlreadyRunningError } from './runs.js';
import { makeTempDir } from './test-helpers.js';

const CRASH_CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

describe('runs', () => {
    const tmp = makeTempDir('runs-test');
    let store: LocalStore;

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    it('tracks runs: lastSyncDate is the start of the last successful run', async () => {
        const c = 'conn-runs';
        expect(await store.runs.lastSuccessfulRunStart(c, 'calls')).toBeUndefined();
        const ok = await store.runs.startRun(c, 'calls', { pid: process.pid });
        expect(await store.runs.lastSuccessfulRunStart(c, 'calls')).toBeUndefined();
        await store.runs.finishRun(ok.runId, 'success', 'saved 3');
        expect(await store.runs.lastSuccessfulRunStart(c, 'calls')).toEqual(ok.startedAt);

        const failed = await store.runs.startRun(c, 'calls', { pid: process.pid });
        expect(failed.executionId).not.toBe(ok.executionId);
        await store.runs.finishRun(failed.runId, 'failed', 'boom');
        expect(await store.runs.lastSuccessfulRunStart(c, 'calls')).toEqual(ok.startedAt);
        expect(await store.runs.lastSuccessfulRunStart(c, 'other-sync')).toBeUndefined();
        await expect(store.runs.finishRun(failed.runId, 'success')).rejects.toThrow(/not running/);
    });

    it('refuses a second run while the first is alive, and takes over one whose runner process is gone', async () => {
        const c = 'conn-overlap';
        const first = await store.runs.startRun(c, 'calls', { pid: process.pid });
        await expect(store.runs.startRun(c, 'calls', { pid: process.pid })).rejects.toBeInstanceOf(SyncAlreadyRunningError);
        // Another sync of the same connection is not held up.
        const other = await store.runs.startRun(c, 'other', { pid: process.pid });
        expect(await store.runs.heartbeatRun(first.runId)).toBe(true);
        await store.runs.finishRun(first.runId, 'success');
        expect(await store.runs.heartbeatRun(first.runId)).toBe(false);

        // pid 2^31-1 is never a live process here: the run it holds is abandoned by the next start.
        const orphan = await store.runs.startRun(c, 'calls', { pid: 2_147_483_647 });
        const next = await store.runs.startRun(c, 'calls', { pid: process.pid });
        const [newest, abandoned] = await store.runs.listRuns({ connectionId: c, syncName: 'calls', limit: 2 });
        expect(newest).toMatchObject({ runId: next.runId, status: 'running' });
        expect(abandoned).toMatchObject({
            runId: orphan.runId,
            status: 'failed',
            summary: expect.stringMatching(/exited during the run/) as unknown
        });
        await store.runs.finishRun(next.runId, 'failed', 'boom');
        await store.runs.finishRun(other.runId, 'success');
    });

    it("keeps a run's log lines in the order they were appended", async () => {
        const run = await store.runs.startRun('conn-logs', 'calls', { pid: process.pid });
        const at = new Date('2025-01-01T00:00:00.000Z');
        await store.runs.appendRunLogs(run.runId, [
            { level: 'info', message: 'one', createdAt: at },
            { level: 'warn', message: 'two', createdAt: at }
        ]);
        await store.runs.appendRunLogs(run.runId, []);
        await store.runs.appendRunLogs(run.runId, [{ level: 'error', message: 'three', createdAt: at }]);
        expect((await store.runs.runLogs(run.runId)).map((line) => `${line.level}:${line.message}`)).toEqual([
            'info:one',
            'warn:two',
            'error:three'
        ]);
        expect(await store.runs.runLogs(run.runId + 1000)).toEqual([]);
        await store.runs.finishRun(run.runId, 'success');
    });
});

describe('run numbers after a crash', () => {
    const tmp = makeTempDir('runs-crash-test');

    afterAll(() => {
        tmp.cleanup();
    });

    it('numbers the next run after the last one recorded, even when the process holding the store was killed', async () => {
        const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD, tmp.dir], { stdio: ['ignore', 'inherit', 'inherit'] });
        const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        expect(signal).toBe('SIGKILL');
        const store = await openStore({ dir: tmp.dir });
        try {
            const next = await store.runs.startRun('conn-crash', 'calls', { pid: process.pid });
            expect(next.runId).toBe(2);
        } finally {
            await store.close();
        }
    });
});
