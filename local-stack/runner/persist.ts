import type { LocalStore } from '../nango-server/database.js';
import type { ConnectionsStore } from '../nango-server/connections.js';
import type { RecordsStore } from '../nango-server/records.js';
import type { RunsStore } from '../nango-server/runs.js';

/**
 * What a running sync writes through and reads back, like Nango's persist service: the records, the
 * connection's metadata, and the run's bookkeeping and logs. In-process it is the store itself
 * (`storePersist`); beside a running local Nango it is that server, over HTTP (`http-persist.ts`), so
 * the store keeps one owner.
 */
export type Persist = Pick<RecordsStore, 'saveRecords' | 'deleteRecords' | 'deleteRecordsFromPreviousExecutions' | 'listRecords'> &
    Pick<ConnectionsStore, 'getMetadata'> &
    Pick<RunsStore, 'startRun' | 'heartbeatRun' | 'finishRun' | 'appendRunLogs'>;

/** The persist of a runner in the store's own process: the store's modules, each method of its own. */
export function storePersist(store: Pick<LocalStore, 'records' | 'connections' | 'runs'>): Persist {
    const { records, connections, runs } = store;
    return {
        saveRecords: (...args) => records.saveRecords(...args),
        deleteRecords: (...args) => records.deleteRecords(...args),
        deleteRecordsFromPreviousExecutions: (...args) => records.deleteRecordsFromPreviousExecutions(...args),
        listRecords: (...args) => records.listRecords(...args),
        getMetadata: (...args) => connections.getMetadata(...args),
        startRun: (...args) => runs.startRun(...args),
        heartbeatRun: (...args) => runs.heartbeatRun(...args),
        finishRun: (...args) => runs.finishRun(...args),
        appendRunLogs: (...args) => runs.appendRunLogs(...args)
    };
}
