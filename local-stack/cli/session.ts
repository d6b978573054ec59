import fetchData from '../../nango-integrations/clari-copilot/syncs/calls.js';
import { createClariProxy, type ClariProxy, type RecordStore } from '../nango-server/index.js';
import type { Persist } from '../runner/persist.js';
import { runSync, type RunSyncResult } from '../runner/run-sync.js';
import { PROVIDER_CONFIG_KEY, SYNC_NAME, type ClariTarget } from './config.js';
import { SyncProgress } from './progress.js';

export interface SyncSession {
    /** The store in this process, or the local Nango's persist API when a server owns the store. */
    persist: Persist;
    connectionId: string;
    /** How this process reaches Clari: directly with the credentials, or through the local Nango's proxy. */
    proxy: ClariProxy;
    metadata?: Record<string, unknown> | undefined;
}

/** The local equivalent of creating a Nango connection: the proxy reads the credentials from it. */
export async function registerConnection(store: RecordStore, connectionId: string, clari: ClariTarget): Promise<void> {
    await store.upsertConnection({
        connectionId,
        providerConfigKey: PROVIDER_CONFIG_KEY,
        provider: PROVIDER_CONFIG_KEY,
        apiKey: clari.apiKey,
        apiPassword: clari.apiPassword
    });
}

/** Clari straight from this process, for a runner that owns the store itself. */
export function directProxy(clari: ClariTarget): ClariProxy {
    return createClariProxy({ baseUrl: clari.baseUrl, credentials: clari });
}

/** One run of the real `calls` sync through the local runner, with a live progress display. */
export async function runSyncWithProgress(session: SyncSession): Promise<RunSyncResult> {
    const progress = new SyncProgress();
    try {
        const result = await runSync({
            persist: session.persist,
            connectionId: session.connectionId,
            providerConfigKey: PROVIDER_CONFIG_KEY,
            syncName: SYNC_NAME,
            metadata: session.metadata,
            proxy: session.proxy,
            fetchData,
            onEvent: progress.onEvent
        });
        progress.stop();
        const { added, updated, unchanged, deleted } = result.counts;
        console.log(progress.summaryLine ?? 'The sync finished without a summary line.');
        console.log(`Record store: ${added} added, ${updated} updated, ${unchanged} unchanged, ${deleted} deleted.`);
        return result;
    } catch (error) {
        progress.stop();
        if (progress.summaryLine) {
            console.log(progress.summaryLine);
        }
        throw error;
    }
}
