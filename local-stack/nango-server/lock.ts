import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { ensurePrivateDir } from './private-files.js';

export class StoreInUseError extends Error {
    constructor(
        readonly dir: string,
        readonly pid: number
    ) {
        super(`store ${dir} is in use by process ${pid} (npm start / npm run serve?)`);
        this.name = 'StoreInUseError';
    }
}

export interface DirLock {
    readonly path: string;
    release(): void;
}

/** A process on this machine, as a lock file or a sync run records it. */
export interface Holder {
    pid: number;
    /** Kernel start time of the process (Linux), so that a reused pid is not taken for the holder. */
    startTime?: string | undefined;
}

/** A chain of crashed takeovers deeper than this is not a race any more but debris to clear by hand. */
const MAX_TAKEOVER_DEPTH = 4;
const MAX_ATTEMPTS = 20;

const hasProcStat = process.platform === 'linux' && fs.existsSync('/proc/self/stat');

type ProcState = { state: string; startTime: string } | 'gone' | 'unknown';

function procState(pid: number): ProcState {
    if (!hasProcStat) {
        return 'unknown';
    }
    let stat: string;
    try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unknown';
    }
    // The command name (field 2) may hold spaces and parentheses, so count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const startTime = fields[19];
    return state !== undefined && startTime !== undefined ? { state, startTime } : 'unknown';
}

function isAlive(holder: Holder): boolean {
    try {
        process.kill(holder.pid, 0);
    } catch (err) {
        // EPERM means the process exists but belongs to someone else: still alive.
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') {
            return false;
        }
    }
    const proc = procState(holder.pid);
    if (proc === 'gone') {
        return false;
    }
    if (proc === 'unknown') {
        return true;
    }
    // A zombie (Z) or dying (X) process answers kill(pid, 0) but will never release the lock: a killed holder
    // whose parent has not reaped it yet, or one orphaned under a pid 1 that never reaps.
    if (proc.state === 'Z' || proc.state === 'X') {
        return false;
    }
    return holder.startTime === undefined || holder.startTime === proc.startTime;
}

function ownContent(): string {
    const self = thisRunner();
    const start = self.startTime === undefined ? '' : `start=${self.startTime}\n`;
    // The nonce makes every lock file unique, so a stale one can be told apart from a fresh one with the same pid.
    return `${process.pid}\n${start}nonce=${randomUUID()}\n`;
}

function parseHolder(content: string): Holder | undefined {
    const [first, ...rest] = content.split('\n');
    const pid = Number(first?.trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) {
        return undefined;
    }
    const startTime = rest.find((line) => line.startsWith('start='))?.slice('start='.length);
    return startTime ? { pid, startTime } : { pid };
}

function readContent(file: string): string | undefined {
    try {
        return fs.readFileSync(file, 'utf8');
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            return undefined;
        }
        throw err;
    }
}

function tryLink(source: string, target: string): boolean {
    try {
        fs.linkSync(source, target);
        return true;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            return false;
        }
        throw err;
    }
}

/**
 * Makes `target` a hard link to `tmpPath` (our lock content) unless a live process holds it; returns that
 * holder, or undefined once `target` is ours.
 *
 * A stale `target` is never removed by path on the strength of an earlier read: a racer could have replaced it
 * with a fresh lock in between. Instead the right to remove that exact content is itself a lock,
 * `<target>.takeover-<digest of the content>`, taken with the same function. Whoever holds it checks that
 * `target` still has that content (only the dead holder or the takeover holder could change it), removes it,
 * and competes for `target` again like any opener. A takeover lock left by a racer killed mid-takeover is
 * stale in turn and taken over one level deeper.
 */
function claim(target: string, tmpPath: string, depth: number): Holder | undefined {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (tryLink(tmpPath, target)) {
            return undefined;
        }
        const content = readContent(target);
        if (content === undefined) {
            continue;
        }
        const holder = parseHolder(content);
        if (holder !== undefined && isAlive(holder)) {
            return holder;
        }
        if (depth >= MAX_TAKEOVER_DEPTH) {
            break;
        }
        const guard = `${target}.takeover-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
        const rival = claim(guard, tmpPath, depth + 1);
        if (rival !== undefined) {
            // Another opener is taking this stale lock over right now and will hold the store.
            return rival;
        }
        try {
            if (readContent(target) === content) {
                fs.rmSync(target, { force: true });
            }
        } finally {
            fs.rmSync(guard, { force: true });
        }
    }
    throw new Error(`could not acquire lock ${target}; if no process uses the store, remove ${target} and its .takeover-* files`);
}

export const STORE_LOCK_FILE = 'store.lock';

/**
 * Exclusive pid lock on a store folder. A lock whose process is gone (exited, killed, zombie, or a pid since
 * reused by another program) is stale and taken over; of several openers racing for one folder exactly one wins.
 */
export function acquireDirLock(dir: string, fileName = STORE_LOCK_FILE): DirLock {
    ensurePrivateDir(dir);
    const lockPath = path.join(dir, fileName);
    const content = ownContent();
    const tmpPath = `${lockPath}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    // The file is fully written before it is linked in, so no opener ever reads a half-written lock.
    fs.writeFileSync(tmpPath, content, { mode: 0o600, flag: 'wx' });
    try {
        const holder = claim(lockPath, tmpPath, 0);
        if (holder !== undefined) {
            throw new StoreInUseError(dir, holder.pid);
        }
        return {
            path: lockPath,
            release: () => {
                if (readContent(lockPath) === content) {
                    fs.rmSync(lockPath, { force: true });
                }
            }
        };
    } finally {
        fs.rmSync(tmpPath, { force: true });
    }
}

/**
 * Removes `lockPath` if this process holds it, whichever of its threads took it. For a process that exits while
 * a worker thread holds the lock: the thread is stopped without running its own release.
 */
export function releaseIfHeldByThisProcess(lockPath: string): void {
    const content = readContent(lockPath);
    const holder = content === undefined ? undefined : parseHolder(content);
    const self = thisRunner();
    if (holder?.pid === self.pid && holder.startTime === self.startTime) {
        fs.rmSync(lockPath, { force: true });
    }
}

/** Whether a process recorded as `{ pid, startTime }` still runs: the lock's rule, for a sync run's runner too. */
export function isProcessAlive(identity: Holder): boolean {
    return isAlive(identity);
}

/** This process as a lock or a run records it: the pid, and its start time where the system tells it. */
export function thisRunner(): Holder {
    const self = procState(process.pid);
    return typeof self === 'object' ? { pid: process.pid, startTime: self.startTime } : { pid: process.pid };
}
