import { Nango } from '@nangohq/node';
import { dashboard } from '../dashboard/index.js';
import { DEFAULT_CREDENTIALS, startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { openStoreInThread, startNangoServer, type LocalStore } from '../nango-server/index.js';
import { parseRuns, type RunJob, type RunJobResult, type SyncJob } from '../nango-server/scheduler.js';
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
import { refuseIfAlreadyRunning } from './already-running.js';
import { queryHints } from './hints.js';
import { SyncProgress } from './progress.js';
import { describeRun } from './run-words.js';
import { startAppBeside } from './reference-app.js';
import { registerConnection } from './session.js';
import { budgetForQuota, SimulatedWeeks } from './simulated-weeks.js';
import { untilInterrupted } from './signals.js';

const USAGE = `npm start -- [--metadata '<json>' | --metadata-file <path>] [--weekly-quota <requests>]

Starts the Clari Copilot emulator (or uses the real API when CLARI_API_KEY and CLARI_API_PASSWORD are
set) and the local Nango on NANGO_LOCAL_PORT, deploys nango-integrations/ to it with the pinned nango
CLI (nango deploy), and lets it run the deployed calls sync now and then on its schedule (nango.yaml).
--metadata is saved as the connection's metadata, which the sync reads. --weekly-quota (or
CLARI_EMULATOR_WEEKLY_QUOTA) gives the emulated workspace Clari's weekly quota, and the sync half of it
as its weeklyRequestBudget unless --metadata sets one; when a run pauses for the week, the emulator's
and the sync's clocks move to the next Clari week and the backfill resumes. Ctrl-C stops everything.`;

/** How long Ctrl-C waits for a run in progress before the store closes under it (the run is then recorded as failed). */
const STOP_GRACE_MS = 5_000;

/** The progress bar of the run on screen, if any: Ctrl-C must put the terminal back before it says anything. */
let onScreen: SyncProgress | null = null;

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
        onScreen?.stop();
        onScreen = null;
    });

    let emulator: RunningClariEmulator | null = null;
    let weeks: SimulatedWeeks | null = null;
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
            ...(weeklyQuota === undefined ? {} : { weeklyQuota, quota: { retryAfter: 'next-week' } })
        });
        weeks = weeklyQuota === undefined || weeklyQuota === 0 ? null : new SimulatedWeeks(emulator);
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
    // A store from an earlier `npm start` may have a deployed sync that the scheduler would run before this
    // start's deploy has even printed; its runs wait for the deploy and then run what it deployed.
    let deployDone = (): void => undefined;
    const deployed = new Promise<void>((resolve) => {
        deployDone = resolve;
    });
    const beside = await startAppBeside(env);
    const store = await openStoreInThread({ dir: env.NANGO_LOCAL_DB });
    const server = await startNangoServer({
        store,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        clariBaseUrl: clari.baseUrl,
        port: env.NANGO_LOCAL_PORT,
        host: '127.0.0.1',
        autoPrune: autoPruneFromEnv(env),
        addOns: [dashboard],
        webhooks: beside.webhooks,
        runJob: afterDeploy(
            deployed,
            store,
            deployedSyncRunner({
                store,
                clariBaseUrl: clari.baseUrl,
                timeoutMs: runTimeoutMs(env),
                ...(weeks ? { now: weeks.now } : {}),
                observe: (job) =>
                    showRun(
                        job,
                        () => stopping,
                        (ended) => {
                            if (ended.paused && weeks && !stopping) {
                                if (ended.listed > 0) {
                                    startNextWeek(weeks, job);
                                    return;
                                }
                                // Another week would pause the same way: nothing would ever move.
                                console.log(
                                    'The run paused before it listed a single call; the quota is too small to simulate weeks with.'
                                );
                                firstRunEnded();
                            } else {
                                firstRunEnded();
                            }
                        }
                    )
            })
        ),
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
        if (weeks && weeklyQuota !== undefined) {
            await fitBudgetToQuota(store, env.NANGO_CONNECTION_ID, weeklyQuota);
        }
        console.log(`Local Nango on ${server.url}, store ${env.NANGO_LOCAL_DB}, connection ${env.NANGO_CONNECTION_ID}.`);
        console.log(`Dashboard: ${server.url}/ (runs as they go, their logs, the synced calls and their transcripts).`);
        console.log('Deploying nango-integrations/ to it: nango deploy dev --auto-confirm (the pinned CLI compiles it first)...');
        const deployment = await deployWithCli({ serverUrl: server.url, secretKey: env.NANGO_SECRET_KEY_DEV });
        const flow = await store.deployments.getDeployedFlow(PROVIDER_CONFIG_KEY, SYNC_NAME);
        const lastStart = await store.runs.lastSuccessfulRunStart(env.NANGO_CONNECTION_ID, SYNC_NAME);
        // The scheduler's own rule: due at once if the sync never succeeded, else one interval after its last start.
        const nextAt = lastStart && flow?.runs ? new Date(lastStart.getTime() + parseRuns(flow.runs)) : null;
        const dueNow = nextAt === null || nextAt.getTime() <= Date.now();
        console.log(
            dueNow
                ? `Deployed ${deployment.deployed.join(', ')}. The local Nango runs ${SYNC_NAME} now, then ${flow?.runs ?? 'on its schedule'}.\n`
                : `Deployed ${deployment.deployed.join(', ')}. The store keeps what earlier runs synced; no run is due now: the last ` +
                      `started ${localTime(lastStart)}, the next starts ${localTime(nextAt)} (${flow?.runs ?? 'on its schedule'}). ` +
                      `Run now on the dashboard, or \`npm run sync\`, runs one sooner.`
        );
        deployDone();
        if (dueNow) {
            await Promise.race([firstRun, interrupted]);
            if (!stopping) {
                await Promise.race([beside.showFirstPull(), interrupted]);
            }
        }
    } catch (error) {
        await server.close();
        await store.close();
        await beside.app.close();
        await emulator?.close();
        throw error;
    }

    if (stopping) {
        await stopAll();
        return;
    }
    console.log(`\n${queryHints(server.url, env.NANGO_CONNECTION_ID, env.NANGO_SECRET_KEY_DEV)}`);
    console.log('\nServing. Another terminal can run `npm run sync` against this local Nango. Ctrl-C to stop.');

    await interrupted;
    await stopAll();

    /** After a run paused for the week: both clocks to the next Clari week, and the sync again, as Run now would. */
    function startNextWeek(simulated: SimulatedWeeks, job: SyncJob): void {
        const at = simulated.advance();
        console.log(
            `\nSimulated Clari week ${simulated.week}: the emulator's and the sync's clocks now read ${at.toISOString()}, ` +
                `as if the week had passed (the store and the schedule keep the real clock). Running ${job.flow.name} again.`
        );
        new Nango({ secretKey: env.NANGO_SECRET_KEY_DEV, host: server.url })
            .triggerSync(job.flow.providerConfigKey, [job.flow.name], job.connectionId)
            .catch((error: unknown) => {
                console.error(`could not start the next simulated week's run: ${describeFailure(error)}`);
                firstRunEnded();
            });
    }

    async function stopAll(): Promise<void> {
        // A run cut short here is recorded as failed, so lastSyncDate stays where it was.
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([
            server.close(),
            new Promise((resolve) => {
                grace = setTimeout(resolve, STOP_GRACE_MS);
            })
        ]);
        // A pending grace timer would keep the process alive for its full 5 s after everything has closed.
        clearTimeout(grace);
        await beside.app.close();
        await emulator?.close();
        await store.close();
    }
});

/**
 * With an emulated quota, the sync's weekly budget in the default's proportion unless the connection's metadata
 * already sets one, so that the backfill pauses at its own budget rather than at Clari's refusals.
 */
async function fitBudgetToQuota(store: LocalStore, connectionId: string, quota: number): Promise<void> {
    const connection = await store.connections.getConnection(connectionId, PROVIDER_CONFIG_KEY);
    const budget = budgetForQuota(quota);
    if (connection?.metadata?.['weeklyRequestBudget'] !== undefined || budget === null) {
        console.log(`Emulated Clari quota: ${quota} requests a week.`);
        return;
    }
    await store.connections.updateMetadata(connectionId, PROVIDER_CONFIG_KEY, { weeklyRequestBudget: budget });
    console.log(
        `Emulated Clari quota: ${quota} requests a week; the sync's weeklyRequestBudget is ${budget}, half of it, ` +
            `as the default is half of Clari's 100,000 (--metadata '{"weeklyRequestBudget":N}' sets another).`
    );
}

/** Holds each run until this start's deploy is done, then runs the flow it deployed rather than the one stored before. */
function afterDeploy(deployed: Promise<void>, store: LocalStore, run: RunJob): RunJob {
    return async (job): Promise<RunJobResult> => {
        await deployed;
        const flow = await store.deployments.getDeployedFlow(job.flow.providerConfigKey, job.flow.name);
        // The deployed runner always answers a result; RunJob's void is for other runners.
        return (await run(flow ? { ...job, flow } : job)) as RunJobResult;
    };
}

/** A time as a person reads it, with its zone, beside the ISO form that logs and the dashboard use. */
function localTime(date: Date | null | undefined): string {
    if (!date) {
        return 'at an unknown time';
    }
    return `at ${date.toLocaleString('en-GB', {
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'short'
    })}`;
}

/**
 * A progress display for each scheduled run; `onEnd` learns when one has ended, well or not, and whether it
 * paused (the weekly budget, or Clari refusing) before it was done. A run that Ctrl-C cuts short fails on the
 * store closing under it, which is no news: it says what the next start does instead.
 */
function showRun(job: SyncJob, stopping: () => boolean, onEnd: (ended: { paused: boolean; listed: number }) => void): RunObserver {
    const progress = new SyncProgress();
    onScreen = progress;
    console.log(
        `Running ${job.flow.name}@${job.flow.version} for connection ${job.connectionId}${job.mode === 'full_refresh' ? ' (full refresh)' : ''}...`
    );
    return {
        onEvent: progress.onEvent,
        finished: (outcome) => {
            progress.stop();
            onScreen = null;
            describeRun(progress.summary, 'result' in outcome ? outcome.result.counts : null).forEach((line) => {
                console.log(line);
            });
            if ('result' in outcome) {
                if (outcome.result.interrupted) {
                    // The scheduler starts the next execution at once; the first run has not ended yet.
                    console.log(handOverLine(outcome.result));
                    return;
                }
            } else if (stopping()) {
                console.log('The run was cut short: what it saved is kept, and the next `npm start` resumes from its last checkpoint.');
            } else {
                console.error(`sync failed: ${describeFailure(outcome.error)}`);
            }
            onEnd({ paused: 'result' in outcome && progress.summary?.paused != null, listed: progress.summary?.counts.listed ?? 0 });
        }
    };
}
