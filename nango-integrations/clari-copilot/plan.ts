import type { SyncOptions } from './options.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Covers clock skew between Nango's workers and Clari's servers; costs list rows only, never detail requests. */
export const MODIFIED_OVERLAP_MS = 10 * 60 * 1000;

/** One listing of `/calls`: a call time range, optionally narrowed to a last-modified range. Bounds are exclusive. */
export interface CallWindow {
    timeAfter: Date;
    timeBefore: Date;
    modifiedAfter?: Date;
    modifiedBefore?: Date;
}

export const RUN_KINDS = ['initial', 'reconcile', 'incremental'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export interface RunPlan {
    kind: RunKind;
    windows: CallWindow[];
    /** Whether the run lists every call of the backfill window, and may therefore delete what it did not see. */
    reconcile: boolean;
}

/**
 * Decides what a run lists. Everything is derived from the run's start and Nango's `lastSyncDate`
 * (the start of the last successful run), so there is no hidden state to drift or corrupt.
 */
export function planRun(runStartedAt: Date, lastSyncDate: Date | undefined, options: SyncOptions): RunPlan {
    const fullWindow: CallWindow = {
        timeAfter: new Date(runStartedAt.getTime() - options.backfillDays * DAY_MS),
        timeBefore: runStartedAt
    };
    if (lastSyncDate === undefined) {
        return { kind: 'initial', windows: [fullWindow], reconcile: true };
    }
    if (isReconcileDue(runStartedAt, lastSyncDate, options.reconcileEveryHours)) {
        return { kind: 'reconcile', windows: [fullWindow], reconcile: true };
    }
    const since = new Date(Math.max(lastSyncDate.getTime() - MODIFIED_OVERLAP_MS, fullWindow.timeAfter.getTime()));
    return {
        kind: 'incremental',
        windows: [
            // Calls created, changed or processed since the last run, whatever their call time.
            { ...fullWindow, modifiedAfter: since, modifiedBefore: runStartedAt },
            // Calls whose scheduled time passed since the last run but whose last change is older.
            { timeAfter: since, timeBefore: runStartedAt }
        ],
        reconcile: false
    };
}

/**
 * A reconciliation is due when the run is the first one in a new period of `reconcileEveryHours`,
 * counted from the Unix epoch (with 24, the first run after midnight UTC). A failed reconciliation
 * does not move `lastSyncDate`, so the next run is again the first of its period and retries it.
 */
export function isReconcileDue(runStartedAt: Date, lastSyncDate: Date, reconcileEveryHours: number): boolean {
    if (reconcileEveryHours === 0) {
        return true;
    }
    const periodMs = reconcileEveryHours * HOUR_MS;
    return Math.floor(runStartedAt.getTime() / periodMs) !== Math.floor(lastSyncDate.getTime() / periodMs);
}
