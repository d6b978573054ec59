import path from 'node:path';
import { DEFAULT_CREDENTIALS, startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { openStore, startNangoServer } from '../nango-server/index.js';
import {
    autoPruneFromEnv,
    loadDotEnv,
    parseSyncFlags,
    PROVIDER_CONFIG_KEY,
    readEnv,
    realClariTarget,
    SYNC_NAME,
    type ClariTarget
} from './config.js';
import { describeFailure, runCommand } from './errors.js';
import { queryHints } from './hints.js';
import { syncIntervalMs } from './schedule.js';
import { deployedSync, directProxy, registerConnection, runSyncWithProgress } from './session.js';
import { untilInterrupted } from './signals.js';

const USAGE = `npm start -- [--metadata '<json>' | --metadata-file <path>]

Starts the Clari Copilot emulator (or uses the real API when CLARI_API_KEY and CLARI_API_PASSWORD are
set), the local Nango stand-in on NANGO_LOCAL_PORT, and runs the calls sync now and then on the
schedule in nango.yaml. Ctrl-C stops everything.`;

const NANGO_YAML = path.resolve(import.meta.dirname, '../../nango-integrations/nango.yaml');

runCommand('start', async () => {
    loadDotEnv();
    const flags = parseSyncFlags(process.argv.slice(2), USAGE);
    if (flags.help) {
        return;
    }
    const { metadata } = flags;
    const env = readEnv();
    const schedule = syncIntervalMs(NANGO_YAML, PROVIDER_CONFIG_KEY, SYNC_NAME);
    await deployedSync();

    let emulator: RunningClariEmulator | null = null;
    let clari: ClariTarget | null = realClariTarget(env);
    if (clari) {
        console.log(`Using the real Clari Copilot API at ${clari.baseUrl}.`);
    } else {
        const credentials = {
            apiKey: env.CLARI_EMULATOR_API_KEY ?? DEFAULT_CREDENTIALS.apiKey,
            apiPassword: env.CLARI_EMULATOR_API_PASSWORD ?? DEFAULT_CREDENTIALS.apiPassword
        };
        emulator = await startClariEmulator({ port: env.CLARI_EMULATOR_PORT, host: '127.0.0.1', ...credentials });
        clari = { baseUrl: emulator.url, ...credentials };
        const dataset = emulator.state.describe();
        console.log(
            `Clari Copilot emulator on ${emulator.url}: ${dataset.live} calls over ${dataset.months} months (seed ${dataset.seed}), 10 req/s like Clari.`
        );
    }

    const store = await openStore({ dir: env.NANGO_LOCAL_DB });
    const server = await startNangoServer({
        store,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        clariBaseUrl: clari.baseUrl,
        port: env.NANGO_LOCAL_PORT,
        host: '127.0.0.1',
        autoPrune: autoPruneFromEnv(env)
    }).catch(async (error: unknown) => {
        await store.close();
        await emulator?.close();
        throw error;
    });
    await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
    console.log(`Local Nango stand-in on ${server.url}, store ${env.NANGO_LOCAL_DB}, connection ${env.NANGO_CONNECTION_ID}.\n`);

    const proxy = directProxy(clari);
    const session = { persist: store, proxy, connectionId: env.NANGO_CONNECTION_ID, metadata };
    // One run at a time: a scheduled run that comes due while the previous one still works is skipped.
    const current: { run: Promise<void> | null } = { run: null };
    const syncOnce = (): Promise<void> => {
        current.run ??= runSyncWithProgress(session)
            .then(
                () => undefined,
                (error: unknown) => {
                    console.error(`sync failed: ${describeFailure(error)}`);
                }
            )
            .finally(() => {
                current.run = null;
            });
        return current.run;
    };

    await syncOnce();
    console.log(`\n${queryHints(server.url, env.NANGO_CONNECTION_ID, env.NANGO_SECRET_KEY_DEV)}`);
    console.log(`\nServing. The sync runs again ${schedule.runs} (nango.yaml). Ctrl-C to stop.`);
    const timer = setInterval(() => void syncOnce(), schedule.intervalMs);

    await untilInterrupted();
    clearInterval(timer);
    await server.close();
    await emulator?.close();
    // A run cut short by the shutdown is recorded as failed, so lastSyncDate stays where it was.
    await Promise.race([current.run, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    proxy.close();
    await store.close();
});
