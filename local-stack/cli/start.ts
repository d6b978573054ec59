import { readDeployedStateOf, startDeployInbox, type TakenDeploy } from '../nango-server/deploy-inbox.js';
import { refuseIfAlreadyRunning } from './already-running.js';
import { loadDotEnv, parseSyncFlags, readEnv, type LocalEnv } from './config.js';
import { DeployFailedError, deployWithCli, type DeployWithCliResult } from './deploy.js';
import { runCommand } from './errors.js';
import { untilInterrupted } from './signals.js';
import type { OnScreen } from './start-serving.js';

const USAGE = `npm start -- [--metadata '<json>' | --metadata-file <path>] [--weekly-quota <requests>]

Deploys nango-integrations/ with the pinned nango CLI (nango deploy) to the local Nango on
NANGO_LOCAL_PORT, then starts the Clari Copilot emulator (or uses the real API when CLARI_API_KEY and
CLARI_API_PASSWORD are set) and lets the local Nango run the deployed calls sync now and then on its
schedule (nango.yaml).
--metadata is saved as the connection's metadata, which the sync reads. --weekly-quota (or
CLARI_EMULATOR_WEEKLY_QUOTA) gives the emulated workspace Clari's weekly quota, and the sync half of it
as its weeklyRequestBudget unless --metadata sets one; when a run pauses for the week, the emulator's
and the sync's clocks move to the next Clari week and the backfill resumes. Ctrl-C stops everything.`;

/** The progress bar of the run on screen, if any: Ctrl-C must put the terminal back before it says anything. */
const screen: OnScreen = { progress: null };

runCommand('start', async () => {
    loadDotEnv();
    const flags = parseSyncFlags(process.argv.slice(2), USAGE, { withWeeklyQuota: true });
    if (flags.help) {
        return;
    }
    const { metadata } = flags;
    const env = readEnv();
    const weeklyQuota = flags.weeklyQuota ?? env.CLARI_EMULATOR_WEEKLY_QUOTA;
    // Before anything listens: a second `npm start` would otherwise fail on whichever port it reaches first.
    await refuseIfAlreadyRunning(env.NANGO_LOCAL_PORT);
    // Listening from the start, so a Ctrl-C during the first run stops everything as cleanly as one later.
    // Set from a signal handler, which flow analysis does not see.
    let stopping = false as boolean;
    const interrupted = untilInterrupted(() => {
        stopping = true;
        screen.progress?.stop();
        screen.progress = null;
    });

    // First, while nothing else holds memory: the CLI type-checks the project in ~300 MB of its own.
    console.log('Deploying nango-integrations/ with the pinned CLI: nango deploy dev --auto-confirm (it compiles the project first)...');
    let deployed: Awaited<ReturnType<typeof deployBeforeTheStoreOpens>>;
    try {
        deployed = await deployBeforeTheStoreOpens(env);
    } catch (error) {
        if (stopping) {
            // Ctrl-C reached the CLI too; its failure is no news, and nothing else has started yet.
            return;
        }
        throw error;
    }
    if (stopping) {
        return;
    }
    const { serveAfterDeploy } = await import('./start-serving.js');
    await serveAfterDeploy({ env, metadata, weeklyQuota, ...deployed, screen, interrupted, stopping: () => stopping });
});

/**
 * `nango deploy` against a local Nango whose store is closed (nango-server/deploy-inbox.ts): the CLI's ~300 MB
 * and an open store, emulator and reference app beside it would not fit a laptop's share. What the store held
 * answers the CLI's confirmation; the deployment it sends is written once the store is open again.
 */
async function deployBeforeTheStoreOpens(env: LocalEnv): Promise<{ deployment: DeployWithCliResult; taken: TakenDeploy }> {
    const inbox = await startDeployInbox({
        before: await readDeployedStateOf(env.NANGO_LOCAL_DB),
        secretKey: env.NANGO_SECRET_KEY_DEV,
        port: env.NANGO_LOCAL_PORT,
        host: '127.0.0.1',
        storeDir: env.NANGO_LOCAL_DB
    });
    try {
        const deployment = await deployWithCli({ serverUrl: inbox.url, secretKey: env.NANGO_SECRET_KEY_DEV });
        const taken = inbox.taken();
        if (taken === null) {
            throw new DeployFailedError('nango deploy reported success, but no deployment reached the local Nango');
        }
        return { deployment, taken };
    } finally {
        await inbox.close();
    }
}
