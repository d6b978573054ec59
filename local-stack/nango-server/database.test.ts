import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { openStore, StoreInUseError } from './database.js';
import { liveRecords, makeTempDir } from './test-helpers.js';

const MODEL = 'Call';

describe('store folder', () => {
    const tmp = makeTempDir('store-persist');

    afterAll(() => {
        tmp.cleanup();
    });

    it('persists across reopen and locks the folder while open', async () => {
        const store = await openStore({ dir: tmp.dir });
        await store.records.saveRecords('c', MODEL, [{ id: 'a', v: 1 }], 'e1');
        const run = await store.runs.startRun('c', 'calls', { pid: process.pid });
        await store.runs.finishRun(run.runId, 'success');
        await store.runs.startRun('c', 'calls', { pid: process.pid }); // left running, as if the process died

        const lockFile = path.join(tmp.dir, 'store.lock');
        expect(fs.readFileSync(lockFile, 'utf8').split('\n')[0]).toBe(String(process.pid));
        const second = openStore({ dir: tmp.dir });
        await expect(second).rejects.toBeInstanceOf(StoreInUseError);
        await expect(second).rejects.toThrow(`store ${tmp.dir} is in use by process ${process.pid} (npm start / npm run serve?)`);

        await store.close();
        expect(fs.existsSync(lockFile)).toBe(false);

        const reopened = await openStore({ dir: tmp.dir });
        try {
            expect((await liveRecords(reopened, 'c', MODEL, ['a'])).get('a')).toEqual({ id: 'a', v: 1 });
            expect(await reopened.runs.lastSuccessfulRunStart('c', 'calls')).toEqual(run.startedAt);
            const next = await reopened.runs.startRun('c', 'calls', { pid: process.pid });
            await reopened.runs.finishRun(next.runId, 'failed');
            expect(await reopened.runs.lastSuccessfulRunStart('c', 'calls')).toEqual(run.startedAt);
        } finally {
            await reopened.close();
        }
    });

    it('refuses a folder held by another live process and takes over a stale lock', async () => {
        const lockFile = path.join(tmp.dir, 'store.lock');
        const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
        const childPid = child.pid;
        if (childPid === undefined) {
            throw new Error('child did not start');
        }
        try {
            fs.writeFileSync(lockFile, `${childPid}\n`);
            await expect(openStore({ dir: tmp.dir })).rejects.toThrow(`is in use by process ${childPid}`);
        } finally {
            child.kill();
            await new Promise((resolve) => child.once('exit', resolve));
        }

        // The child is gone now, so its lock is stale.
        const store = await openStore({ dir: tmp.dir });
        try {
            expect(fs.readFileSync(lockFile, 'utf8').split('\n')[0]).toBe(String(process.pid));
        } finally {
            await store.close();
        }
    });
});
