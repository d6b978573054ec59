import type { SyncOptions } from './options.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Covers clock skew between Nango's workers and Clari's servers; costs list rows only, never detail requests. */
export const MODIFIED_OVERLAP_MS = 10 * 60 * 1000;
/** Recent calls get their details refreshed once per period of this many hours (see `RunPlan.refreshAfter`). */
export const REFRESH_EVERY_HOURS = 24;

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
    /** The backfill window: the calls the store keeps. */
    backfill: CallWindow;
    /**
     * Call times that left the backfill window since the last reconciliation could have run, with a day to
     * spare. A reconciliation lists it only when stored calls went unlisted: those found there aged out and
     * are deleted without asking Clari about each one.
     */
    agedOut: CallWindow;
    /**
     * Listed calls whose time is after this get their details fetched even when `last_modified_time` did not
     * move (a regenerated summary, a CRM deal stage), and are saved only if their content changed. Null when
     * no refresh is due this run.
     */
    refreshAfter: Date | null;
}

/**
 * Decides what a run lists. Everything is derived from the run's start and Nango's `lastSyncDate`
 * (the start of the last successful run), so there is no hidden state to drift or corrupt.
 */
export function planRun(runStartedAt: Date, lastSyncDate: Date | undefined, options: SyncOptions): RunPlan {
    const backfill = { timeAfter: new Date(runStartedAt.getTime() - options.backfillDays * DAY_MS), timeBefore: runStartedAt };
    const agedOut = agedOutWindow(backfill, runStartedAt, lastSyncDate, options.reconcileEveryHours);
    if (lastSyncDate === undefined) {
        return { kind: 'initial', windows: [backfill], reconcile: true, backfill, agedOut, refreshAfter: null };
    }
    const refreshAfter =
        options.refreshRecentDays > 0 && isFirstRunOfPeriod(runStartedAt, lastSyncDate, REFRESH_EVERY_HOURS)
            ? new Date(Math.max(runStartedAt.getTime() - options.refreshRecentDays * DAY_MS, backfill.timeAfter.getTime()))
            : null;
    if (isReconcileDue(runStartedAt, lastSyncDate, options.reconcileEveryHours)) {
        return { kind: 'reconcile', windows: [backfill], reconcile: true, backfill, agedOut, refreshAfter };
    }
    const since = new Date(Math.max(lastSyncDate.getTime() - MODIFIED_OVERLAP_MS, backfill.timeAfter.getTime()));
    const windows: CallWindow[] = [
        // Calls created, changed or processed since the last run, whatever their call time.
        { ...backfill, modifiedAfter: since, modifiedBefore: runStartedAt },
        // Calls whose scheduled time passed since the last run but whose last change is older; when a refresh
        // is due, every recent call, which includes those.
        { timeAfter: refreshAfter !== null && refreshAfter < since ? refreshAfter : since, timeBefore: runStartedAt }
    ];
    return { kind: 'incremental', windows, reconcile: false, backfill, agedOut, refreshAfter };
}

function agedOutWindow(backfill: CallWindow, runStartedAt: Date, lastSyncDate: Date | undefined, reconcileEveryHours: number): CallWindow {
    const sinceLastRunMs = lastSyncDate === undefined ? 0 : Math.max(0, runStartedAt.getTime() - lastSyncDate.getTime());
    const stripMs = Math.max(sinceLastRunMs, reconcileEveryHours * HOUR_MS) + DAY_MS;
    return { timeAfter: new Date(backfill.timeAfter.getTime() - stripMs), timeBefore: backfill.timeAfter };
}

/**
 * A reconciliation is due when the run is the first one in a new period of `reconcileEveryHours`,
 * counted from the Unix epoch (with 24, the first run after midnight UTC). A failed reconciliation
 * does not move `lastSyncDate`, so the next run is again the first of its period and retries it.
 */
export function isReconcileDue(runStartedAt: Date, lastSyncDate: Date, reconcileEveryHours: number): boolean {
    return reconcileEveryHours === 0 || isFirstRunOfPeriod(runStartedAt, lastSyncDate, reconcileEveryHours);
}

/** Whether `runStartedAt` is in a later period of `hours` (counted from the Unix epoch) than `lastSyncDate`. */
export function isFirstRunOfPeriod(runStartedAt: Date, lastSyncDate: Date, hours: number): boolean {
    const periodMs = hours * HOUR_MS;
    return Math.floor(runStartedAt.getTime() / periodMs) !== Math.floor(lastSyncDate.getTime() / periodMs);
}
