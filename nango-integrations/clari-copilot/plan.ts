import type { SyncOptions } from './options.js';
import type { BackfillProgress } from './sync-memory.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Covers clock skew between Nango's workers and Clari's servers; costs list rows only, never detail requests. */
export const MODIFIED_OVERLAP_MS = 10 * 60 * 1000;
/** Recent calls get their details refreshed once per period of this many hours (see `RunPlan.refreshAfter`). */
export const REFRESH_EVERY_HOURS = 24;
/** Reconciliations may spend at most this share of the weekly budget on their list pages. */
export const RECONCILE_BUDGET_SHARE = 0.05;
const HOURS_A_WEEK = 7 * 24;

/** One listing of `/calls`: a call time range, optionally narrowed to a last-modified range. Bounds are exclusive. */
export interface CallWindow {
    timeAfter: Date;
    timeBefore: Date;
    modifiedAfter?: Date;
    modifiedBefore?: Date;
    /**
     * `backfill`: the next stretch of a backfill that may span runs; `reconcile`: the same for a reconciliation.
     * Both go newest first, checkpoint their progress after every page, and stop where the week's budget keeps
     * a reserve for incremental runs. Any other window lists changes, and may spend the whole budget.
     */
    role?: WalkRole;
}

/** The listings of the whole window that may span runs, each with its progress in the checkpoint. */
export type WalkRole = 'backfill' | 'reconcile';

/** What the run knows from the checkpoint, when the runtime has one. */
export interface PlanMemory {
    hasCheckpoints: boolean;
    backfill: BackfillProgress | null;
    changesListedUntil: Date | null;
    /** List pages of the last complete listing of the whole window (a backfill or a reconciliation); null when unknown. */
    listingPages: number | null;
    /** A reconciliation cut off by an interruption or the budget: listed from its end down to its cursor. */
    reconciliation: BackfillProgress | null;
    /** The budget cannot pay for a whole listing this run: a due reconciliation waits (see `fetchData`). */
    postponeReconciliation?: boolean;
}

/**
 * Hours between reconciliations when the user did not choose: daily, unless listing the whole window that often
 * would spend more than RECONCILE_BUDGET_SHARE of the weekly budget on list pages. A 20,000-call workspace
 * (200 pages) reconciles daily on the default budget; a 500,000-call one (5,000 pages) every 14 days.
 */
export function derivedReconcileHours(listingPages: number | null, weeklyRequestBudget: number): number {
    if (listingPages === null) {
        return 24;
    }
    const perWeek = (RECONCILE_BUDGET_SHARE * weeklyRequestBudget) / Math.max(1, listingPages);
    return Math.min(24 * 30, Math.max(24, Math.ceil(HOURS_A_WEEK / perWeek / 24) * 24));
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
    /** A backfill this run begins (a first run, with checkpoints): it is recorded before the first page. */
    beginsBackfill: BackfillProgress | null;
    /** A reconciliation this run begins, with checkpoints: recorded before its first page, so a cut-off one resumes. */
    beginsReconciliation: BackfillProgress | null;
    /** Hours between reconciliations, as the user set them or as derived; `derived` says which. */
    reconcileCadence: { hours: number; derived: boolean };
}

const NO_MEMORY: PlanMemory = { hasCheckpoints: false, backfill: null, changesListedUntil: null, listingPages: null, reconciliation: null };

/**
 * Decides what a run lists, from the run's start, Nango's `lastSyncDate` (the start of the last successful
 * run) and, where the runtime has checkpoints, what earlier runs recorded: a backfill in progress, and until
 * when changes were listed. Nango moves `lastSyncDate` after an interrupted or paused run although its work
 * is not done, so a checkpoint, when there is one, takes precedence.
 */
export function planRun(runStartedAt: Date, lastSyncDate: Date | undefined, options: SyncOptions, memory: PlanMemory = NO_MEMORY): RunPlan {
    const backfill = { timeAfter: new Date(runStartedAt.getTime() - options.backfillDays * DAY_MS), timeBefore: runStartedAt };
    const reconcileEveryHours = options.reconcileEveryHours ?? derivedReconcileHours(memory.listingPages, options.weeklyRequestBudget);
    const shared = {
        backfill,
        agedOut: agedOutWindow(backfill, runStartedAt, lastSyncDate, reconcileEveryHours),
        reconcileCadence: { hours: reconcileEveryHours, derived: options.reconcileEveryHours === undefined },
        refreshAfter: null,
        beginsBackfill: null,
        beginsReconciliation: null
    };
    const startsNow = { until: runStartedAt, cursor: runStartedAt };
    const listedChangesUntil = memory.changesListedUntil ?? lastSyncDate;
    if (listedChangesUntil === undefined) {
        if (!memory.hasCheckpoints) {
            return { ...shared, kind: 'initial', windows: [backfill], reconcile: true };
        }
        // With checkpoints a first run may take weeks of budget: it is a backfill, newest first, and a run that
        // lists part of it deletes nothing.
        return { ...shared, kind: 'initial', windows: [{ ...backfill, role: 'backfill' }], reconcile: false, beginsBackfill: startsNow };
    }
    const since = new Date(Math.max(listedChangesUntil.getTime() - MODIFIED_OVERLAP_MS, backfill.timeAfter.getTime()));
    const stillToWalk = (progress: BackfillProgress | null): Date | null =>
        progress && progress.cursor.getTime() > backfill.timeAfter.getTime() ? progress.cursor : null;
    const backfillCursor = stillToWalk(memory.backfill);
    if (backfillCursor) {
        // Changes first, so that what is stored stays current while the backfill waits for budget.
        const rest: CallWindow = { timeAfter: backfill.timeAfter, timeBefore: backfillCursor, role: 'backfill' };
        return { ...shared, kind: 'initial', windows: [...changeWindows(backfill, since, runStartedAt, null), rest], reconcile: false };
    }
    // The periods of reconciliations and refreshes count from the sync's own record of its last run when it has one:
    // Nango's lastSyncDate also moves after runs that were interrupted or paused.
    const lastRun = memory.changesListedUntil ?? lastSyncDate ?? listedChangesUntil;
    const refreshAfter =
        options.refreshRecentDays > 0 && isFirstRunOfPeriod(runStartedAt, lastRun, REFRESH_EVERY_HOURS)
            ? new Date(Math.max(runStartedAt.getTime() - options.refreshRecentDays * DAY_MS, backfill.timeAfter.getTime()))
            : null;
    const changes = changeWindows(backfill, since, runStartedAt, refreshAfter);
    const reconcileCursor = stillToWalk(memory.reconciliation);
    if (reconcileCursor) {
        // The rest of a reconciliation that was cut off: it still finds changes, but deletes nothing, since no one
        // run listed every call (the next reconciliation that does, deletes).
        const rest: CallWindow = { timeAfter: backfill.timeAfter, timeBefore: reconcileCursor, role: 'reconcile' };
        return { ...shared, kind: 'reconcile', windows: [...changes, rest], reconcile: false, refreshAfter };
    }
    if (isReconcileDue(runStartedAt, lastRun, reconcileEveryHours) && memory.postponeReconciliation !== true) {
        return {
            ...shared,
            kind: 'reconcile',
            windows: [{ ...backfill, ...(memory.hasCheckpoints ? { role: 'reconcile' as const } : {}) }],
            reconcile: true,
            refreshAfter,
            beginsReconciliation: memory.hasCheckpoints ? startsNow : null
        };
    }
    return { ...shared, kind: 'incremental', windows: changes, reconcile: false, refreshAfter };
}

function changeWindows(backfill: CallWindow, since: Date, runStartedAt: Date, refreshAfter: Date | null): CallWindow[] {
    return [
        // Calls created, changed or processed since the last run, whatever their call time.
        { ...backfill, modifiedAfter: since, modifiedBefore: runStartedAt },
        // Calls whose scheduled time passed since the last run but whose last change is older; when a refresh
        // is due, every recent call, which includes those.
        { timeAfter: refreshAfter !== null && refreshAfter < since ? refreshAfter : since, timeBefore: runStartedAt }
    ];
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
