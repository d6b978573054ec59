import type { NangoSync } from '../../models.js';
import { createClariClient } from '../clari-client.js';
import { forEachConcurrently } from '../concurrency.js';
import { VanishedCallsPass } from '../deletes.js';
import { listCallsInWindow } from '../listing.js';
import { parseSyncOptions } from '../options.js';
import { planRun } from '../plan.js';
import { formatRunStart } from '../run-report.js';
import { RunStats } from '../run-stats.js';
import { SyncMemory } from '../sync-memory.js';
import { REFRESH_REQUESTS_PER_RUN, syncPage, type SyncRun } from '../sync-page.js';

/** Two pages overlap: the next page's details start while the previous one finishes and saves. */
const PAGES_IN_PROGRESS = 2;
/** Below this many failed calls a run is never failed for them: they are retried by later runs instead. */
const SYSTEMIC_FAILURES = 10;

/**
 * Clari Copilot calls, kept complete and current:
 *   1. plan the windows: the whole backfill window on the first run and on reconciliations, otherwise
 *      what changed since the last successful run;
 *   2. list each window page by page (100 calls, newest first);
 *   3. fetch `/call-details` only for calls that are new or whose `last_modified_time` moved, plus, once
 *      a day, recent calls whose content may have changed without it;
 *   4. save the page at once, so memory never holds more than a page;
 *   5. after a complete reconciliation, delete what Clari confirms is gone.
 * Nothing depends on stored payloads being there: Nango prunes them after 30 days without an update.
 */
export default async function fetchData(nango: NangoSync): Promise<void> {
    const runStartedAt = new Date();
    const { options, ignoredKeys } = parseSyncOptions(await nango.getMetadata());
    if (ignoredKeys.length > 0) {
        await nango.log(`Ignoring connection metadata keys this sync does not use: ${ignoredKeys.join(', ')}`, { level: 'warn' });
    }
    const plan = planRun(runStartedAt, nango.lastSyncDate, options);
    const stats = new RunStats();
    const run: SyncRun = {
        nango,
        client: createClariClient(nango, { maxRequestsPerSecond: options.maxRequestsPerSecond, stats }),
        options,
        plan,
        stats,
        memory: await SyncMemory.load(nango, { firstRun: nango.lastSyncDate === undefined, nowMs: runStartedAt.getTime() }),
        deletes: plan.reconcile ? VanishedCallsPass.for(nango) : null,
        fetchedIds: new Set(),
        refreshRequestsLeft: REFRESH_REQUESTS_PER_RUN
    };
    await nango.log(formatRunStart({ run: plan.kind, windows: plan.windows }));

    const log = async (message: string, level: 'info' | 'warn'): Promise<void> => {
        await nango.log(message, { level });
    };
    for (const window of plan.windows) {
        await forEachConcurrently(listCallsInWindow(run.client, window, stats, log), PAGES_IN_PROGRESS, (page) => syncPage(run, page));
    }
    await run.deletes?.run(run);

    await nango.log(stats.summary(plan.kind, Date.now() - runStartedAt.getTime()));
    const unremembered = await run.memory.save();
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
