import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import type { LockChildCommand, LockChildReply } from './lock-child.js';
import { acquireDirLock, StoreInUseError } from './lock.js';
import { makeTempDir } from './test-helpers.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./lock-child.ts', import.meta.url));
const RACE_TRIALS = 150;
const onLinux = process.platform === 'linux';

interface LockChild {
    readonly pid: number;
    readonly process: ChildProcess;
    request(command: LockChildCommand): Promise<LockChildReply>;
}

async function startLockChild(): Promise<LockChild> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const pid = child.pid;
    if (pid === undefined) {
        throw new Error('lock child did not start');
    }
    const waiting: { resolve: (reply: LockChildReply) => void; reject: (error: Error) => void }[] = [];
    child.on('message', (message) => waiting.shift()?.resolve(message as LockChildReply));
    child.on('exit', (code, signal) => {
        for (const waiter of waiting.splice(0)) {
            waiter.reject(new Error(`lock child exited (${code ?? signal ?? 'unknown'})`));
        }
    });
    const next = (): Promise<LockChildReply> =>
        new Promise((resolve, reject) => {
            waiting.push({ resolve, reject });
        });
    const ready = await next();
    if (ready.op !== 'ready') {
        throw new Error(`lock child said ${ready.op} before ready`);
    }
    return {
        pid,
        process: child,
        request: (command) => {
            const reply = next();
            child.send(command);
            return reply;
        }
    };
}

function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve();
    }
    return new Promise((resolve) => {
        child.once('exit', () => {
            resolve();
        });
        child.kill('SIGKILL');
    });
}

/** A pid that belonged to a process which has exited and been reaped. */
async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    if (child.pid === undefined) {
        throw new Error('child did not start');
    }
    return child.pid;
}

function procStat(pid: number): { state: string; startTime: string } | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
    } catch {
        return undefined;
    }
}

describe('store lock', () => {
    const tmp = makeTempDir('lock-test');
    const children: ChildProcess[] = [];
    let dirCount = 0;
    const freshDir = (): string => {
        const dir = path.join(tmp.dir, `store-${++dirCount}`);
        fs.mkdirSync(dir);
        return dir;
    };
    const spawnChild = async (): Promise<LockChild> => {
        const child = await startLockChild();
        children.push(child.process);
        return child;
    };

    afterEach(async () => {
        await Promise.all(children.splice(0).map(stop));
    });

    afterAll(() => {
        tmp.cleanup();
    });

    it(`lets exactly one of two processes racing over a stale lock win, in each of ${RACE_TRIALS} trials`, async () => {
        const [a, b] = await Promise.all([spawnChild(), spawnChild()]);
        const stalePid = await deadPid();
        const outcomes: string[] = [];
        for (let trial = 0; trial < RACE_TRIALS; trial++) {
            const dir = freshDir();
            fs.writeFileSync(path.join(dir, 'store.lock'), `${stalePid}\nnonce=stale-${trial}\n`);
            // Both children spin until the same instant, so their takeovers overlap.
            const startAt = performance.timeOrigin + performance.now() + 20;
            const [ra, rb] = await Promise.all([a.request({ op: 'acquire', dir, startAt }), b.request({ op: 'acquire', dir, startAt })]);
            const winner = ra.op === 'acquired' ? a.pid : rb.op === 'acquired' ? b.pid : undefined;
            const loser = ra.op === 'acquired' ? rb : ra;
            const exactlyOne = [ra.op, rb.op].sort().join(',') === 'acquired,refused';
            outcomes.push(exactlyOne && loser.op === 'refused' && loser.holder === winner ? 'ok' : `trial ${trial}: ${ra.op} / ${rb.op}`);
            // The winner keeps the lock until both have answered, so a late loser cannot win after a release.
            await Promise.all([a.request({ op: 'release' }), b.request({ op: 'release' })]);
            expect(fs.readdirSync(dir)).toEqual([]);
        }
        expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual([]);
    });

    it('takes over a lock whose holder was killed with SIGKILL', async () => {
        const dir = freshDir();
        const holder = await spawnChild();
        expect(await holder.request({ op: 'acquire', dir })).toEqual({ op: 'acquired' });
        expect(() => acquireDirLock(dir)).toThrow(StoreInUseError);
        await stop(holder.process);

        const lock = acquireDirLock(dir);
        expect(fs.readFileSync(lock.path, 'utf8').split('\n')[0]).toBe(String(process.pid));
        lock.release();
        expect(fs.existsSync(lock.path)).toBe(false);
    });

    it.runIf(onLinux)('takes over right after a SIGKILL, while the killed holder is still an unreaped zombie', async () => {
        const dir = freshDir();
        const holder = await spawnChild();
        expect(await holder.request({ op: 'acquire', dir })).toEqual({ op: 'acquired' });

        holder.process.kill('SIGKILL');
        // Node reaps children from the event loop, so as long as this test does not yield, the dead holder
        // stays in the process table as a zombie: the state a killed process is in until its parent reaps it,
        // forever under a pid 1 that never does.
        let state = procStat(holder.pid)?.state;
        while (state !== undefined && state !== 'Z') {
            // busy wait: yielding would let Node reap the child
            state = procStat(holder.pid)?.state;
        }
        expect(state).toBe('Z');
        expect(() => process.kill(holder.pid, 0)).not.toThrow();

        const lock = acquireDirLock(dir);
        expect(fs.readFileSync(lock.path, 'utf8').split('\n')[0]).toBe(String(process.pid));
        lock.release();
    });

    it.runIf(onLinux)('does not mistake a live process that reused the holder pid for the holder', () => {
        const dir = freshDir();
        const lockPath = path.join(dir, 'store.lock');
        const parent = procStat(process.ppid);
        expect(parent).toBeDefined();

        fs.writeFileSync(lockPath, `${process.ppid}\nstart=${parent?.startTime ?? ''}\nnonce=live\n`);
        expect(() => acquireDirLock(dir)).toThrow(`in use by process ${process.ppid}`);

        fs.writeFileSync(lockPath, `${process.ppid}\nstart=1\nnonce=reused\n`);
        acquireDirLock(dir).release();
    });

    it('clears a takeover left behind by an opener killed in the middle of it', async () => {
        const dir = freshDir();
        const lockPath = path.join(dir, 'store.lock');
        const stale = `${await deadPid()}\nnonce=stale\n`;
        const guard = `${lockPath}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
        fs.writeFileSync(lockPath, stale);
        fs.writeFileSync(guard, `${await deadPid()}\nnonce=killed-mid-takeover\n`);

        const lock = acquireDirLock(dir);
        expect(fs.readdirSync(dir)).toEqual(['store.lock']);
        lock.release();
        expect(fs.readdirSync(dir)).toEqual([]);
    });

    it('refuses while a live process holds the lock, and release leaves a lock it does not own alone', async () => {
        const dir = freshDir();
        const holder = await spawnChild();
        expect(await holder.request({ op: 'acquire', dir })).toEqual({ op: 'acquired' });
        const error = (() => {
            try {
                acquireDirLock(dir);
                return undefined;
            } catch (err) {
                return err;
            }
        })();
        expect(error).toBeInstanceOf(StoreInUseError);
        expect(error).toMatchObject({ dir, pid: holder.pid });

        await stop(holder.process);
        const mine = acquireDirLock(dir);
        // Someone removed our lock by hand and another opener took the folder: our release must not free it.
        fs.rmSync(mine.path);
        const theirs = `${holder.pid}\nnonce=theirs\n`;
        fs.writeFileSync(mine.path, theirs);
        mine.release();
        expect(fs.readFileSync(mine.path, 'utf8')).toBe(theirs);
    });
});
