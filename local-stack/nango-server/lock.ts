import fs from 'node:fs';
import path from 'node:path';

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

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        // EPERM means the process exists but belongs to someone else: still alive.
        return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
}

function readPid(lockPath: string): number | undefined {
    try {
        const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Exclusive pid lock on a store folder. Creation goes through a hard link so that the lock file
 * appears atomically with its pid already written: a concurrent opener never reads an empty lock.
 */
export function acquireDirLock(dir: string, fileName = 'store.lock'): DirLock {
    fs.mkdirSync(dir, { recursive: true });
    const lockPath = path.join(dir, fileName);
    const tmpPath = `${lockPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmpPath, `${process.pid}\n`);
    try {
        for (let attempt = 0; attempt < 5; attempt++) {
            try {
                fs.linkSync(tmpPath, lockPath);
                return {
                    path: lockPath,
                    release: () => {
                        if (readPid(lockPath) === process.pid) {
                            fs.rmSync(lockPath, { force: true });
                        }
                    }
                };
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
                    throw err;
                }
            }
            const holder = readPid(lockPath);
            if (holder !== undefined && isAlive(holder)) {
                throw new StoreInUseError(dir, holder);
            }
            // Stale lock (dead pid or unreadable): take it over and try again.
            fs.rmSync(lockPath, { force: true });
        }
        throw new Error(`could not acquire lock ${lockPath}`);
    } finally {
        fs.rmSync(tmpPath, { force: true });
    }
}

/** Placeholder until the sound lock lands: kill(pid, 0) alone. */
export function isProcessAlive(runner: { pid: number; startTime?: string | undefined }): boolean {
    try {
        process.kill(runner.pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** This process, as a run records its runner. */
export function thisRunner(): { pid: number } {
    return { pid: process.pid };
}
