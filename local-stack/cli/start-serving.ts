import { Nango } from '@nangohq/node';
import { dashboard } from '../dashboard/index.js';
import { DEFAULT_CREDENTIALS, startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { writeTakenDeploy, type TakenDeploy } from '../nango-server/deploy-inbox.js';
import { openStoreInThread, startNangoServer, type LocalStore } from '../nango-server/index.js';
import { parseRuns, type RunJob, type RunJobResult, type SyncJob } from '../nango-server/scheduler.js';
import { deployedSyncRunner, type RunObserver } from '../runner/deployed-runner.js';
import { handOverLine } from '../runner/run-chain.js';
import {
    autoPruneFromEnv,
    PROVIDER_CONFIG_KEY,
    realClariTarget,
    runTimeoutMs,
    SYNC_NAME,
    type ClariTarget,
    type LocalEnv
} from './config.js';
import type { DeployWithCliResult } from './deploy.js';
import { describeFailure } from './errors.js';
import { queryHints } from './hints.js';
import { SyncProgress } from './progress.js';
import { describeRun } from './run-words.js';
import { startAppBeside } from './reference-app.js';
import { registerConnection } from './session.js';
import { budgetForQuota, SimulatedWeeks } from './simulated-weeks.js';

/**
 * The rest of `npm start`, once its deploy is taken (start.ts): the emulator, the reference app, the store with
 * the deployment written, and the local Nango that runs the sync. A module of its own so that none of it is
 * loaded, nor holds memory, while the deploy CLI runs.
 */

/** How long Ctrl-C waits for a run in progress before the store closes under it (the run is then recorded as failed). */
const STOP_GRACE_MS = 5_000;

/** The progress bar of the run on screen, if any: Ctrl-C must put the terminal back before it says anything. */
export interface OnScreen {
    progress: { stop(): void } | null;
}

export interface AfterDeploy {
    env: LocalEnv;
    metadata: Record<string, unknown> | undefined;
    weeklyQuota: number | undefined;
    deployment: DeployWithCliResult;
    taken: TakenDeploy;
    screen: OnScreen;
    /** Resolves on Ctrl-C. */
    interrupted: Promise<unknown>;
    stopping: () => boolean;
}

export async function serveAfterDeploy(context: AfterDeploy): Promise<void> {
    const { env, metadata, weeklyQuota, deployment, taken, screen, interrupted, stopping } = context;
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
    // The scheduler may start a due run as soon as the server listens; its progress waits for the lines below.
    let introDone = (): void => undefined;
    const introduced = new Promise<void>((resolve) => {
        introDone = resolve;
    });
    const beside = await startAppBeside(env);
    const store = await openStoreInThread({ dir: env.NANGO_LOCAL_DB });
    let next: NextRun;
    try {
        await writeTakenDeploy(store, taken);
        await registerConnection(store, env.NANGO_CONNECTION_ID, clari);
        if (metadata) {
            await store.connections.setMetadata(env.NANGO_CONNECTION_ID, PROVIDER_CONFIG_KEY, metadata);
        }
        if (weeks && weeklyQuota !== undefined) {
            await fitBudgetToQuota(store, env.NANGO_CONNECTION_ID, weeklyQuota);
        }
        next = await nextRunOf(store, env.NANGO_CONNECTION_ID);
    } catch (error) {
        await store.close();
        await beside.app.close();
        await emulator?.close();
        throw error;
    }
    const server = await startNangoServer({
        store,
        secretKey: env.NANGO_SECRET_KEY_DEV,
        clariBaseUrl: clari.baseUrl,
        port: env.NANGO_LOCAL_PORT,
        host: '127.0.0.1',
        autoPrune: autoPruneFromEnv(env),
        addOns: [dashboard],
        webhooks: beside.webhooks,
        runJob: afterIntro(
            introduced,
            deployedSyncRunner({
                store,
                clariBaseUrl: clari.baseUrl,
                timeoutMs: runTimeoutMs(env),
                ...(weeks ? { now: weeks.now } : {}),
                observe: (job) =>
                    showRun(job, screen, stopping, (ended) => {
                        if (ended.paused && weeks && !stopping()) {
                            if (ended.listed > 0) {
                                startNextWeek(weeks, job);
                                return;
                            }
                            // Another week would pause the same way: nothing would ever move.
                            console.log('The run paused before it listed a single call; the quota is too small to simulate weeks with.');
                            firstRunEnded();
                        } else {
                            firstRunEnded();
                        }
                    })
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
        console.log(`Local Nango on ${server.url}, store ${env.NANGO_LOCAL_DB}, connection ${env.NANGO_CONNECTION_ID}.`);
        console.log(`Dashboard: ${server.url}/ (runs as they go, their logs, the synced calls and their transcripts).`);
        console.log(deployedLine(deployment.deployed, next));
        introDone();
        if (next.dueNow) {
            await Promise.race([firstRun, interrupted]);
            if (!stopping()) {
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

    if (stopping()) {
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
}

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

/** Holds each run until start has said what it deployed, so that the run's progress comes after those lines. */
function afterIntro(introduced: Promise<void>, run: RunJob): RunJob {
    return async (job): Promise<RunJobResult> => {
        await introduced;
        // The deployed runner always answers a result; RunJob's void is for other runners.
        return (await run(job)) as RunJobResult;
    };
}

interface NextRun {
    dueNow: boolean;
    /** The deployed sync's schedule, e.g. 'every hour'. */
    runs: string | null;
    lastStart: Date | null;
    nextAt: Date | null;
}

/** The scheduler's own rule: due at once if the sync never succeeded, else one interval after its last start. */
async function nextRunOf(store: LocalStore, connectionId: string): Promise<NextRun> {
    const flow = await store.deployments.getDeployedFlow(PROVIDER_CONFIG_KEY, SYNC_NAME);
    const lastStart = await store.runs.lastSuccessfulRunStart(connectionId, SYNC_NAME);
    const runs = flow?.runs ?? null;
    const nextAt = lastStart && runs ? new Date(lastStart.getTime() + parseRuns(runs)) : null;
    return { dueNow: nextAt === null || nextAt.getTime() <= Date.now(), runs, lastStart: lastStart ?? null, nextAt };
}

function deployedLine(deployed: readonly string[], next: NextRun): string {
    const schedule = next.runs ?? 'on its schedule';
    return next.dueNow
        ? `Deployed ${deployed.join(', ')}. The local Nango runs ${SYNC_NAME} now, then ${schedule}.\n`
        : `Deployed ${deployed.join(', ')}. The store keeps what earlier runs synced; no run is due now: the last ` +
              `started ${localTime(next.lastStart)}, the next starts ${localTime(next.nextAt)} (${schedule}). ` +
              `Run now on the dashboard, or \`npm run sync\`, runs one sooner.`;
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
function showRun(
    job: SyncJob,
    screen: OnScreen,
    stopping: () => boolean,
    onEnd: (ended: { paused: boolean; listed: number }) => void
): RunObserver {
    const progress = new SyncProgress();
    screen.progress = progress;
    console.log(
        `Running ${job.flow.name}@${job.flow.version} for connection ${job.connectionId}${job.mode === 'full_refresh' ? ' (full refresh)' : ''}...`
    );
    return {
        onEvent: progress.onEvent,
        finished: (outcome) => {
            progress.stop();
            screen.progress = null;
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
