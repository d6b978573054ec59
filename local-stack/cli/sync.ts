import { openStore } from '../nango-server/index.js';
import { ConfigError, loadDotEnv, parseSyncFlags, readEnv, realClariTarget } from './config.js';
import { runCommand } from './errors.js';
import { deployedSync, registerConnection, runSyncWithProgress } from './session.js';

const USAGE = `npm run sync -- [--metadata '<json>' | --metadata-file <path>]

Runs the calls sync once against CLARI_BASE_URL (default: the real Clari Copilot API) and stores the
records in NANGO_LOCAL_DB (default .nango-local). Needs CLARI_API_KEY and CLARI_API_PASSWORD.
Exit code 0 on success, 1 when the run fails, 2 on a configuration error.`;

runCommand('sync', async () => {
    loadDotEnv();
    const flags = parseSyncFlags(process.argv.slice(2), USAGE);
    if (flags.help) {
        return;
    }
    const { metadata } = flags;
    const env = readEnv();
    const clari = realClariTarget(env);
    if (!clari) {
        throw new ConfigError(
            'CLARI_API_KEY and CLARI_API_PASSWORD are not set. For your workspace, set them (and CLARI_BASE_URL if needed); ' +
                'for the emulator, run `npm run emulator` and use the URL and credentials it prints, or simply `npm start`.'
        );
    }
    await deployedSync();
    const store = await openStore({ dir: env.NANGO_LOCAL_DB });
    try {
        await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
        console.log(`Syncing Clari Copilot calls from ${clari.baseUrl} into ${env.NANGO_LOCAL_DB} (connection ${env.NANGO_CONNECTION_ID})`);
        await runSyncWithProgress({ store, connectionId: env.NANGO_CONNECTION_ID, clari, metadata });
    } finally {
        await store.close();
    }
});
