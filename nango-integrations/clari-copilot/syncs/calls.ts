import type { NangoSync } from '../../models.js';
import { BackfillProgressTracker } from '../backfill-progress.js';
import { RequestsPaused, WeeklyBudget, weeklyReserve } from '../budget.js';
import { createClariClient } from '../clari-client.js';
import { forEachConcurrently } from '../concurrency.js';
import { VanishedCallsPass } from '../deletes.js';
import { listCallsInWindow } from '../listing.js';
import { parseSyncOptions } from '../options.js';
import { planRun, RECONCILE_BUDGET_SHARE, type CallWindow } from '../plan.js';
import { formatPause, formatRunStart } from '../run-report.js';
import { RunStats } from '../run-stats.js';
import { SyncMemory } from '../sync-memory.js';
import { refreshRequestsPerRun, syncPage, type SyncRun } from '../sync-page.js';

/** Two pages overlap: the next page's details start while the previous one finishes and saves. */
const PAGES_IN_PROGRESS = 2;
/** Below this many failed calls a run is never failed for them: they are retried by later runs instead. */
const SYSTEMIC_FAILURES = 10;
const HOUR_MS = 60 * 60 * 1000;

/**
 * Clari Copilot calls, kept complete and current within the week's request budget:
 *   1. plan the windows: changes since the last run first, then the backfill (newest first, across as many
 *      runs and weeks as the budget needs) or, once a day, a reconciliation of the whole window;
 *   2. list each window page by page (100 calls, newest first);
 *   3. fetch `/call-details` only for calls that are new or whose `last_modified_time` moved, plus, once
 *      a day, recent calls whose content may have changed without it;
 *   4. save the page at once, so memory never holds more than a page, and record how far the backfill got;
 *   5. after a complete reconciliation, delete what Clari confirms is gone.
 * A run that reaches the budget stops asking, keeps what it fetched, and ends successfully.
 * Nothing depends on stored payloads being there: Nango prunes them after 30 days without an update.
 */
export default async function fetchData(nango: NangoSync): Promise<void> {
    const runStartedAt = new Date();
    const { options, ignoredKeys } = parseSyncOptions(await nango.getMetadata());
    if (ignoredKeys.length > 0) {
        await nango.log(`Ignoring connection metadata keys this sync does not use: ${ignoredKeys.join(', ')}`, { level: 'warn' });
    }
    const memory = await SyncMemory.load(nango, { firstRun: nango.lastSyncDate === undefined, nowMs: runStartedAt.getTime() });
    const stats = new RunStats();
    const budget = new WeeklyBudget({
        budget: options.weeklyRequestBudget,
        nowMs: () => Date.now(),
        saved: memory.budgetSpent,
        reserve: weeklyReserve({
            budget: options.weeklyRequestBudget,
            nowMs: runStartedAt.getTime(),
            // Interrupted runs hand over within seconds; the schedule itself is hourly.
            runEveryMs: Math.min(
                24 * HOUR_MS,
                Math.max(HOUR_MS / 4, nango.lastSyncDate ? runStartedAt.getTime() - nango.lastSyncDate.getTime() : HOUR_MS)
            ),
            changesCostPerRun: memory.changesCost ?? 2
        }),
        persist: async (weekStartMs, spentUpTo) => {
            memory.budgetSpent = { weekStartMs, spent: spentUpTo };
            await memory.save();
        }
    });
    // A reconciliation starts only when the week can pay for a whole listing: one that the budget cuts off deletes nothing.
    const listingCost = memory.listingPages === null ? 0 : Math.ceil(memory.listingPages * 1.1);
    const planMemory = {
        hasCheckpoints: memory.hasCheckpoints,
        backfill: memory.backfill,
        changesListedUntil: memory.changesListedUntil,
        listingPages: memory.listingPages,
        reconciliation: memory.reconciliation
    };
    const plan = planRun(runStartedAt, nango.lastSyncDate, options, {
        ...planMemory,
        postponeReconciliation: listingCost > budget.availableTo('backfill')
    });
    if (plan.kind !== 'reconcile' && planRun(runStartedAt, nango.lastSyncDate, options, planMemory).beginsReconciliation) {
        await nango.log(
            `Postponing the reconciliation: a whole listing takes about ${listingCost} requests and this Clari week has ` +
                `${budget.availableTo('backfill')} left beyond the reserve for incremental runs. A later run reconciles.`
        );
    }
    if (plan.beginsBackfill) {
        memory.backfill = plan.beginsBackfill;
        memory.changesListedUntil = runStartedAt;
    }
    if (plan.beginsReconciliation) {
        memory.reconciliation = plan.beginsReconciliation;
    }
    const run: SyncRun = {
        nango,
        client: createClariClient(nango, { maxRequestsPerSecond: options.maxRequestsPerSecond, stats, budget }),
        options,
        plan,
        stats,
        memory,
        deletes: plan.reconcile ? VanishedCallsPass.for(nango) : null,
        fetchedIds: new Set(),
        refreshRequestsLeft: refreshRequestsPerRun(options.weeklyRequestBudget),
        pause: null
    };
    await nango.log(formatRunStart({ run: plan.kind, windows: plan.windows }));
    if (plan.reconcileCadence.derived && plan.reconcileCadence.hours > 24) {
        await nango.log(
            `Reconciling every ${plan.reconcileCadence.hours} hours: a whole listing takes ${memory.listingPages ?? '?'} pages, and ` +
                `reconciliations may spend ${RECONCILE_BUDGET_SHARE * 100}% of the ${options.weeklyRequestBudget}-request weekly budget.`
        );
    }

    let changesCost = 0;
    let changesListed = true;
    for (const window of plan.windows) {
        const walking = window.role !== undefined;
        budget.phase = walking ? 'backfill' : 'changes';
        const spentBefore = stats.requests;
        const listedBefore = stats.listed;
        const listedWhole = await listAndSync(run, window);
        if (budget.phase === 'changes') {
            changesCost += stats.requests - spentBefore;
        }
        noteWholeListing(run, window, stats.listed - listedBefore, listedWhole);
        if (!listedWhole) {
            // Paused: later windows would only ask again. What this one did not list, a later run lists.
            stats.incompleteListings++;
            // A walk comes after the run's change windows, which are then listed; a fresh reconciliation has none.
            changesListed &&= walking && plan.windows.some((other) => other.role === undefined);
            break;
        }
        if (window.role === 'backfill') {
            memory.backfill = null;
        } else if (window.role === 'reconcile') {
            memory.reconciliation = null;
        }
    }
    if (changesListed && !plan.beginsBackfill) {
        memory.changesListedUntil = runStartedAt;
    }
    if (run.pause === null) {
        await run.deletes?.run(run);
    } else if (plan.reconcile) {
        stats.deleteMethod = 'skipped';
    }

    memory.budgetSpent = budget.state;
    if (!plan.beginsBackfill) {
        // A first run lists no changes: its cost says nothing about the hourly runs the reserve is for.
        memory.changesCost = memory.changesCost === null ? changesCost : Math.round(0.7 * memory.changesCost + 0.3 * changesCost);
    }
    stats.weekSpent = budget.spentThisWeek;
    stats.paused = run.pause?.reason ?? null;
    if (run.pause) {
        await reportPause(run, budget);
    }
    await nango.log(stats.summary(plan.kind, Date.now() - runStartedAt.getTime()));
    const unremembered = await memory.save();
    if (unremembered > 0) {
        await nango.log(`${unremembered} failed call(s) did not fit in the checkpoint and may be asked for again today.`, {
            level: 'warn'
        });
    }
    if (stats.failed >= SYSTEMIC_FAILURES && stats.failed * 2 > stats.detailsAttempted) {
        // Most calls failing is Clari failing, not a bad call: failing the run keeps lastSyncDate where it was,
        // so the next run covers this one's windows again.
        throw new Error(
            `${stats.failed} of ${stats.detailsAttempted} call(s) could not be fetched from Clari Copilot; the next run retries them (see the logs for ids).`
        );
    }
}

/**
 * Lists one window and syncs its pages. A backfill window records its progress after every page done in
 * order, so that an interrupted or paused run costs at most a page. Returns false when the run paused.
 */
async function listAndSync(run: SyncRun, window: CallWindow): Promise<boolean> {
    const { nango, stats, memory } = run;
    const log = async (message: string, level: 'info' | 'warn'): Promise<void> => {
        await nango.log(message, { level });
    };
    const walk = window.role === 'backfill' ? 'backfill' : window.role === 'reconcile' ? 'reconciliation' : null;
    const progress = walk && memory[walk] ? new BackfillProgressTracker() : null;
    try {
        await forEachConcurrently(listCallsInWindow(run.client, window, stats, log), PAGES_IN_PROGRESS, async (page) => {
            const number = progress?.listedPage() ?? 0;
            const { complete } = await syncPage(run, page);
            const cursor = progress?.finishedPage(number, complete ? page.listedDownTo : null) ?? null;
            const walked = walk ? memory[walk] : null;
            if (walk && cursor && walked) {
                memory[walk] = { ...walked, cursor };
                await memory.save();
            }
            if (run.pause) {
                throw run.pause;
            }
        });
    } catch (error) {
        if (error instanceof RequestsPaused) {
            run.pause ??= error;
            return false;
        }
        throw error;
    }
    return run.pause === null;
}

/** What a complete listing of the whole window costs, for sizing reconciliations to the budget (plan.ts). */
function noteWholeListing(run: SyncRun, window: CallWindow, listed: number, listedWhole: boolean): void {
    const { memory, plan } = run;
    const pages = (calls: number): number => Math.max(1, Math.ceil(calls / 100));
    if (window.role === 'backfill') {
        const soFar = (memory.backfillListed ?? 0) + listed;
        memory.backfillListed = listedWhole ? null : soFar;
        if (listedWhole) {
            memory.listingPages = pages(soFar);
        }
    } else if (plan.kind === 'reconcile' && plan.reconcile && listedWhole && window.modifiedAfter === undefined) {
        memory.listingPages = pages(listed);
    }
}

async function reportPause(run: SyncRun, budget: WeeklyBudget): Promise<void> {
    const pause = run.pause;
    if (!pause) {
        return;
    }
    const backfilledTo = run.memory.backfill?.cursor ?? null;
    await run.nango.log(
        `Pausing: ${pause.message}. ${backfilledTo ? `The backfill has stored every call since ${backfilledTo.toISOString()}; ` : ''}` +
            `this Clari week has cost ${budget.spentThisWeek} of ${budget.budget} requests. ` +
            (pause.reason === 'budget'
                ? `The backfill resumes when the next Clari week starts, ${budget.weekEnd.toISOString()}; until then runs keep what is stored current.`
                : 'The next run tries again.'),
        { level: 'warn' }
    );
    await run.nango.log(
        formatPause({ reason: pause.reason, resumes: budget.weekEnd, weekSpent: budget.spentThisWeek, budget: budget.budget, backfilledTo })
    );
}
