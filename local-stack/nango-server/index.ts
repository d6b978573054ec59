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
    UnknownConnectionError,
    type ListRecordsQuery,
    type ListRecordsResult,
    type NangoRecord,
    type OpenStoreOptions,
    type RecordStore,
    type SaveSummary,
    type StoredConnection
} from './store.js';
export { StoreDamagedError } from './store-folder.js';
