import type { NangoSync } from '../../models.js';
import { createClariClient } from '../clari-client.js';
import { createTurns } from '../concurrency.js';
import { VanishedCallsPass } from '../deletes.js';
import { parseSyncOptions } from '../options.js';
import { formatRunStart } from '../run-report.js';
import { planWithinBudget, weeklyBudgetFor } from '../run-setup.js';
import { RunStats } from '../run-stats.js';
import { SyncMemory } from '../sync-memory.js';
import { refreshRequestsPerRun, type SyncRun } from '../sync-page.js';
import { reportPause, syncWindows } from '../sync-windows.js';

/** Below this many failed calls a run is never failed for them: they are retried by later runs instead. */
const SYSTEMIC_FAILURES = 10;

/**
 * Clari Copilot calls, kept complete and current within the week's request budget:
 *   1. plan the windows: changes since the last run first, then the backfill (newest first, across as many
 *      runs and weeks as the budget needs) or, once a day, a reconciliation of the whole window;
 *   2. list each window page by page (100 calls, newest first);
 *   3. fetch `/call-details` only for calls that are new or whose `last_modified_time` moved, plus, once
 *      a day, recent calls whose content may have changed without it;
 *   4. save each page in parts as its details arrive, so memory never holds more than a page, and record
 *      how far the backfill got once the whole page is saved;
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
    const budget = weeklyBudgetFor(nango, options, memory, runStartedAt);

    const plan = await planWithinBudget(nango, runStartedAt, options, memory, budget);
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
        detailsTurns: createTurns(),
        pause: null
    };
    await nango.log(formatRunStart({ run: plan.kind, windows: plan.windows }));

    const changesCost = await syncWindows(run, budget);

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
    await reportPause(run, budget);
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
