import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { DEFAULT_STORE_DIR, type LocalStore, type OpenStoreOptions } from './database.js';
import { releaseIfHeldByThisProcess, STORE_LOCK_FILE } from './lock.js';
import type { ConnectionsStore, StoredConnection } from './connections.js';
import type { RunFinishedListener, RunsStore } from './runs.js';
import {
    REMOTE_METHODS,
    movableBuffers,
    reviveError,
    type FromStoreThread,
    type StoreArea,
    type StoreThreadOptions,
    type ToStoreThread
} from './store-protocol.js';

/**
 * `openStore` with the database in a worker thread of its own. PGlite runs Postgres synchronously in WASM: a
 * batch of large records holds the thread that runs it for a few hundred milliseconds. The local Nango serves
 * its API and proxies every Clari request on the main thread, so the store lives beside it, as Nango's
 * persist and records services live apart from its server. Same interface, same errors (`instanceof` holds),
 * same folder lock; `runs.onRunFinished` listeners hear every run the store records, before `finishRun` returns.
 */

const WORKER_ENTRY = new URL('./store-worker.ts', import.meta.url).href;
/** Run from a bundle (local-stack/launch.mjs), the worker's own bundle lies beside this one and needs no loader. */
const BUNDLED_WORKER = import.meta.url.endsWith('.ts') ? null : new URL('./store-worker.mjs', import.meta.url);

// The worker starts without the parent's TypeScript loader (tsx's hooks do not follow it), so it registers
// tsx itself before importing its TypeScript entry.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import('tsx/esm/api')
    .then(({ register }) => { register(); return import(workerData.entry); })
    .catch((err) => { process.nextTick(() => { throw err; }); });
`;

interface RemoteAreas {
    records: LocalStore['records'];
    connections: ConnectionsStore;
    runs: Omit<RunsStore, 'onRunFinished'>;
    deployments: LocalStore['deployments'];
    checkpoints: LocalStore['checkpoints'];
    wire: LocalStore['wire'];
}

export class StoreThreadStoppedError extends Error {
    override name = 'StoreThreadStoppedError';
}

interface Pending {
    resolve(value: unknown): void;
    reject(error: Error): void;
}

export async function openStoreInThread(options: OpenStoreOptions = {}): Promise<LocalStore> {
    const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
    const threadOptions: StoreThreadOptions = { dir, chunkSize: options.chunkSize };
    const worker =
        BUNDLED_WORKER === null
            ? new Worker(BOOTSTRAP, { eval: true, workerData: { ...threadOptions, entry: WORKER_ENTRY } })
            : new Worker(BUNDLED_WORKER, { workerData: threadOptions });

    const pending = new Map<number, Pending>();
    const listeners = new Set<RunFinishedListener>();
    let nextId = 1;
    let stopped: Error | null = null;
    let onOpen: { resolve(): void; reject(error: Error): void } | null = null;
    let onClose: { resolve(): void; reject(error: Error): void } | null = null;

    // The thread keeps the process alive only while a call waits on it, as an idle in-process store would not.
    const updateRef = (): void => {
        if (pending.size > 0 || onOpen !== null || onClose !== null) {
            worker.ref();
        } else {
            worker.unref();
        }
    };

    const stop = (error: Error): void => {
        stopped ??= error;
        for (const call of pending.values()) {
            call.reject(stopped);
        }
        pending.clear();
        onOpen?.reject(stopped);
        onOpen = null;
    };

    worker.on('message', (message: FromStoreThread) => {
        switch (message.kind) {
            case 'opened':
                onOpen?.resolve();
                onOpen = null;
                break;
            case 'open-failed':
                onOpen?.reject(reviveError(message.error));
                onOpen = null;
                break;
            case 'result':
            case 'failure': {
                const call = pending.get(message.id);
                pending.delete(message.id);
                if (message.kind === 'result') {
                    call?.resolve(message.value);
                } else {
                    call?.reject(reviveError(message.error));
                }
                break;
            }
            case 'run-finished':
                for (const listener of listeners) {
                    try {
                        listener(message.run);
                    } catch {
                        // A listener's mistake is its own, as with the in-process store.
                    }
                }
                break;
            case 'closed':
                stopped ??= new StoreThreadStoppedError(`the store ${dir} is closed`);
                if (message.error) {
                    onClose?.reject(reviveError(message.error));
                } else {
                    onClose?.resolve();
                }
                onClose = null;
                break;
        }
        updateRef();
    });
    worker.on('error', (err) => {
        stop(new StoreThreadStoppedError(`the store thread for ${dir} failed: ${err.message}`, { cause: err }));
    });
    worker.on('exit', (code) => {
        stop(new StoreThreadStoppedError(`the store thread for ${dir} exited (code ${code})`));
        onClose?.resolve();
        onClose = null;
    });

    await new Promise<void>((resolve, reject) => {
        onOpen = { resolve, reject };
    }).catch(async (err: unknown) => {
        await worker.terminate();
        throw err;
    });
    // A process that exits with the store open (a second Ctrl-C, process.exit) stops the thread mid-way, before
    // it can release the folder's lock; the next opener would take a stale lock over, but leaving none is tidier.
    const releaseLockOnExit = (): void => {
        releaseIfHeldByThisProcess(path.join(dir, STORE_LOCK_FILE));
    };
    process.once('exit', releaseLockOnExit);
    worker.once('exit', () => {
        process.removeListener('exit', releaseLockOnExit);
    });
    updateRef();

    const call = (area: StoreArea, method: string, args: unknown[]): Promise<unknown> => {
        if (stopped) {
            return Promise.reject(stopped);
        }
        const id = nextId++;
        const message: ToStoreThread = { kind: 'call', id, area, method, args };
        return new Promise((resolve, reject) => {
            pending.set(id, { resolve, reject });
            updateRef();
            // The caller's bytes move to the store thread: it must not read them after this call.
            worker.postMessage(message, movableBuffers(args));
        });
    };

    // Every call crosses as (area, method, args): the area's methods are built from REMOTE_METHODS' names.
    const remoteArea = <A extends StoreArea>(area: A): RemoteAreas[A] =>
        Object.fromEntries(
            Object.keys(REMOTE_METHODS[area]).map((method) => [method, (...args: unknown[]) => call(area, method, args)])
        ) as RemoteAreas[A];

    const runs: RunsStore = {
        ...remoteArea('runs'),
        onRunFinished(listener) {
            listeners.add(listener);
            return () => listeners.delete(listener);
        }
    };

    return {
        dir,
        records: remoteArea('records'),
        connections: withConnectionCache(remoteArea('connections')),
        runs,
        deployments: remoteArea('deployments'),
        checkpoints: remoteArea('checkpoints'),
        wire: remoteArea('wire'),
        async close() {
            if (stopped) {
                return;
            }
            const closed = new Promise<void>((resolve, reject) => {
                onClose = { resolve, reject };
            });
            updateRef();
            worker.postMessage({ kind: 'close' } satisfies ToStoreThread);
            try {
                await closed;
            } finally {
                await worker.terminate();
            }
        }
    };
}

/**
 * The proxy looks up the connection's credentials for every Clari request; behind a batch of record writes in
 * the store's queue, that lookup would hold the request for as long as the batch takes. Every write goes
 * through this process (it holds the folder's lock), so a copy kept here is current until one of them.
 */
function withConnectionCache(remote: ConnectionsStore): ConnectionsStore {
    const cache = new Map<string, Promise<StoredConnection | undefined>>();
    const key = (connectionId: string, providerConfigKey: string): string => JSON.stringify([connectionId, providerConfigKey]);
    const afterWrite = async <R>(write: () => Promise<R>): Promise<R> => {
        cache.clear();
        try {
            return await write();
        } finally {
            cache.clear();
        }
    };
    return {
        ...remote,
        async getConnection(connectionId, providerConfigKey) {
            const id = key(connectionId, providerConfigKey);
            let found = cache.get(id);
            if (found === undefined) {
                found = remote.getConnection(connectionId, providerConfigKey);
                cache.set(id, found);
                // A failed lookup is not remembered.
                found.catch(() => cache.delete(id));
            }
            const connection = await found;
            return connection === undefined ? undefined : structuredClone(connection);
        },
        upsertConnection: (...args) => afterWrite(() => remote.upsertConnection(...args)),
        setMetadata: (...args) => afterWrite(() => remote.setMetadata(...args)),
        updateMetadata: (...args) => afterWrite(() => remote.updateMetadata(...args))
    };
}
