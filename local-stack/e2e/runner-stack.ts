import type { RunningClariEmulator, StartOptions } from '../emulator/index.js';
import { dashboard } from '../dashboard/index.js';
import { openStore, startNangoServer, type LocalStore, type RunningNangoServer } from '../nango-server/index.js';
import { deployedSyncRunner } from '../runner/deployed-runner.js';
import type { WebhookSettings } from '../nango-server/sync-webhooks.js';
import { PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import { CREDENTIALS, startEmulator } from './emulator-client.js';
import { FAST_METADATA, SECRET_KEY, makeTempDir } from './stack.js';

/** A local Nango as `npm start` runs one: its store, its scheduler and runner, and one connection to a fresh emulator. */
export interface RunnerStack {
    emulator: RunningClariEmulator;
    store: LocalStore;
    server: RunningNangoServer;
    connectionId: string;
    close(): Promise<void>;
}

export async function startRunnerStack(
    prefix: string,
    options: { emulator: StartOptions; connectionId: string; webhooks?: WebhookSettings }
): Promise<RunnerStack> {
    const tmp = makeTempDir(prefix);
    const emulator = await startEmulator(options.emulator);
    const store = await openStore({ dir: tmp.dir });
    await store.connections.upsertConnection({
        connectionId: options.connectionId,
        providerConfigKey: PROVIDER_CONFIG_KEY,
        provider: PROVIDER_CONFIG_KEY,
        apiKey: CREDENTIALS.apiKey,
        apiPassword: CREDENTIALS.apiPassword,
        metadata: FAST_METADATA
    });
    const server = await startNangoServer({
        store,
        secretKey: SECRET_KEY,
        port: 0,
        clariBaseUrl: emulator.url,
        runJob: deployedSyncRunner({ store, clariBaseUrl: emulator.url }),
        addOns: [dashboard],
        webhooks: options.webhooks
    });
    return {
        emulator,
        store,
        server,
        connectionId: options.connectionId,
        async close() {
            await server.close();
            await store.close();
            await emulator.close();
            tmp.remove();
        }
    };
}
