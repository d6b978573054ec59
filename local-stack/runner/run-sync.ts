import { PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import type { NangoSync } from '../../nango-integrations/models.js';
import type { ClariProxy } from '../nango-server/proxy.js';
import { syncCheckpointKey } from '../nango-server/checkpoints.js';
import type { CheckpointRange, RunLogLine } from '../nango-server/runs.js';
import { RunCheckpoints } from './checkpointing.js';
import { emptyCounts, type RunCounts, type RunnerEvent } from './events.js';
import { ExecutionLimit, type ExecutionKilledError, type RunInterruptedError } from './execution-limit.js';
import { thisRunner } from '../nango-server/lock.js';
import { LocalNangoSync } from './local-nango.js';
import type { Persist } from './persist.js';

/** Well inside RUN_STALE_AFTER_MS, so a slow write or two never makes a live run look abandoned. */
const HEARTBEAT_MS = 5_000;

export type { RunCounts, RunnerEvent } from './events.js';
export { ProxyHttpError, ProxyRequestError } from './errors.js';
export { LocalNangoSync } from './local-nango.js';

export interface RunSyncOptions {
    /** The store itself, or the local Nango's persist API over HTTP. */
    persist: Persist;
    connectionId: string;
    /** Default: the integration's, from nango.yaml. */
    providerConfigKey?: string | undefined;
    /** Default: the integration's one sync. */
    syncName?: string | undefined;
    /** Metadata for this run, like `nango dryrun --metadata`: getMetadata returns it instead of reading the store. */
    metadata?: Record<string, unknown> | undefined;
    proxy: ClariProxy;
    fetchData: (nango: NangoSync) => Promise<void>;
    /** Nango's full refresh: the run sees no lastSyncDate, as on a first run. */
    fullRefresh?: boolean | undefined;
    /** NANGO_LOCAL_RUN_TIMEOUT_S in milliseconds: interrupt at 80% at a checkpoint, kill at 95%; undefined for no limit. */
    timeoutMs?: number | undefined;
    onEvent?: ((event: RunnerEvent) => void) | undefined;
}

export type { Persist } from './persist.js';

export interface RunSyncResult {
    runId: number;
    executionId: string;
    startedAt: Date;
    finishedAt: Date;
    /** What the sync saw as nango.lastSyncDate. */
    lastSyncDate: Date | undefined;
    counts: RunCounts;
    /** Ended at a checkpoint past 80% of the execution: a success, and the next execution should start at once. */
    interrupted: boolean;
    /** The checkpoints the run went through; undefined when the script never touched its checkpoint. */
    checkpoints: CheckpointRange | undefined;
}

function errorMessage(err: unknown): string {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Runs one execution of a sync through `persist`, the way Nango's runner would: lastSyncDate is the
 * start of the last successful run, records are tagged with this run's execution id, the run is
 * recorded as running (kept alive by heartbeats), then success or failed, and its log lines are kept.
 * A second run of the same sync and connection is refused while one is alive.
 *
 * On failure the run is recorded as failed (lastSyncDate stays where it was) and the sync's error is
 * rethrown unchanged; records saved before the failure stay saved, as in Nango.
 */
export async function runSync(options: RunSyncOptions): Promise<RunSyncResult> {
    const { persist, connectionId, providerConfigKey = PROVIDER_CONFIG_KEY, syncName = SYNC_NAME } = options;
    const run = await persist.startRun(connectionId, syncName, thisRunner());
    const lastSyncDate = options.fullRefresh ? undefined : run.lastSyncDate;
    let pendingLogs: RunLogLine[] = [];
    // Chained so that lines reach the store in order even when a heartbeat's flush is still in flight.
    let flushing: Promise<void> = Promise.resolve();
    const flushLogs = (): Promise<void> => {
        const lines = pendingLogs;
        pendingLogs = [];
        flushing = flushing.catch(() => undefined).then(() => persist.appendRunLogs(run.runId, lines));
        return flushing;
    };
    const emit = (event: RunnerEvent): void => {
        if (event.type === 'log') {
            pendingLogs.push({ level: event.level, message: event.message, createdAt: new Date() });
        }
        options.onEvent?.(event);
    };
    const heartbeat = setInterval(() => {
        // A missed beat is harmless: the next one, or the run's end, catches up.
        Promise.all([persist.heartbeatRun(run.runId), flushLogs()]).catch(() => undefined);
    }, HEARTBEAT_MS);
    const counts = emptyCounts();
    emit({ type: 'run-start', runId: run.runId, syncName, connectionId, lastSyncDate });

    const limit = new ExecutionLimit(options.timeoutMs);
    let killed: ExecutionKilledError | undefined;
    let ended = false;
    let interruption: RunInterruptedError | undefined;
    const runCheckpoints = new RunCheckpoints(persist, { connectionId, providerConfigKey, key: syncCheckpointKey(syncName) });
    const local = new LocalNangoSync({
        checkpoints: runCheckpoints,
        limit,
        assertAlive: () => {
            if (killed) {
                throw killed;
            }
            if (ended) {
                // As on Nango, an execution that has returned runs nothing more: work the script left behind stops here.
                throw new Error('the run has ended');
            }
        },
        onInterrupt: (error) => {
            interruption = error;
        },
        persist,
        proxy: options.proxy,
        connectionId,
        providerConfigKey,
        executionId: run.executionId,
        lastSyncDate,
        metadata: options.metadata,
        counts,
        emit
    });
    // The one boundary cast: LocalNangoSync implements the part of NangoSync a sync script calls, not
    // its internals (persist API, axios instance, Nango client), which the declared class exposes.
    const nango = local as unknown as NangoSync;

    const started = performance.now();
    // The script is not awaited past 95%: what it does after that is refused by assertAlive.
    const outcome = await Promise.race([
        options.fetchData(nango).then(
            () => ({ error: undefined }),
            (error: unknown) => ({ error })
        ),
        limit.killed.then((error) => {
            killed = error;
            return { error };
        })
    ]);
    ended = true;
    limit.stop();
    clearInterval(heartbeat);
    const checkpoints = runCheckpoints.range();
    const isInterrupted = outcome.error !== undefined && outcome.error === interruption;
    if (outcome.error !== undefined && !isInterrupted) {
        const message = errorMessage(outcome.error);
        await flushLogs();
        await persist.finishRun(run.runId, 'failed', message, { checkpoints, initial: lastSyncDate === undefined });
        emit({ type: 'run-end', runId: run.runId, status: 'failed', durationMs: performance.now() - started, counts, error: message });
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the sync's own error, rethrown unchanged as callers expect
        throw outcome.error;
    }
    if (isInterrupted) {
        emit({ type: 'log', level: 'info', message: interruption?.message ?? 'interrupted' });
    }
    await flushLogs();
    await persist.finishRun(run.runId, 'success', JSON.stringify(counts), {
        interrupted: isInterrupted,
        checkpoints,
        initial: lastSyncDate === undefined
    });
    const finishedAt = new Date();
    emit({
        type: 'run-end',
        runId: run.runId,
        status: 'success',
        durationMs: performance.now() - started,
        counts,
        ...(isInterrupted ? { interrupted: true } : {})
    });
    return {
        runId: run.runId,
        executionId: run.executionId,
        startedAt: run.startedAt,
        finishedAt,
        lastSyncDate,
        counts,
        interrupted: isInterrupted,
        checkpoints
    };
}
