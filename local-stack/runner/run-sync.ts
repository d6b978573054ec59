import type { NangoSync } from '../../nango-integrations/models.js';
import { PROVIDER, type ClariProxy } from '../nango-server/proxy.js';
import type { RecordStore } from '../nango-server/store.js';
import { emptyCounts, type RunCounts, type RunnerEvent } from './events.js';
import { LocalNangoSync } from './local-nango.js';

export type { RunCounts, RunnerEvent } from './events.js';
export { ProxyHttpError, ProxyRequestError } from './errors.js';
export { LocalNangoSync } from './local-nango.js';

export interface RunSyncOptions {
    store: RecordStore;
    connectionId: string;
    providerConfigKey: string;
    syncName: string;
    /**
     * Starting metadata, like `nango dryrun --metadata`: getMetadata returns it instead of reading the
     * store. setMetadata/updateMetadata always write to the store (the connection must exist there).
     */
    metadata?: Record<string, unknown> | undefined;
    proxy: ClariProxy;
    fetchData: (nango: NangoSync) => Promise<void>;
    onEvent?: ((event: RunnerEvent) => void) | undefined;
}

export interface RunSyncResult {
    runId: number;
    executionId: string;
    startedAt: Date;
    finishedAt: Date;
    /** What the sync saw as nango.lastSyncDate. */
    lastSyncDate: Date | undefined;
    counts: RunCounts;
}

function errorMessage(err: unknown): string {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Runs one execution of a sync against the local store, the way Nango's runner would: lastSyncDate is
 * the start of the last successful run, records are tagged with this run's execution id, and the run
 * is recorded as running, then success or failed.
 *
 * On failure the run is recorded as failed (lastSyncDate stays where it was) and the sync's error is
 * rethrown unchanged; records saved before the failure stay saved, as in Nango.
 */
export async function runSync(options: RunSyncOptions): Promise<RunSyncResult> {
    const { store, connectionId, syncName } = options;
    const emit = (event: RunnerEvent): void => {
        options.onEvent?.(event);
    };
    const lastSyncDate = await store.lastSuccessfulRunStart(connectionId, syncName);
    const run = await store.startRun(connectionId, syncName);
    const counts = emptyCounts();
    emit({ type: 'run-start', runId: run.runId, syncName, connectionId, lastSyncDate });

    const local = new LocalNangoSync({
        store,
        proxy: options.proxy,
        connectionId,
        providerConfigKey: options.providerConfigKey,
        provider: PROVIDER,
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
    try {
        await options.fetchData(nango);
    } catch (err) {
        const message = errorMessage(err);
        await store.finishRun(run.runId, 'failed', message);
        emit({ type: 'run-end', runId: run.runId, status: 'failed', durationMs: performance.now() - started, counts, error: message });
        throw err;
    }
    await store.finishRun(run.runId, 'success', JSON.stringify(counts));
    const finishedAt = new Date();
    emit({ type: 'run-end', runId: run.runId, status: 'success', durationMs: performance.now() - started, counts });
    return { runId: run.runId, executionId: run.executionId, startedAt: run.startedAt, finishedAt, lastSyncDate, counts };
}
