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
export {
    openStore,
    DEFAULT_STORE_DIR,
    InvalidCursorError,
    StoreInUseError,
    SyncAlreadyRunningError,
    UnknownConnectionError,
    RUN_STALE_AFTER_MS,
    type DeployedFlow,
    type DeployedFlowEndpoint,
    type DeployedFlowKey,
    type DeployedFlowType,
    type DeployFlowInput,
    type DeployFlowsResult,
    type ListRecordsQuery,
    type ListRecordsResult,
    type NangoRecord,
    type OpenStoreOptions,
    type PruneQuery,
    type PruneResult,
    type RecordStore,
    type SearchRecordsQuery,
    type RunLogLine,
    type SaveSummary,
    type StartedRun,
    type SyncRun,
    type StoredConnection
} from './store.js';
export { StoreDamagedError } from './store-folder.js';
