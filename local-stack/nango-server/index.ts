export {
    createClariProxy,
    ProxyNetworkError,
    ProxyTargetError,
    NANGO_BASE_DELAY_MS,
    type ClariCredentials,
    type ClariProxy,
    type ClariProxyOptions,
    type ProxyAttempt,
    type ProxyRequest,
    type ProxyResponse
} from './proxy.js';
export { startAutoPrune, DAY_MS, type AutoPrune, type AutoPruneOptions } from './auto-prune.js';
export {
    createNangoServer,
    startNangoServer,
    DEFAULT_PORT,
    DEFAULT_PROVIDER_CONFIG_KEY,
    type NangoServerOptions,
    type RunningNangoServer,
    type StartNangoServerOptions
} from './server.js';
export { openStore, DEFAULT_STORE_DIR, StoreInUseError, type LocalStore, type OpenStoreOptions } from './database.js';
export { openStoreInThread, StoreThreadStoppedError } from './store-thread.js';
export {
    InvalidCursorError,
    type ListRecordsQuery,
    type ListRecordsResult,
    type NangoRecord,
    type NewestFirstPage,
    type NewestFirstQuery,
    type PruneQuery,
    type PruneResult,
    type RecordsStore,
    type SaveSummary
} from './records.js';
export { UnknownConnectionError, type ConnectionsStore, type StoredConnection } from './connections.js';
export {
    RUN_STALE_AFTER_MS,
    RUN_TRIGGERS,
    SyncAlreadyRunningError,
    type RunLogLine,
    type RunsStore,
    type RunTrigger,
    type StartedRun,
    type SyncRun
} from './runs.js';
export {
    type DeployedFlow,
    type DeployedFlowEndpoint,
    type DeployedFlowKey,
    type DeployedFlowType,
    type DeployFlowInput,
    type DeployFlowsResult,
    type DeploymentsStore
} from './deployments.js';
export { StoreDamagedError } from './store-folder.js';
