export { createClariEmulator, startClariEmulator, type ClariEmulator, type RunningClariEmulator, type StartOptions } from './server.js';
export { DEFAULT_CREDENTIALS, DEFAULT_RATE, EmulatorRuntime, type ClariEmulatorOptions } from './runtime.js';
export { DEFAULT_DATASET, type DatasetOptions, type CorruptionKind } from './dataset.js';
export { CallStore, type MutationRequest, type MutationResult, type MutationOp } from './state.js';
export type { ScheduledMutation, ScheduledMutationStatus } from './mutation-queue.js';
export {
    parseFaultSpec,
    parseLatency,
    type FaultRule,
    type FaultRuleState,
    type FaultKind,
    type ListingFault,
    type LatencyConfig,
    type LatencyRange,
    type RateLimitConfig
} from './faults.js';
export type { StatsSnapshot } from './stats.js';
export {
    clariWeek,
    clariWeekStart,
    WEEK_MS,
    WeeklyQuota,
    type QuotaRetryAfter,
    type QuotaSettings,
    type QuotaStatus,
    type QuotaWeek
} from './quota.js';
export type * from './types.js';
