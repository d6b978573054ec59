import { CheckpointConflictError, UnknownNangoConnectionError, type CheckpointsStore } from './checkpoints.js';
import { UnknownConnectionError, type ConnectionsStore } from './connections.js';
import type { DeploymentsStore } from './deployments.js';
import { StoreInUseError } from './lock.js';
import { InvalidCursorError } from './record-codec.js';
import type { RecordsStore } from './records.js';
import { SyncAlreadyRunningError, type RunsStore, type SyncRun } from './runs.js';
import { StoreDamagedError } from './store-folder.js';
import type { WireStore } from './wire.js';

/**
 * What the store's thread and the thread using it say to each other (store-thread.ts, store-worker.ts).
 * Arguments, results and errors cross by structured clone, which keeps Dates and Maps but not classes.
 */

/**
 * Every method of every store area that crosses the thread boundary. `satisfies` makes a method added to an
 * area's interface a compile error here until it is listed, so the remote store never lacks one.
 */
export const REMOTE_METHODS = {
    records: {
        saveRecords: true,
        deleteRecords: true,
        deleteRecordsFromPreviousExecutions: true,
        listRecords: true,
        countLiveRecords: true,
        runChanges: true,
        pruneRecords: true,
        pruneStale: true,
        listNewestFirst: true
    } satisfies Record<keyof RecordsStore, true>,
    connections: {
        upsertConnection: true,
        getConnection: true,
        getMetadata: true,
        setMetadata: true,
        updateMetadata: true,
        countConnections: true,
        listConnectionIds: true
    } satisfies Record<keyof ConnectionsStore, true>,
    // onRunFinished takes a listener, which cannot cross: the store thread reports every finished run instead.
    runs: {
        startRun: true,
        heartbeatRun: true,
        finishRun: true,
        appendRunLogs: true,
        runLogs: true,
        listRuns: true,
        lastSuccessfulRunStart: true,
        recordWebhookAttempt: true,
        webhookAttempts: true
    } satisfies Record<Exclude<keyof RunsStore, 'onRunFinished'>, true>,
    deployments: {
        deployFlows: true,
        listDeployedFlows: true,
        getDeployedFlow: true
    } satisfies Record<keyof DeploymentsStore, true>,
    checkpoints: {
        getCheckpoint: true,
        putCheckpoint: true,
        deleteCheckpoint: true,
        clearSyncCheckpoints: true
    } satisfies Record<keyof CheckpointsStore, true>,
    wire: {
        saveRecordsBody: true,
        listRecordsJson: true
    } satisfies Record<keyof WireStore, true>
};

export type StoreArea = keyof typeof REMOTE_METHODS;

export function isRemoteMethod(area: string, method: string): area is StoreArea {
    return Object.hasOwn(REMOTE_METHODS, area) && Object.hasOwn(REMOTE_METHODS[area as StoreArea], method);
}

/**
 * The buffers among `values` that a message hands over instead of copying. A save body or a `GET /records` answer is
 * megabytes, and a copy stays on the sending side too until that thread collects it. Only a buffer a view owns whole
 * moves: a small Buffer is a slice of Node's shared pool, which must stay where it is.
 */
export function movableBuffers(values: readonly unknown[]): ArrayBuffer[] {
    return values.flatMap((value) =>
        value instanceof Uint8Array &&
        value.buffer instanceof ArrayBuffer &&
        value.byteOffset === 0 &&
        value.byteLength === value.buffer.byteLength
            ? [value.buffer]
            : []
    );
}

export interface StoreThreadOptions {
    dir: string;
    chunkSize?: number | undefined;
}

export interface SerializedError {
    name: string;
    message: string;
    stack: string | undefined;
    /** The error's own fields (`dir`, `pid`, `runningSince`...), so that callers can still read them. */
    fields: Record<string, unknown>;
}

export type ToStoreThread = { kind: 'call'; id: number; area: StoreArea; method: string; args: unknown[] } | { kind: 'close' };

export type FromStoreThread =
    | { kind: 'opened'; dir: string }
    | { kind: 'open-failed'; error: SerializedError }
    | { kind: 'result'; id: number; value: unknown }
    | { kind: 'failure'; id: number; error: SerializedError }
    | { kind: 'run-finished'; run: SyncRun }
    | { kind: 'closed'; error?: SerializedError | undefined };

/** The errors callers tell apart with `instanceof`; any other arrives as an Error (or TypeError...) of the same name. */
const KNOWN_ERRORS: Readonly<Record<string, { prototype: Error }>> = {
    CheckpointConflictError,
    UnknownNangoConnectionError,
    UnknownConnectionError,
    StoreInUseError,
    StoreDamagedError,
    InvalidCursorError,
    SyncAlreadyRunningError,
    TypeError,
    RangeError
};

function cloneable(fields: Record<string, unknown>): Record<string, unknown> {
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) {
        try {
            kept[key] = structuredClone(value);
        } catch {
            // A field structured clone refuses (a function, a socket) stays behind; the message says what happened.
        }
    }
    return kept;
}

export function serializeError(err: unknown): SerializedError {
    if (err instanceof Error) {
        const { name: _name, message: _message, stack: _stack, ...fields } = err as Error & Record<string, unknown>;
        return { name: err.name, message: err.message, stack: err.stack, fields: cloneable(fields) };
    }
    return { name: 'Error', message: String(err), stack: undefined, fields: {} };
}

/** An error of the class it was thrown as, with its fields, message and the store thread's stack. */
export function reviveError(serialized: SerializedError): Error {
    const known = KNOWN_ERRORS[serialized.name];
    const error = Object.assign(Object.create(known ? known.prototype : Error.prototype) as Error, serialized.fields);
    for (const [key, value] of Object.entries({ name: serialized.name, message: serialized.message, stack: serialized.stack })) {
        Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: false });
    }
    return error;
}

/**
 * How much lower than the rest of the process the store's thread runs, on Linux, where each thread has a nice
 * value of its own. When the CPUs are busy, a write then waits for the thread serving the API and the Clari proxy
 * (and for the sync's runner), not the other way round: on 2 CPUs at 100 requests a second the server's event loop
 * and the first sync's pace both did a little better in runs alternated in the same hour (bench/README.md).
 */
export const STORE_THREAD_NICE_STEP = 10;
