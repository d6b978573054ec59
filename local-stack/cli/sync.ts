import path from 'node:path';

import { openStoreInThread } from '../nango-server/index.js';
import {
    createHttpPersist,
    createServerProxy,
    probeLocalNango,
    registerRemoteConnection,
    type LocalNangoInfo
} from '../runner/http-persist.js';
import {
    ConfigError,
    loadDotEnv,
    parseSyncFlags,
    PROVIDER_CONFIG_KEY,
    readEnv,
    realClariTarget,
    runTimeoutMs,
    webhookSettingsFromEnv,
    type LocalEnv
} from './config.js';
import { attachSyncWebhooks } from '../nango-server/sync-webhooks.js';
import { startingRunsAs, storePersist } from '../runner/persist.js';
import { runCommand } from './errors.js';
import { deployedSync, directProxy, registerConnection, runSyncWithProgress } from './session.js';

const USAGE = `npm run sync -- [--metadata '<json>' | --metadata-file <path>]

Runs the calls sync once. When a local Nango (npm start or npm run serve) is running on NANGO_LOCAL_PORT
for the same NANGO_LOCAL_DB, the run goes through it: its store, its connection and its proxy, and its
records API shows the run's batches as they are saved. Otherwise this command opens the store itself and
calls CLARI_BASE_URL (default: the real Clari Copilot API) with CLARI_API_KEY and CLARI_API_PASSWORD.
One run of a connection at a time: a second one is refused while the first is alive.
Exit code 0 on success, 1 when the run fails, 2 on a configuration error.`;

runCommand('sync', async () => {
    loadDotEnv();
    const flags = parseSyncFlags(process.argv.slice(2), USAGE);
    if (flags.help) {
        return;
    }
    const { metadata } = flags;
    const env = readEnv();
    const server = {
        url: `http://127.0.0.1:${env.NANGO_LOCAL_PORT}`,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        providerConfigKey: PROVIDER_CONFIG_KEY
    };
    const info = await probeLocalNango(server);
    if (info) {
        await syncThroughServer(env, { ...server, info }, metadata);
    } else {
        await syncWithOwnStore(env, metadata);
    }
});

async function syncThroughServer(
    env: LocalEnv,
    server: { url: string; secretKey: string; providerConfigKey: string; info: LocalNangoInfo },
    metadata: Record<string, unknown> | undefined
): Promise<void> {
    if (path.resolve(server.info.storeDir) !== path.resolve(env.NANGO_LOCAL_DB)) {
        throw new ConfigError(
            `the local Nango on port ${env.NANGO_LOCAL_PORT} owns the store ${server.info.storeDir}, not NANGO_LOCAL_DB=${env.NANGO_LOCAL_DB}; ` +
                'use the same NANGO_LOCAL_DB, or another NANGO_LOCAL_PORT'
        );
    }
    if (env.CLARI_BASE_URL !== undefined && new URL(env.CLARI_BASE_URL).origin !== new URL(server.info.clariBaseUrl).origin) {
        throw new ConfigError(
            `the local Nango on port ${env.NANGO_LOCAL_PORT} forwards to ${server.info.clariBaseUrl}, not CLARI_BASE_URL=${env.CLARI_BASE_URL}; ` +
                'restart it with that CLARI_BASE_URL, or unset it here'
        );
    }
    const clari = realClariTarget(env);
    await deployedSync();
    if (clari) {
        await registerRemoteConnection(server, env.NANGO_CONNECTION_ID, clari);
    }
    console.log(
        `Syncing through the local Nango at ${server.url} (store ${server.info.storeDir}, Clari ${server.info.clariBaseUrl}, ` +
            `connection ${env.NANGO_CONNECTION_ID}); its records API shows each batch as it is saved.`
    );
    await runSyncWithProgress({
        persist: startingRunsAs('cli', createHttpPersist(server)),
        proxy: createServerProxy(server, env.NANGO_CONNECTION_ID, server.info.clariBaseUrl),
        connectionId: env.NANGO_CONNECTION_ID,
        metadata,
        timeoutMs: runTimeoutMs(env)
    });
}

async function syncWithOwnStore(env: LocalEnv, metadata: Record<string, unknown> | undefined): Promise<void> {
    const clari = realClariTarget(env);
    if (!clari) {
        throw new ConfigError(
            'CLARI_API_KEY and CLARI_API_PASSWORD are not set. For your workspace, set them (and CLARI_BASE_URL if needed); ' +
                'for the emulator, run `npm run emulator` and use the URL and credentials it prints, or simply `npm start` ' +
                '(a second terminal can then run `npm run sync` with no credentials: it goes through the running local Nango).'
        );
    }
    await deployedSync();
    const store = await openStoreInThread({ dir: env.NANGO_LOCAL_DB });
    const proxy = directProxy(clari);
    // With no local Nango to send them, this process sends the run's webhooks itself, and waits for them before it exits.
    const settings = webhookSettingsFromEnv(env, (line) => {
        console.log(line);
    });
    const webhooks = settings ? attachSyncWebhooks(store, settings) : null;
    try {
        await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
        console.log(`Syncing Clari Copilot calls from ${clari.baseUrl} into ${env.NANGO_LOCAL_DB} (connection ${env.NANGO_CONNECTION_ID})`);
        await runSyncWithProgress({
            persist: startingRunsAs('cli', storePersist(store)),
            proxy,
            connectionId: env.NANGO_CONNECTION_ID,
            metadata,
            timeoutMs: runTimeoutMs(env)
        });
    } finally {
        proxy.close();
        await webhooks?.settle();
        await store.close();
    }
}
