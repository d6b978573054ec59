import type { NangoSync } from '../../models.js';
import { createClariClient } from '../clari-client.js';
import { forEachConcurrently } from '../concurrency.js';
import { VanishedCallsPass } from '../deletes.js';
import { listCallsInWindow } from '../listing.js';
import { parseSyncOptions } from '../options.js';
import { planRun } from '../plan.js';
import { formatRunStart } from '../run-report.js';
import { RunStats } from '../run-stats.js';
import { syncPage } from '../sync-page.js';

/** Two pages overlap: the next page's details start while the previous one finishes and saves. */
const PAGES_IN_PROGRESS = 2;

/**
 * Clari Copilot calls, kept complete and current:
 *   1. plan the windows: the whole backfill window on the first run and on reconciliations, otherwise
 *      what changed since the last successful run;
 *   2. list each window page by page (100 calls, oldest first);
 *   3. fetch `/call-details` only for calls that are new or whose `last_modified_time` moved;
 *   4. save the page at once, so memory never holds more than a page;
 *   5. after a complete reconciliation, delete what Clari no longer lists.
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
    const client = createClariClient(nango, { maxRequestsPerSecond: options.maxRequestsPerSecond, stats });
    await nango.log(formatRunStart({ run: plan.kind, windows: plan.windows }));

    const log = async (message: string, level: 'info' | 'warn'): Promise<void> => {
        await nango.log(message, { level });
    };
    const deletes = plan.reconcile ? VanishedCallsPass.for(nango) : null;
    for (const window of plan.windows) {
        await forEachConcurrently(listCallsInWindow(client, window, stats, log), PAGES_IN_PROGRESS, (page) =>
            syncPage(nango, client, page, options, stats, deletes)
        );
    }

    await deletes?.run(stats);
    await nango.log(stats.summary(plan.kind, Date.now() - runStartedAt.getTime()));
    if (stats.failed > 0) {
        // Failing the run keeps lastSyncDate where it was, so the next run lists these calls again.
        throw new Error(
            `${stats.failed} call(s) could not be fetched from Clari Copilot; the next run retries them (see the logs for ids).`
        );
    }
}
