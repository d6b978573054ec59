import { createClariProxy } from '../nango-server/proxy.js';
import type { RunJob, SyncJob } from '../nango-server/scheduler.js';
import type { LocalStore } from '../nango-server/database.js';
import type { RunnerEvent } from './events.js';
import { startingRunsAs, storePersist } from './persist.js';
import { runSync, type RunSyncResult } from './run-sync.js';
import { loadBundledSync, type SyncEntry } from './sandbox.js';

/** What a caller sees of one scheduled run: its events as they come, then how it ended. */
export interface RunObserver {
    onEvent?: ((event: RunnerEvent) => void) | undefined;
    finished?: ((outcome: { result: RunSyncResult } | { error: unknown }) => void) | undefined;
}

export interface DeployedRunnerOptions {
    store: LocalStore;
    /** Where the proxy sends the sync's requests, with the connection's credentials. */
    clariBaseUrl: string;
    observe?: ((job: SyncJob) => RunObserver) | undefined;
    /** NANGO_LOCAL_RUN_TIMEOUT_S in milliseconds; undefined for no limit. */
    timeoutMs?: number | undefined;
    /** The sync's clock inside its sandbox (default: the real one), for simulated weeks. */
    now?: (() => number) | undefined;
}

/**
 * Runs a deployed sync as Nango's runner does: the JS that `nango deploy` stored, in the sandbox, with
 * a NangoSync whose writes go to the store this server owns and whose requests go through its proxy.
 */
export function deployedSyncRunner(options: DeployedRunnerOptions): RunJob {
    // One compiled bundle per deployed version: a redeploy changes deployedAt and brings in the new code.
    const loaded = new Map<string, SyncEntry>();
    const entryFor = (job: SyncJob): SyncEntry => {
        const key = `${job.flow.providerConfigKey}/${job.flow.name}@${job.flow.deployedAt.toISOString()}`;
        let entry = loaded.get(key);
        if (!entry) {
            entry = loadBundledSync(
                job.flow.js,
                `${job.flow.name}-${job.flow.providerConfigKey}.js`,
                options.now ? { now: options.now } : {}
            );
            loaded.set(key, entry);
        }
        return entry;
    };

    return async (job) => {
        const connection = await options.store.connections.getConnection(job.connectionId, job.flow.providerConfigKey);
        if (!connection) {
            throw new Error(`connection ${job.connectionId} of ${job.flow.providerConfigKey} no longer exists`);
        }
        const observer = options.observe?.(job) ?? {};
        const proxy = createClariProxy({
            baseUrl: options.clariBaseUrl,
            credentials: { apiKey: connection.apiKey, apiPassword: connection.apiPassword }
        });
        try {
            const result = await runSync({
                persist: startingRunsAs(job.trigger, storePersist(options.store)),
                proxy,
                connectionId: job.connectionId,
                providerConfigKey: job.flow.providerConfigKey,
                syncName: job.flow.name,
                fetchData: entryFor(job),
                fullRefresh: job.mode === 'full_refresh',
                timeoutMs: options.timeoutMs,
                onEvent: observer.onEvent
            });
            observer.finished?.({ result });
            return { interrupted: result.interrupted };
        } catch (error) {
            observer.finished?.({ error });
            throw error;
        } finally {
            proxy.close();
        }
    };
}
