import type { LocalStore } from './database.js';
import type { DeployedFlow } from './deployments.js';
import { SyncAlreadyRunningError, type CheckpointRange, type RunTrigger, type SyncRun } from './runs.js';

/**
 * The local counterpart of Nango's orchestrator: runs every deployed sync for every connection of its
 * integration on the sync's `runs` schedule, runs one now on `POST /sync/trigger`, and answers
 * `GET /sync/status`. One run per sync and connection at a time; the store refuses a second one even
 * when another process (`npm run sync`) started it.
 */

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/**
 * How often due runs are looked for. Each look reads the deployed flows (their bundles included), so not every
 * second; a trigger does not wait for it, and a schedule counted in minutes does not mind 5 s.
 */
const TICK_MS = 5_000;
/** When a run could not start because another process runs the same sync, try again this soon. */
const BUSY_RETRY_MS = 10_000;

/** A `runs:` schedule such as "every hour" or "every 30 minutes", in milliseconds. */
export function parseRuns(runs: string): number {
    const match = /^every\s+(?:(\d+)\s*)?(minute|hour|day|min|m|h|d)s?$/i.exec(runs.trim());
    const unit = { min: 'minute', m: 'minute', h: 'hour', d: 'day' }[match?.[2]?.toLowerCase() ?? ''] ?? match?.[2]?.toLowerCase();
    const unitMs = unit === undefined ? undefined : UNIT_MS[unit];
    if (!match || unitMs === undefined) {
        throw new Error(`cannot read the schedule "${runs}" (expected e.g. "every hour" or "every 30 minutes")`);
    }
    return Number(match[1] ?? 1) * unitMs;
}

export type SyncMode = 'incremental' | 'full_refresh';

export interface SyncJob {
    flow: DeployedFlow;
    connectionId: string;
    /** A full refresh runs as if the sync had never succeeded (no lastSyncDate). */
    mode: SyncMode;
    /** What the run is recorded as started by. */
    trigger: RunTrigger;
}

/** How a job's run ended when it did not fail. */
export interface RunJobResult {
    /** Ended at a checkpoint past 80% of NANGO_LOCAL_RUN_TIMEOUT_S: the next execution starts at once. */
    interrupted: boolean;
}

/** Runs one job to its end; rejects when the run failed (the run's own record says why). */
export type RunJob = (job: SyncJob) => Promise<RunJobResult> | Promise<void>;

export interface SchedulerOptions {
    store: LocalStore;
    runJob: RunJob;
    /** A run that failed or could not start (job null: looking for due runs failed); for the server's console. */
    onJobError?: ((job: SyncJob | null, error: unknown) => void) | undefined;
}

/** Nango's GET /sync/status entry. */
export interface SyncStatus {
    id: string;
    connection_id: string;
    name: string;
    status: 'RUNNING' | 'SUCCESS' | 'ERROR' | 'PAUSED' | 'STOPPED';
    type: 'INITIAL' | 'INCREMENTAL';
    finishedAt: string | null;
    nextScheduledSyncAt: string | null;
    frequency: string | null;
    latestResult: Record<string, { added: number; updated: number; deleted: number }> | null;
    recordCount: Record<string, number>;
    /**
     * Not in Nango's answer: the newest run as it ended. INTERRUPTED is a success cut short at a checkpoint
     * (NANGO_LOCAL_RUN_TIMEOUT_S), which Nango's own status reports as SUCCESS while the next execution runs.
     */
    latestRun: {
        id: number;
        status: 'RUNNING' | 'SUCCESS' | 'INTERRUPTED' | 'ERROR';
        startedAt: string;
        finishedAt: string | null;
        checkpoints: CheckpointRange | null;
    } | null;
}

export class UnknownSyncError extends Error {
    override name = 'UnknownSyncError';
}

interface JobState {
    nextAt: number;
    running: Promise<void> | null;
    /** A trigger that arrived while the job ran (or an interruption's hand-over): run once more right after. */
    again: Pick<SyncJob, 'mode' | 'trigger'> | null;
}

const runCountsSchemaKeys = ['added', 'updated', 'deleted'] as const;

function latestResult(run: SyncRun | undefined, models: readonly string[]): SyncStatus['latestResult'] {
    if (run?.status !== 'success' || run.summary === null) {
        return null;
    }
    let counts: unknown;
    try {
        counts = JSON.parse(run.summary);
    } catch {
        return null;
    }
    if (typeof counts !== 'object' || counts === null) {
        return null;
    }
    const numbers = Object.fromEntries(
        runCountsSchemaKeys.map((key) => {
            const value: unknown = (counts as Record<string, unknown>)[key];
            return [key, typeof value === 'number' ? value : 0];
        })
    ) as Record<(typeof runCountsSchemaKeys)[number], number>;
    return Object.fromEntries(models.map((model) => [model, numbers]));
}

export class SyncScheduler {
    private readonly jobs = new Map<string, JobState>();
    private timer: NodeJS.Timeout | null = null;
    private ticking: Promise<void> = Promise.resolve();
    private stopped = false;

    constructor(private readonly options: SchedulerOptions) {}

    /** Looks for due runs at once, then every TICK_MS: a sync that is due runs when the server starts. */
    start(): void {
        const look = (): void => {
            this.ticking = this.ticking
                .then(() => this.tick())
                .catch((error: unknown) => {
                    this.options.onJobError?.(null, error);
                });
        };
        look();
        this.timer = setInterval(look, TICK_MS);
        this.timer.unref();
    }

    /** Stops scheduling and waits for the runs in progress. */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) {
            clearInterval(this.timer);
        }
        await this.ticking;
        await Promise.all([...this.jobs.values()].flatMap((job) => (job.running ? [job.running.catch(() => undefined)] : [])));
    }

    /**
     * Queues a run now of each named deployed sync (all of the integration's when `syncNames` is empty)
     * for `connectionId`, or for every connection of the integration; `trigger` says who asked (the API or Run now).
     */
    async trigger(
        providerConfigKey: string,
        syncNames: readonly string[],
        connectionId: string | undefined,
        mode: SyncMode,
        trigger: Extract<RunTrigger, 'api' | 'dashboard'>
    ): Promise<void> {
        const flows = await this.syncFlows(providerConfigKey, syncNames);
        const connections =
            connectionId === undefined ? await this.options.store.connections.listConnectionIds(providerConfigKey) : [connectionId];
        for (const flow of flows) {
            for (const id of connections) {
                if (mode === 'full_refresh') {
                    // As on Nango, a full refresh starts over: the sync's checkpoints go along with lastSyncDate.
                    await this.clearCheckpoints(flow, id);
                }
                const key = jobKey(flow, id);
                const state = this.jobs.get(key) ?? { nextAt: Date.now(), running: null, again: null };
                this.jobs.set(key, state);
                if (state.running) {
                    state.again = { mode, trigger };
                } else {
                    this.launch({ flow, connectionId: id, mode, trigger }, state);
                }
            }
        }
    }

    async status(providerConfigKey: string, syncNames: readonly string[], connectionId: string | undefined): Promise<SyncStatus[]> {
        const flows = await this.syncFlows(providerConfigKey, syncNames);
        const connections =
            connectionId === undefined ? await this.options.store.connections.listConnectionIds(providerConfigKey) : [connectionId];
        const statuses: SyncStatus[] = [];
        for (const flow of flows) {
            for (const id of connections) {
                statuses.push(await this.statusOf(flow, id));
            }
        }
        return statuses;
    }

    private async statusOf(flow: DeployedFlow, connectionId: string): Promise<SyncStatus> {
        const { store } = this.options;
        const runs = await store.runs.listRuns({ connectionId, syncName: flow.name, limit: 50 });
        const latest = runs[0];
        const finished = runs.find((run) => run.status !== 'running');
        const lastSuccess = runs.find((run) => run.status === 'success');
        const succeededBefore = latest !== undefined && runs.some((run) => run.status === 'success' && run.startedAt < latest.startedAt);
        const state = this.jobs.get(jobKey(flow, connectionId));
        const counts = await Promise.all(
            flow.models.map(async (model) => [model, await store.records.countLiveRecords(connectionId, model)] as const)
        );
        return {
            id: jobKey(flow, connectionId),
            connection_id: connectionId,
            name: flow.name,
            status: statusWord(latest, state, flow),
            type: succeededBefore ? 'INCREMENTAL' : 'INITIAL',
            finishedAt: finished?.finishedAt?.toISOString() ?? null,
            nextScheduledSyncAt: state && !this.stopped ? new Date(state.nextAt).toISOString() : null,
            frequency: flow.runs,
            latestResult: latestResult(lastSuccess, flow.models),
            recordCount: Object.fromEntries(counts),
            latestRun: latest
                ? {
                      id: latest.runId,
                      status: runWord(latest),
                      startedAt: latest.startedAt.toISOString(),
                      finishedAt: latest.finishedAt?.toISOString() ?? null,
                      checkpoints: latest.checkpoints
                  }
                : null
        };
    }

    private async clearCheckpoints(flow: DeployedFlow, connectionId: string): Promise<void> {
        const connection = await this.options.store.connections.getConnection(connectionId, flow.providerConfigKey);
        if (connection) {
            await this.options.store.checkpoints.clearSyncCheckpoints(connection.id, flow.name);
        }
    }

    private async syncFlows(providerConfigKey: string, syncNames: readonly string[]): Promise<DeployedFlow[]> {
        const deployed = (await this.options.store.deployments.listDeployedFlows()).filter(
            (flow) => flow.type === 'sync' && flow.providerConfigKey === providerConfigKey
        );
        if (syncNames.length === 0) {
            return deployed;
        }
        return syncNames.map((name) => {
            const flow = deployed.find((candidate) => candidate.name === name);
            if (!flow) {
                throw new UnknownSyncError(`no sync "${name}" is deployed for ${providerConfigKey} (deploy it with nango deploy)`);
            }
            return flow;
        });
    }

    private async tick(): Promise<void> {
        if (this.stopped) {
            return;
        }
        const flows = (await this.options.store.deployments.listDeployedFlows()).filter(
            (flow) => flow.type === 'sync' && flow.autoStart && flow.runs
        );
        for (const flow of flows) {
            for (const connectionId of await this.options.store.connections.listConnectionIds(flow.providerConfigKey)) {
                const key = jobKey(flow, connectionId);
                let state = this.jobs.get(key);
                if (!state) {
                    // First sight: due now if the sync never succeeded, else one interval after its last successful start.
                    const last = await this.options.store.runs.lastSuccessfulRunStart(connectionId, flow.name);
                    state = { nextAt: last ? last.getTime() + intervalOf(flow) : Date.now(), running: null, again: null };
                    this.jobs.set(key, state);
                }
                if (!state.running && Date.now() >= state.nextAt) {
                    this.launch({ flow, connectionId, mode: 'incremental', trigger: 'schedule' }, state);
                }
            }
        }
    }

    private launch(job: SyncJob, state: JobState): void {
        const startedAt = Date.now();
        state.running = this.options
            .runJob(job)
            .then(
                (result: unknown) => {
                    state.nextAt = startedAt + intervalOf(job.flow);
                    if (wasInterrupted(result)) {
                        // The rest of the work starts at once, from the checkpoint; a trigger waiting already wins.
                        state.again ??= { mode: 'incremental', trigger: 'handover' };
                    }
                },
                (error: unknown) => {
                    // Another process holds the run: try again soon rather than a whole interval later.
                    state.nextAt = error instanceof SyncAlreadyRunningError ? Date.now() + BUSY_RETRY_MS : startedAt + intervalOf(job.flow);
                    this.options.onJobError?.(job, error);
                }
            )
            .finally(() => {
                state.running = null;
                const again = state.again;
                state.again = null;
                if (again && !this.stopped) {
                    this.launch({ ...job, ...again }, state);
                }
            });
    }
}

function statusWord(latest: SyncRun | undefined, state: JobState | undefined, flow: DeployedFlow): SyncStatus['status'] {
    if (state?.running || latest?.status === 'running') {
        return 'RUNNING';
    }
    if (latest === undefined) {
        // Never ran: a scheduled sync starts within a tick; one without a schedule waits for a trigger.
        return flow.autoStart && flow.runs ? 'RUNNING' : 'STOPPED';
    }
    return latest.status === 'success' ? 'SUCCESS' : 'ERROR';
}

function wasInterrupted(result: unknown): boolean {
    return typeof result === 'object' && result !== null && 'interrupted' in result && result.interrupted === true;
}

function runWord(run: SyncRun): NonNullable<SyncStatus['latestRun']>['status'] {
    if (run.status === 'running') {
        return 'RUNNING';
    }
    if (run.status === 'failed') {
        return 'ERROR';
    }
    return run.interrupted ? 'INTERRUPTED' : 'SUCCESS';
}

function jobKey(flow: DeployedFlow, connectionId: string): string {
    return `${flow.providerConfigKey}/${flow.name}/${connectionId}`;
}

function intervalOf(flow: DeployedFlow): number {
    return flow.runs ? parseRuns(flow.runs) : Number.POSITIVE_INFINITY;
}
