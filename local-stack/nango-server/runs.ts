import type { PGlite } from '@electric-sql/pglite';

import type { CheckpointValue } from './checkpoints.js';
import { isProcessAlive, type Holder } from './lock.js';

/** The sync runs: one running at a time per sync and connection, kept alive by heartbeats, with their log lines. */

export type RunStatus = 'running' | 'success' | 'failed';

/**
 * What started a run: the sync's schedule, `POST /sync/trigger`, the dashboard's Run now, `npm run sync`, or the
 * scheduler starting the next execution at once after an interrupted one.
 */
export const RUN_TRIGGERS = ['schedule', 'api', 'dashboard', 'cli', 'handover'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export interface StartedRun {
    runId: number;
    /** Tags the records this run saves; what deleteRecordsFromPreviousExecutions compares against. */
    executionId: string;
    startedAt: Date;
    /** The sync's lastSyncDate for this run: start of the newest successful run, undefined before the first one. */
    lastSyncDate: Date | undefined;
}

export interface RunLogLine {
    level: string;
    message: string;
    createdAt: Date;
}

/** The checkpoints a run went through: the one it started from and the last one it saved (null: none). */
export interface CheckpointRange {
    from: CheckpointValue | null;
    to: CheckpointValue | null;
}

/** How a run ended, beyond success or failure. */
export interface RunOutcome {
    /**
     * Cut short at a checkpoint (NANGO_LOCAL_RUN_TIMEOUT_S): recorded as a success, so lastSyncDate moves to its
     * start, and the next execution starts at once from the checkpoint.
     */
    interrupted?: boolean | undefined;
    checkpoints?: CheckpointRange | undefined;
    /** The run had no lastSyncDate (a first run, or a full refresh): Nango's webhooks call it INITIAL. */
    initial?: boolean | undefined;
}

/** One POST of a sync webhook, as the run's page lists it: never the signing key, never the body. */
export interface WebhookAttempt {
    /** The URL without user info or query, which may carry a token. */
    url: string;
    model: string;
    /** The webhook's own `success`: a success or a failure webhook. */
    success: boolean;
    attempt: number;
    /** Absent when no response came back (then `error` says why). */
    status: number | null;
    error: string | null;
    durationMs: number;
    createdAt: Date;
}

export interface SyncRun {
    runId: number;
    connectionId: string;
    syncName: string;
    status: RunStatus;
    startedAt: Date;
    finishedAt: Date | null;
    /** On success the run's counts as JSON; on failure the error. */
    summary: string | null;
    interrupted: boolean;
    /** Null when the run recorded none (still running, or it never reached the checkpoint API). */
    checkpoints: CheckpointRange | null;
    /** Null when the runner did not say (a run still going, or recorded before webhooks). */
    initial: boolean | null;
    /** Null when whoever started the run did not say, as for every run recorded before triggers were. */
    trigger: RunTrigger | null;
}

/** Called once a run has been recorded as finished; what it does must neither delay nor fail the run. */
export type RunFinishedListener = (run: SyncRun) => void;

/** A runner that has not sent a heartbeat for this long is taken for dead, and its run for abandoned. */
export const RUN_STALE_AFTER_MS = 30_000;

/** The process running a sync; runners and the local Nango share one machine, so its liveness can be checked. */
export type RunnerIdentity = Holder;

/** Two runs of one sync for one connection never overlap, whichever process starts them. */
export class SyncAlreadyRunningError extends Error {
    override name = 'SyncAlreadyRunningError';
    constructor(
        readonly connectionId: string,
        readonly syncName: string,
        readonly runningSince: Date
    ) {
        super(
            `the ${syncName} sync of connection ${connectionId} is already running (since ${runningSince.toISOString()}); ` +
                'this run was not started, try again when that one has finished'
        );
    }
}

export interface RunsStore {
    /**
     * Throws SyncAlreadyRunningError while another run of the sync for the connection is alive: its runner
     * process exists and has sent a heartbeat within RUN_STALE_AFTER_MS. Other running runs are abandoned.
     */
    startRun(connectionId: string, syncName: string, runner: RunnerIdentity, trigger?: RunTrigger): Promise<StartedRun>;
    /** Keeps a run alive; false when the run is no longer running (finished, or given up as abandoned). */
    heartbeatRun(runId: number): Promise<boolean>;
    finishRun(runId: number, status: 'success' | 'failed', summary?: string, outcome?: RunOutcome): Promise<void>;
    appendRunLogs(runId: number, lines: readonly RunLogLine[]): Promise<void>;
    runLogs(runId: number): Promise<RunLogLine[]>;
    /** Newest first. */
    listRuns(query: { connectionId?: string | undefined; syncName?: string | undefined; limit: number }): Promise<SyncRun[]>;
    /** The sync's lastSyncDate: start of the newest successful run, undefined before the first one. */
    lastSuccessfulRunStart(connectionId: string, syncName: string): Promise<Date | undefined>;
    /**
     * Every run finished through `finishRun` in this process, whichever path ran it (the scheduler, a runner
     * over the persist API, `npm run sync` on its own store). Returns the unsubscribe function.
     */
    onRunFinished(listener: RunFinishedListener): () => void;
    recordWebhookAttempt(runId: number, attempt: Omit<WebhookAttempt, 'createdAt'>): Promise<void>;
    webhookAttempts(runId: number): Promise<WebhookAttempt[]>;
}

/** The id a run tags its records with, and under which the store counts what it changed. */
export function executionIdOf(runId: number): string {
    return `run-${runId}`;
}

interface RunRow {
    id: number;
    connection_id: string;
    sync_name: string;
    status: RunStatus;
    started_at: Date;
    finished_at: Date | null;
    summary: string | null;
    interrupted: boolean;
    checkpoint_range: CheckpointRange | null;
    initial: boolean | null;
    started_by: string | null;
}

const RUN_COLUMNS =
    'id, connection_id, sync_name, status, started_at, finished_at, summary, interrupted, checkpoint_range, initial, started_by';

function runTrigger(value: string | null): RunTrigger | null {
    return RUN_TRIGGERS.find((trigger) => trigger === value) ?? null;
}

function toSyncRun(row: RunRow): SyncRun {
    return {
        runId: row.id,
        connectionId: row.connection_id,
        syncName: row.sync_name,
        status: row.status,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        summary: row.summary,
        interrupted: row.interrupted,
        checkpoints: row.checkpoint_range,
        initial: row.initial,
        trigger: runTrigger(row.started_by)
    };
}

const LAST_SUCCESS = `SELECT started_at FROM sync_runs WHERE connection_id = $1 AND sync_name = $2 AND status = 'success'
     ORDER BY started_at DESC, id DESC LIMIT 1`;

/** Only the store's owner calls this, on opening: it holds the folder's lock, so a run still "running" was cut short. */
export async function failRunsCutShort(db: PGlite): Promise<void> {
    await db.query(
        `UPDATE sync_runs SET status = 'failed', finished_at = now(), summary = 'cut short: the process exited during the run' WHERE status = 'running'`
    );
}

export function createRunsStore(db: PGlite): RunsStore {
    const listeners = new Set<RunFinishedListener>();
    return {
        async startRun(connectionId, syncName, runner, trigger) {
            return db.transaction(async (tx) => {
                const runningRows = await tx.query<{ id: number; started_at: Date; stale: boolean; runner: RunnerIdentity | null }>(
                    `SELECT id, started_at, heartbeat_at < now() - $3::interval AS stale, runner FROM sync_runs
                     WHERE connection_id = $1 AND sync_name = $2 AND status = 'running'`,
                    [connectionId, syncName, `${RUN_STALE_AFTER_MS} milliseconds`]
                );
                for (const row of runningRows.rows) {
                    const dead = row.runner !== null && !isProcessAlive(row.runner);
                    if (!row.stale && !dead) {
                        throw new SyncAlreadyRunningError(connectionId, syncName, row.started_at);
                    }
                    await tx.query(`UPDATE sync_runs SET status = 'failed', finished_at = now(), summary = $2 WHERE id = $1`, [
                        row.id,
                        dead
                            ? `abandoned: its runner (process ${row.runner?.pid ?? '?'}) exited during the run`
                            : 'abandoned: its runner stopped sending heartbeats (the process hung or lost the local Nango)'
                    ]);
                }
                const last = await tx.query<{ started_at: Date }>(LAST_SUCCESS, [connectionId, syncName]);
                // Numbered after the last run rather than by the id sequence, which jumps by 32 when the process
                // holding the store was killed (Postgres logs sequence values ahead): run #1 is followed by #2.
                // The store has one writer (its lock), so no other insert can take the same number.
                const res = await tx.query<{ id: number; started_at: Date }>(
                    `INSERT INTO sync_runs (id, connection_id, sync_name, started_at, heartbeat_at, status, runner, started_by)
                     VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM sync_runs), $1, $2, now(), now(), 'running', $3::jsonb, $4)
                     RETURNING id, started_at`,
                    [connectionId, syncName, JSON.stringify(runner), trigger ?? null]
                );
                const row = res.rows[0];
                if (!row) {
                    throw new Error('could not record the run start');
                }
                return {
                    runId: row.id,
                    executionId: executionIdOf(row.id),
                    startedAt: row.started_at,
                    lastSyncDate: last.rows[0]?.started_at
                };
            });
        },

        async heartbeatRun(runId) {
            const res = await db.query(`UPDATE sync_runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [runId]);
            return res.affectedRows === 1;
        },

        async appendRunLogs(runId, lines) {
            if (lines.length === 0) {
                return;
            }
            await db.query(
                `INSERT INTO sync_run_logs (run_id, level, message, created_at)
                 SELECT $1, level, message, created_at FROM jsonb_to_recordset($2::jsonb) AS t(level text, message text, created_at timestamptz)`,
                [
                    runId,
                    JSON.stringify(
                        lines.map((line) => ({ level: line.level, message: line.message, created_at: line.createdAt.toISOString() }))
                    )
                ]
            );
        },

        async runLogs(runId) {
            const res = await db.query<{ level: string; message: string; created_at: Date }>(
                `SELECT level, message, created_at FROM sync_run_logs WHERE run_id = $1 ORDER BY id`,
                [runId]
            );
            return res.rows.map((row) => ({ level: row.level, message: row.message, createdAt: row.created_at }));
        },

        async listRuns(query) {
            const res = await db.query<RunRow>(
                `SELECT ${RUN_COLUMNS} FROM sync_runs
                 WHERE ($1::text IS NULL OR connection_id = $1) AND ($2::text IS NULL OR sync_name = $2)
                 ORDER BY started_at DESC, id DESC LIMIT $3`,
                [query.connectionId ?? null, query.syncName ?? null, query.limit]
            );
            return res.rows.map(toSyncRun);
        },

        async finishRun(runId, status, summary, outcome = {}) {
            if (outcome.interrupted === true && status !== 'success') {
                throw new TypeError('an interrupted run is recorded as a success');
            }
            const res = await db.query<RunRow>(
                `UPDATE sync_runs SET status = $2, finished_at = now(), summary = $3, interrupted = $4, checkpoint_range = $5::jsonb,
                        initial = $6
                 WHERE id = $1 AND status = 'running' RETURNING ${RUN_COLUMNS}`,
                [
                    runId,
                    status,
                    summary ?? null,
                    outcome.interrupted ?? false,
                    outcome.checkpoints ? JSON.stringify(outcome.checkpoints) : null,
                    outcome.initial ?? null
                ]
            );
            const row = res.rows[0];
            if (res.affectedRows !== 1 || !row) {
                throw new Error(`run ${runId} is not running`);
            }
            const run = toSyncRun(row);
            for (const listener of listeners) {
                try {
                    listener(run);
                } catch {
                    // A listener's mistake is its own: the run is recorded either way.
                }
            }
        },

        onRunFinished(listener) {
            listeners.add(listener);
            return () => listeners.delete(listener);
        },

        async recordWebhookAttempt(runId, attempt) {
            await db.query(
                `INSERT INTO webhook_attempts (run_id, url, model, success, attempt, status, error, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
                [
                    runId,
                    attempt.url,
                    attempt.model,
                    attempt.success,
                    attempt.attempt,
                    attempt.status,
                    attempt.error,
                    Math.round(attempt.durationMs)
                ]
            );
        },

        async webhookAttempts(runId) {
            const res = await db.query<{
                url: string;
                model: string;
                success: boolean;
                attempt: number;
                status: number | null;
                error: string | null;
                duration_ms: number;
                created_at: Date;
            }>(
                `SELECT url, model, success, attempt, status, error, duration_ms, created_at FROM webhook_attempts WHERE run_id = $1 ORDER BY id`,
                [runId]
            );
            return res.rows.map((row) => ({
                url: row.url,
                model: row.model,
                success: row.success,
                attempt: row.attempt,
                status: row.status,
                error: row.error,
                durationMs: row.duration_ms,
                createdAt: row.created_at
            }));
        },

        async lastSuccessfulRunStart(connectionId, syncName) {
            const res = await db.query<{ started_at: Date }>(LAST_SUCCESS, [connectionId, syncName]);
            return res.rows[0]?.started_at;
        }
    };
}
