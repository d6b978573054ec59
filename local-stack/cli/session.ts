import { PROVIDER } from '../../nango-integrations/clari-copilot/constants.js';
import { createClariProxy, type ClariProxy, type LocalStore } from '../nango-server/index.js';
import { loadDeployedSync } from '../runner/build.js';
import type { Persist } from '../runner/persist.js';
import { handOverLine, runSyncChain } from '../runner/run-chain.js';
import type { RunSyncResult } from '../runner/run-sync.js';
import type { SyncEntry } from '../runner/sandbox.js';
import { PROVIDER_CONFIG_KEY, SYNC_NAME, type ClariTarget } from './config.js';
import { SyncProgress } from './progress.js';
import { describeRun } from './run-words.js';

export interface SyncSession {
    /** The store in this process, or the local Nango's persist API when a server owns the store. */
    persist: Persist;
    connectionId: string;
    /** How this process reaches Clari: directly with the credentials, or through the local Nango's proxy. */
    proxy: ClariProxy;
    metadata?: Record<string, unknown> | undefined;
    /** NANGO_LOCAL_RUN_TIMEOUT_S in milliseconds; undefined for no limit. */
    timeoutMs?: number | undefined;
}

/** The local equivalent of creating a Nango connection: the proxy reads the credentials from it. */
export async function registerConnection(store: LocalStore, connectionId: string, clari: ClariTarget): Promise<void> {
    await store.connections.upsertConnection({
        connectionId,
        providerConfigKey: PROVIDER_CONFIG_KEY,
        provider: PROVIDER,
        apiKey: clari.apiKey,
        apiPassword: clari.apiPassword
    });
}

/** Clari straight from this process, for a runner that owns the store itself. */
export function directProxy(clari: ClariTarget): ClariProxy {
    return createClariProxy({ baseUrl: clari.baseUrl, credentials: clari });
}

let deployed: Promise<SyncEntry> | undefined;

/**
 * The sync as `nango deploy` would ship it: the compiled bundle, rebuilt first when its sources moved,
 * run in Nango's sandbox. Loaded once per process, like a deployed version that stays until redeployed.
 */
export function deployedSync(): Promise<SyncEntry> {
    deployed ??= loadDeployedSync({
        log: (line) => {
            console.log(line);
        }
    });
    return deployed;
}

/**
 * The real `calls` sync through the local runner, with a live progress display: one run, or under
 * NANGO_LOCAL_RUN_TIMEOUT_S as many executions as it takes, each interrupted one handing over to the next.
 */
export async function runSyncWithProgress(session: SyncSession): Promise<RunSyncResult> {
    const fetchData = await deployedSync();
    let progress = new SyncProgress();
    try {
        const { final: result } = await runSyncChain({
            persist: session.persist,
            connectionId: session.connectionId,
            providerConfigKey: PROVIDER_CONFIG_KEY,
            syncName: SYNC_NAME,
            metadata: session.metadata,
            proxy: session.proxy,
            fetchData,
            timeoutMs: session.timeoutMs,
            onEvent: (event) => {
                progress.onEvent(event);
            },
            onHandOver: (interrupted) => {
                progress.stop();
                console.log(handOverLine(interrupted));
                progress = new SyncProgress();
            }
        });
        progress.stop();
        describeRun(progress.summary, result.counts).forEach((line) => {
            console.log(line);
        });
        return result;
    } catch (error) {
        progress.stop();
        describeRun(progress.summary, null).forEach((line) => {
            console.log(line);
        });
        throw error;
    }
}
