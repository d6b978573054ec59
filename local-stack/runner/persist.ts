import type { RecordStore } from '../nango-server/store.js';

/**
 * What a running sync writes through and reads back, like Nango's persist service: the records, the
 * connection's metadata, and the run's bookkeeping and logs. In-process it is the store itself; beside a
 * running local Nango it is that server, over HTTP (`http-persist.ts`), so the store keeps one owner.
 */
export type Persist = Pick<
    RecordStore,
    | 'saveRecords'
    | 'deleteRecords'
    | 'deleteRecordsFromPreviousExecutions'
    | 'listRecords'
    | 'getMetadata'
    | 'startRun'
    | 'heartbeatRun'
    | 'finishRun'
    | 'appendRunLogs'
>;
