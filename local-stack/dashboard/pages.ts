import { syncCheckpointKey, type CheckpointValue } from '../nango-server/checkpoints.js';
import type { SyncScheduler } from '../nango-server/scheduler.js';
import type { LocalStore } from '../nango-server/database.js';
import type { RunLogLine, RunTrigger, SyncRun } from '../nango-server/runs.js';
import { durationText, timeText, type TimeText } from './format.js';
import { runFigures, runProgress, type RunFigures, type RunProgress, type SummaryCounts } from './run-figures.js';

/** The data behind the runs, run and deployed pages, read through the store and the scheduler the API uses. */

export interface RunCell {
    key: keyof SummaryCounts;
    label: string;
    value: string;
}

/** What started a run, in a word or two for the table and a sentence for its tooltip. */
export interface TriggerView {
    key: RunTrigger | 'unknown';
    label: string;
    title: string;
}

export interface RunRow {
    runId: number;
    connectionId: string;
    syncName: string;
    kind: string;
    trigger: TriggerView;
    /** `interrupted`: a success cut short at a checkpoint (NANGO_LOCAL_RUN_TIMEOUT_S), handing over to the next execution. */
    status: SyncRun['status'] | 'interrupted';
    started: TimeText | null;
    duration: string;
    cells: RunCell[];
    /** The cells come from page lines: the run has no summary line (yet). */
    partial: boolean;
    /** Why a failed run failed. */
    error: string | null;
    /** A reconciliation that deleted nothing on purpose, and why: a decision the user should see without reading logs. */
    deletesNotice: string | null;
    /** A run that paused for the weekly budget (or because Clari kept refusing): a success that did not finish its work. */
    pauseNotice: string | null;
    progress: ProgressView | null;
    /** The checkpoints the run went through, as JSON text; null when it recorded none. */
    checkpoints: { from: string; to: string } | null;
}

export interface ProgressView extends RunProgress {
    runId: number;
    /** One line for people: listed 100 of 223 (45%), 12.3 calls/s, about 10 s left. */
    text: string;
}

/** Each summary counter: a one-word header for the runs table (eleven of them share 1,280 px), and what it counts. */
const COLUMNS: [keyof SummaryCounts, string, string][] = [
    ['listed', 'Listed', 'Calls Clari listed'],
    ['detailsFetched', 'Fetched', 'Details fetched'],
    ['unchangedSkipped', 'Unchanged', 'Unchanged, skipped'],
    ['prunedSkipped', 'Pruned', 'Pruned, skipped'],
    ['saved', 'Saved', 'Saved'],
    ['deleted', 'Deleted', 'Deleted'],
    ['invalid', 'Invalid', 'Invalid'],
    ['failed', 'Failed', 'Failed'],
    ['requests', 'Requests', 'Clari requests'],
    ['retries', 'Retries', 'Retries'],
    ['throttled', '429s', 'Answered 429 (Too Many Requests)']
];

export const RUN_COLUMNS = COLUMNS.map(([key, label, title]) => ({ key, label, title }));

const TRIGGERS: Record<RunTrigger, Omit<TriggerView, 'key'>> = {
    schedule: { label: 'schedule', title: "The sync's schedule (runs: in nango.yaml) started it." },
    api: { label: 'API trigger', title: 'POST /sync/trigger (nango.triggerSync) started it.' },
    dashboard: { label: 'Run now', title: "This dashboard's Run now button started it." },
    cli: { label: 'npm run sync', title: 'npm run sync started it.' },
    handover: {
        label: 'hand-over',
        title: 'The execution before it was interrupted at a checkpoint; this one started at once from that checkpoint.'
    }
};

export function triggerView(trigger: RunTrigger | null): TriggerView {
    if (trigger === null) {
        return { key: 'unknown', label: 'unknown', title: 'Recorded before the local Nango kept what started each run.' };
    }
    return { key: trigger, ...TRIGGERS[trigger] };
}

/** The page lines' counters that stand for a summary column while a run has no summary line. */
function partialCount(figures: RunFigures, key: keyof SummaryCounts): number | null {
    const { pages } = figures;
    const fromPages: Partial<Record<keyof SummaryCounts, number>> = {
        listed: pages.listed,
        detailsFetched: pages.fetched,
        unchangedSkipped: pages.unchanged,
        prunedSkipped: pages.pruned,
        saved: pages.saved,
        invalid: pages.invalid
    };
    return fromPages[key] ?? null;
}

/**
 * Credentials never reach a page, even if a sync or an error message were to echo them. Values shorter than
 * four characters are left alone: masking every "k" of a test connection's key would shred the text and hide nothing.
 */
export function redact(text: string, secrets: readonly string[]): string {
    return secrets.filter((secret) => secret.length >= 4).reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

export function progressText(progress: RunProgress): string {
    const size =
        progress.matched === null
            ? `listed ${progress.listed} so far`
            : `listed ${progress.listed} of ${progress.matched}${progress.percent === null ? '' : ` (${progress.percent}%)`}`;
    const rate = `${progress.ratePerSecond.toFixed(1)} calls/s`;
    const eta = progress.etaSeconds === null ? 'time left unknown yet' : `about ${durationText(progress.etaSeconds * 1000)} left`;
    return `${size}, fetched ${progress.fetched}, saved ${progress.saved}; ${rate}, ${eta}`;
}

export function progressView(run: SyncRun, figures: RunFigures, now: Date): ProgressView {
    const progress = runProgress(figures, run.startedAt, now);
    return { ...progress, runId: run.runId, text: progressText(progress) };
}

export function runRow(run: SyncRun, lines: readonly RunLogLine[], secrets: readonly string[], now = new Date()): RunRow {
    const figures = runFigures(lines);
    const summary = figures.summary;
    const end = run.finishedAt ?? now;
    return {
        runId: run.runId,
        connectionId: run.connectionId,
        syncName: run.syncName,
        kind: figures.kind ?? 'not known yet',
        trigger: triggerView(run.trigger),
        status: run.interrupted ? 'interrupted' : run.status,
        started: timeText(run.startedAt),
        duration: `${durationText(end.getTime() - run.startedAt.getTime())}${run.finishedAt === null ? ' so far' : ''}`,
        cells: COLUMNS.map(([key, , label]) => {
            const value = summary ? summary[key] : partialCount(figures, key);
            return { key, label, value: value === null ? '–' : String(value) };
        }),
        partial: summary === null,
        error: run.status === 'failed' && run.summary !== null ? redact(run.summary, secrets) : null,
        deletesNotice: deletesNotice(figures),
        pauseNotice: pauseNotice(figures),
        progress: run.status === 'running' ? progressView(run, figures, now) : null,
        checkpoints: run.checkpoints && {
            from: checkpointText(run.checkpoints.from),
            to: checkpointText(run.checkpoints.to)
        }
    };
}

/** What a reconciliation's delete pass decided when it deleted nothing on purpose (see the sync's run report). */
export function deletesNotice(figures: RunFigures): string | null {
    if (figures.deletes === 'withheld') {
        const count = figures.summary?.withheld ?? 0;
        return (
            `Deletes withheld: ${count > 0 ? `${count} stored call(s)` : 'every stored call'} went unlisted, more than a ` +
            `reconciliation may delete at once, so nothing was deleted. The next reconciliation looks again; the log lines say why.`
        );
    }
    if (figures.deletes === 'skipped') {
        return 'Deletes skipped: this reconciliation could not list every call, so it deleted nothing. The log lines say why.';
    }
    return null;
}

/** A time inside a sentence, written as every time on the pages is (with its zone). */
function timeWords(date: Date): string {
    return timeText(date)?.text ?? 'an unknown time';
}

/** What a paused run's `paused:` line says, for people. */
export function pauseNotice(figures: RunFigures): string | null {
    const pause = figures.pause;
    if (!pause) {
        return null;
    }
    const backfill = pause.backfilledTo ? ` The backfill has stored every call since ${timeWords(pause.backfilledTo)}.` : '';
    return pause.reason === 'budget'
        ? `Paused by the weekly budget until ${timeWords(pause.resumes)}: this Clari week has cost ${pause.weekSpent} of ` +
              `${pause.budget} requests.${backfill} Runs until then keep what is stored current.`
        : `Paused: Clari kept refusing requests, so the workspace's other tools may have spent its week.${backfill} The next run tries again.`;
}

export function checkpointText(checkpoint: CheckpointValue | null | undefined): string {
    return checkpoint ? JSON.stringify(checkpoint) : 'none';
}

/** The credentials of every connection the runs belong to, for `redact`. */
export async function connectionSecrets(store: LocalStore, providerConfigKey: string, connectionIds: Iterable<string>): Promise<string[]> {
    const secrets: string[] = [];
    for (const id of new Set(connectionIds)) {
        const connection = await store.connections.getConnection(id, providerConfigKey);
        if (connection) {
            secrets.push(connection.apiKey, connection.apiPassword);
        }
    }
    return secrets;
}

export interface DeployedView {
    providerConfigKey: string;
    type: string;
    name: string;
    version: string;
    runs: string | null;
    autoStart: boolean;
    models: string;
    deployed: TimeText | null;
    connections: {
        connectionId: string;
        status: string;
        lastFinished: TimeText | null;
        next: TimeText | null;
        records: string;
        /** The sync's current checkpoint for the connection, as JSON text, or `none`. */
        checkpoint: string;
    }[];
}

async function currentCheckpoint(store: LocalStore, providerConfigKey: string, connectionId: string, syncName: string): Promise<string> {
    const connection = await store.connections.getConnection(connectionId, providerConfigKey);
    const stored = connection && (await store.checkpoints.getCheckpoint(connection.id, syncCheckpointKey(syncName)));
    return checkpointText(stored && stored.deletedAt === null ? stored.checkpoint : null);
}

export async function deployedViews(store: LocalStore, scheduler: SyncScheduler | null): Promise<DeployedView[]> {
    const flows = await store.deployments.listDeployedFlows();
    const views: DeployedView[] = [];
    for (const flow of flows) {
        const statuses = scheduler && flow.type === 'sync' ? await scheduler.status(flow.providerConfigKey, [flow.name], undefined) : [];
        views.push({
            providerConfigKey: flow.providerConfigKey,
            type: flow.type,
            name: flow.name,
            version: flow.version,
            runs: flow.runs,
            autoStart: flow.autoStart,
            models: flow.models.join(', '),
            deployed: timeText(flow.deployedAt),
            connections: await Promise.all(
                statuses.map(async (status) => ({
                    connectionId: status.connection_id,
                    checkpoint: await currentCheckpoint(store, flow.providerConfigKey, status.connection_id, flow.name),
                    status: status.status,
                    lastFinished: status.finishedAt === null ? null : timeText(status.finishedAt),
                    next: status.nextScheduledSyncAt === null ? null : timeText(status.nextScheduledSyncAt),
                    records: Object.entries(status.recordCount)
                        .map(([model, count]) => `${count} ${model}`)
                        .join(', ')
                }))
            )
        });
    }
    return views;
}
