import { access } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

import { openStore, type LocalStore } from './database.js';
import {
    isRemoteMethod,
    movableBuffers,
    serializeError,
    type FromStoreThread,
    STORE_THREAD_NICE_STEP,
    type StoreThreadOptions,
    type ToStoreThread
} from './store-protocol.js';

/**
 * The store's own thread (started by store-thread.ts): it opens the store and answers calls one message at a
 * time, so that PGlite's synchronous work never stalls the thread serving the API and the Clari proxy.
 */

if (!parentPort) {
    throw new Error('store-worker.ts runs as a worker thread; use openStoreInThread');
}
const port = parentPort;
const send = (message: FromStoreThread, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(message, transfer);
};

function serve(store: LocalStore): void {
    store.runs.onRunFinished((run) => {
        send({ kind: 'run-finished', run });
    });
    port.on('message', (message: ToStoreThread) => {
        if (message.kind === 'close') {
            port.removeAllListeners('message');
            store.close().then(
                () => {
                    send({ kind: 'closed' });
                },
                (err: unknown) => {
                    send({ kind: 'closed', error: serializeError(err) });
                }
            );
            return;
        }
        if (!isRemoteMethod(message.area, message.method)) {
            send({
                kind: 'failure',
                id: message.id,
                error: serializeError(new TypeError(`the store has no ${String(message.area)}.${message.method}`))
            });
            return;
        }
        const area = store[message.area] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        Promise.resolve()
            .then(() => area[message.method]?.(...message.args))
            .then(
                (value) => {
                    send({ kind: 'result', id: message.id, value }, movableBuffers([value]));
                },
                (err: unknown) => {
                    send({ kind: 'failure', id: message.id, error: serializeError(err) });
                }
            );
    });
    send({ kind: 'opened', dir: store.dir });
}

/**
 * Lowers this thread's priority (STORE_THREAD_NICE_STEP). Only on Linux, where each thread has a nice value of its
 * own: elsewhere this would lower the whole process. libuv's thread pool is started by the first thread that queues
 * work on it, and its threads keep that thread's nice value; it is started first, so that only this thread runs lower.
 * The npm scripts that run a store pass `--single-threaded-gc`: V8's parallel and concurrent collectors run on the
 * process's shared helper threads, at the usual priority, so this thread's garbage (megabytes per page of calls)
 * was collected at the priority of the thread it should yield to.
 */
async function lowerThisThread(dir: string): Promise<void> {
    if (process.platform !== 'linux') {
        return;
    }
    await access(dir).catch(() => undefined);
    try {
        setPriority(0, Math.min(19, getPriority(0) + STORE_THREAD_NICE_STEP));
    } catch {
        // A sandbox may refuse; the store works the same at the usual priority.
    }
}

const options = workerData as StoreThreadOptions;
lowerThisThread(options.dir)
    .then(() => openStore({ dir: options.dir, ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }) }))
    .then(serve, (err: unknown) => {
        send({ kind: 'open-failed', error: serializeError(err) });
    });
