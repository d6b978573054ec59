import { BackfillProgressTracker } from './backfill-progress.js';
import { RequestsPaused, type WeeklyBudget } from './budget.js';
import { forEachConcurrently } from './concurrency.js';
import { listCallsInWindow } from './listing.js';
import type { CallWindow } from './plan.js';
import { formatPause } from './run-report.js';
import { syncPage, type SyncRun } from './sync-page.js';

/** Two pages overlap: the next page's details start while the previous one finishes and saves. */
const PAGES_IN_PROGRESS = 2;

/**
 * Lists the plan's windows in order and syncs their pages, changes first. A pause (the budget, or Clari
 * refusing) ends the listing there; what was not listed, a later run lists. Returns what listing the changes
 * cost, for the reserve of later runs.
 */
export async function syncWindows(run: SyncRun, budget: WeeklyBudget): Promise<number> {
    const { plan, stats, memory } = run;
    let changesCost = 0;
    let changesListed = true;
    for (const window of plan.windows) {
        const walking = window.role !== undefined;
        budget.phase = walking ? 'backfill' : 'changes';
        const spentBefore = stats.requests;
        const listedBefore = stats.listed;
        const listedWhole = await listAndSync(run, window);
        if (!walking) {
            changesCost += stats.requests - spentBefore;
        }
        noteWholeListing(run, window, stats.listed - listedBefore, listedWhole);
        if (!listedWhole) {
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
        memory.changesListedUntil = plan.backfill.timeBefore;
    }
    return changesCost;
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

export async function reportPause(run: SyncRun, budget: WeeklyBudget): Promise<void> {
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
