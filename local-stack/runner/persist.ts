import type { CheckpointValue, SavedCheckpoint, StoredCheckpoint } from '../nango-server/checkpoints.js';
import { UnknownConnectionError, type ConnectionsStore } from '../nango-server/connections.js';
import type { LocalStore } from '../nango-server/database.js';
import type { RecordsStore } from '../nango-server/records.js';
import type { RunsStore, RunTrigger } from '../nango-server/runs.js';

/**
 * What a running sync writes through and reads back, like Nango's persist service: the records, the
 * connection's metadata, its checkpoints, and the run's bookkeeping and logs. In-process it is the store
 * itself (`storePersist`); beside a running local Nango it is that server, over HTTP (`http-persist.ts`),
 * so the store keeps one owner.
 */

/** A checkpoint as the runner names it: Nango's persist addresses it by the connection's numeric id, found from these. */
export interface CheckpointRef {
    connectionId: string;
    providerConfigKey: string;
    key: string;
}

export interface CheckpointPersist {
    /** Undefined when the key was never written; a cleared one comes back with `deletedAt`. */
    getCheckpoint(ref: CheckpointRef): Promise<StoredCheckpoint | undefined>;
    /** Throws CheckpointConflictError when another writer moved the version first. */
    putCheckpoint(ref: CheckpointRef, checkpoint: CheckpointValue, expectedVersion: number): Promise<SavedCheckpoint>;
    /** False when there was nothing to clear. Throws CheckpointConflictError on a stale version. */
    deleteCheckpoint(ref: CheckpointRef, expectedVersion: number): Promise<boolean>;
}

export type Persist = Pick<RecordsStore, 'saveRecords' | 'deleteRecords' | 'deleteRecordsFromPreviousExecutions' | 'listRecords'> &
    Pick<ConnectionsStore, 'getMetadata'> &
    Pick<RunsStore, 'startRun' | 'heartbeatRun' | 'finishRun' | 'appendRunLogs'> &
    CheckpointPersist;

/** The persist of a runner in the store's own process: the store's modules, each method of its own. */
export function storePersist(store: Pick<LocalStore, 'records' | 'connections' | 'runs' | 'checkpoints'>): Persist {
    const { records, connections, runs, checkpoints } = store;
    const nangoConnectionId = async (ref: CheckpointRef): Promise<number> => {
        const connection = await connections.getConnection(ref.connectionId, ref.providerConfigKey);
        if (!connection) {
            throw new UnknownConnectionError(ref.connectionId, ref.providerConfigKey);
        }
        return connection.id;
    };
    return {
        saveRecords: (...args) => records.saveRecords(...args),
        deleteRecords: (...args) => records.deleteRecords(...args),
        deleteRecordsFromPreviousExecutions: (...args) => records.deleteRecordsFromPreviousExecutions(...args),
        listRecords: (...args) => records.listRecords(...args),
        getMetadata: (...args) => connections.getMetadata(...args),
        startRun: (...args) => runs.startRun(...args),
        heartbeatRun: (...args) => runs.heartbeatRun(...args),
        finishRun: (...args) => runs.finishRun(...args),
        appendRunLogs: (...args) => runs.appendRunLogs(...args),
        getCheckpoint: async (ref) => checkpoints.getCheckpoint(await nangoConnectionId(ref), ref.key),
        putCheckpoint: async (ref, checkpoint, expectedVersion) =>
            checkpoints.putCheckpoint(await nangoConnectionId(ref), ref.key, checkpoint, expectedVersion),
        deleteCheckpoint: async (ref, expectedVersion) =>
            checkpoints.deleteCheckpoint(await nangoConnectionId(ref), ref.key, expectedVersion)
    };
}

/** `persist`, recording every run it starts as started by `trigger` (whoever calls runSync knows what started it). */
export function startingRunsAs(trigger: RunTrigger, persist: Persist): Persist {
    return { ...persist, startRun: (connectionId, syncName, runner) => persist.startRun(connectionId, syncName, runner, trigger) };
}
