import { dashboard } from '../dashboard/index.js';
import { DEFAULT_CREDENTIALS, startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { openStore, startNangoServer } from '../nango-server/index.js';
import type { SyncJob } from '../nango-server/scheduler.js';
import { deployedSyncRunner, type RunObserver } from '../runner/deployed-runner.js';
import { handOverLine } from '../runner/run-chain.js';
import {
    autoPruneFromEnv,
    loadDotEnv,
    parseSyncFlags,
    PROVIDER_CONFIG_KEY,
    readEnv,
    realClariTarget,
    runTimeoutMs,
    SYNC_NAME,
    type ClariTarget
} from './config.js';
import { deployWithCli } from './deploy.js';
import { describeFailure, runCommand } from './errors.js';
import { queryHints } from './hints.js';
import { SyncProgress } from './progress.js';
import { startAppBeside } from './reference-app.js';
import { registerConnection } from './session.js';
import { untilInterrupted } from './signals.js';

const USAGE = `npm start -- [--metadata '<json>' | --metadata-file <path>]

Starts the Clari Copilot emulator (or uses the real API when CLARI_API_KEY and CLARI_API_PASSWORD are
set) and the local Nango on NANGO_LOCAL_PORT, deploys nango-integrations/ to it with the pinned nango
CLI (nango deploy), and lets it run the deployed calls sync now and then on its schedule (nango.yaml).
--metadata is saved as the connection's metadata, which the sync reads. Ctrl-C stops everything.`;

/** How long Ctrl-C waits for a run in progress before the store closes under it (the run is then recorded as failed). */
const STOP_GRACE_MS = 5_000;

runCommand('start', async () => {
    loadDotEnv();
    const flags = parseSyncFlags(process.argv.slice(2), USAGE);
    if (flags.help) {
        return;
    }
    const { metadata } = flags;
    const env = readEnv();

    let emulator: RunningClariEmulator | null = null;
    let clari: ClariTarget | null = realClariTarget(env);
    if (clari) {
        console.log(`Using the real Clari Copilot API at ${clari.baseUrl}.`);
    } else {
        const credentials = {
            apiKey: env.CLARI_EMULATOR_API_KEY ?? DEFAULT_CREDENTIALS.apiKey,
            apiPassword: env.CLARI_EMULATOR_API_PASSWORD ?? DEFAULT_CREDENTIALS.apiPassword
        };
        emulator = await startClariEmulator({
            port: env.CLARI_EMULATOR_PORT,
            host: '127.0.0.1',
            ...credentials,
            // A spent week answers 429 with a Retry-After to the next week, which the sync takes as a pause.
            ...(env.CLARI_EMULATOR_WEEKLY_QUOTA === undefined
                ? {}
                : { weeklyQuota: env.CLARI_EMULATOR_WEEKLY_QUOTA, quota: { retryAfter: 'next-week' } })
        });
        clari = { baseUrl: emulator.url, ...credentials };
        const dataset = emulator.state.describe();
        console.log(
            `Clari Copilot emulator on ${emulator.url}: ${dataset.live} calls over ${dataset.months} months (seed ${dataset.seed}), 10 req/s like Clari.`
        );
    }

    let firstRunEnded = (): void => undefined;
    const firstRun = new Promise<void>((resolve) => {
        firstRunEnded = resolve;
    });
    const beside = await startAppBeside(env);
    const store = await openStore({ dir: env.NANGO_LOCAL_DB });
    const server = await startNangoServer({
        store,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        clariBaseUrl: clari.baseUrl,
        port: env.NANGO_LOCAL_PORT,
        host: '127.0.0.1',
        autoPrune: autoPruneFromEnv(env),
        addOns: [dashboard],
        webhooks: beside.webhooks,
        runJob: deployedSyncRunner({
            store,
            clariBaseUrl: clari.baseUrl,
            timeoutMs: runTimeoutMs(env),
            observe: (job) => showRun(job, firstRunEnded)
        }),
        onJobError: (job, error) => {
            if (job === null) {
                console.error(`scheduler: ${describeFailure(error)}`);
            }
        }
    }).catch(async (error: unknown) => {
        await store.close();
        await beside.app.close();
        await emulator?.close();
        throw error;
    });
    try {
        await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
        if (metadata) {
            await store.connections.setMetadata(env.NANGO_CONNECTION_ID, PROVIDER_CONFIG_KEY, metadata);
        }
        console.log(`Local Nango on ${server.url}, store ${env.NANGO_LOCAL_DB}, connection ${env.NANGO_CONNECTION_ID}.`);
        console.log(`Dashboard: ${server.url}/ (runs as they go, their logs, the synced calls and their transcripts).`);
        console.log('Deploying nango-integrations/ to it: nango deploy dev --auto-confirm (the pinned CLI compiles it first)...');
        const deployment = await deployWithCli({ serverUrl: server.url, secretKey: env.NANGO_SECRET_KEY_DEV });
        const flow = await store.deployments.getDeployedFlow(PROVIDER_CONFIG_KEY, SYNC_NAME);
        console.log(
            `Deployed ${deployment.deployed.join(', ')}. The local Nango runs ${SYNC_NAME} now, then ${flow?.runs ?? 'on its schedule'}.\n`
        );
        await firstRun;
        await beside.showFirstPull();
    } catch (error) {
        await server.close();
        await store.close();
        await beside.app.close();
        await emulator?.close();
        throw error;
    }

    console.log(`\n${queryHints(server.url, env.NANGO_CONNECTION_ID, env.NANGO_SECRET_KEY_DEV)}`);
    console.log('\nServing. Another terminal can run `npm run sync` against this local Nango. Ctrl-C to stop.');

    await untilInterrupted();
    // A run cut short here is recorded as failed, so lastSyncDate stays where it was.
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS))]);
    await beside.app.close();
    await emulator?.close();
    await store.close();
});

/** A progress display for each scheduled run; `onFirstEnd` learns when the first one has ended, well or not. */
function showRun(job: SyncJob, onFirstEnd: () => void): RunObserver {
    const progress = new SyncProgress();
    console.log(
        `Running ${job.flow.name}@${job.flow.version} for connection ${job.connectionId}${job.mode === 'full_refresh' ? ' (full refresh)' : ''}...`
    );
    return {
        onEvent: progress.onEvent,
        finished: (outcome) => {
            progress.stop();
            if (progress.summaryLine) {
                console.log(progress.summaryLine);
            }
            if ('result' in outcome) {
                const { added, updated, unchanged, deleted } = outcome.result.counts;
                console.log(`Record store: ${added} added, ${updated} updated, ${unchanged} unchanged, ${deleted} deleted.`);
                if (outcome.result.interrupted) {
                    // The scheduler starts the next execution at once; the first run has not ended yet.
                    console.log(handOverLine(outcome.result));
                    return;
                }
            } else {
                console.error(`sync failed: ${describeFailure(outcome.error)}`);
            }
            onFirstEnd();
        }
    };
}
