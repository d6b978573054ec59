import type { ClariClient, QueryParams } from './clari-client.js';
import { ListPageFetcher, type InvalidCall, type ListingLog } from './list-page.js';
import type { CallWindow } from './plan.js';
import { formatWindow } from './run-report.js';
import type { RunStats } from './run-stats.js';
import type { RawCall } from './schemas.js';
import { TimePaging, type PageQuery } from './time-paging.js';

export interface ListedPage {
    /** Valid calls new to this listing, newest first. */
    calls: RawCall[];
    invalid: InvalidCall[];
    /** Once this page and every page before it are done, every call of the window from this time on is done. */
    listedDownTo: Date;
}

export function windowParams(window: CallWindow, query: Pick<PageQuery, 'timeAfter' | 'timeBefore'> = window): QueryParams {
    const params: QueryParams = { filterTimeGt: query.timeAfter.toISOString(), filterTimeLt: query.timeBefore.toISOString() };
    if (window.modifiedAfter) {
        params['filterModifiedGt'] = window.modifiedAfter.toISOString();
    }
    if (window.modifiedBefore) {
        params['filterModifiedLt'] = window.modifiedBefore.toISOString();
    }
    return params;
}

/**
 * Pages through every call of `window`, newest first, one page at a time: `ListPageFetcher` fetches and
 * validates each page, `TimePaging` says where the next one starts and which calls are repeats. A window
 * that could not be listed whole is counted in `stats.incompleteListings`, so that nothing is deleted on
 * the strength of it.
 */
export async function* listCallsInWindow(
    client: ClariClient,
    window: CallWindow,
    stats: RunStats,
    log: ListingLog,
    /** False for a listing that only looks calls up (the aged-out strip): it is left out of the run report. */
    reported = true
): AsyncGenerator<ListedPage> {
    const fetcher = new ListPageFetcher(client, log);
    const paging = new TimePaging(window);
    const invalidSeen = new Set<string>();
    for (;;) {
        const query = paging.query;
        const fetched = await fetcher.fetch({ ...windowParams(window, query), sortTime: 'desc', skip: query.skip });
        const matched = fetched.pagination?.matched ?? null;
        const firstPage = paging.isFirstPage;
        const { fresh, more } = paging.take({
            calls: fetched.calls.map((call) => ({ id: call.id, timeMs: new Date(call.time).getTime(), call })),
            rows: fetched.rows,
            limit: fetched.limit,
            hasMore: fetched.pagination?.hasMore ?? null,
            matched
        });
        const page: ListedPage = {
            listedDownTo: more ? paging.listedDownTo : window.timeAfter,
            calls: fresh.map((listed) => listed.call),
            // A row that failed validation may be listed again by a later query; it is reported once.
            invalid: fetched.invalid.filter((invalid) => invalid.id === null || !invalidSeen.has(invalid.id))
        };
        page.invalid.forEach((invalid) => invalid.id !== null && invalidSeen.add(invalid.id));
        if (reported) {
            stats.listed += page.calls.length;
            if (firstPage && matched !== null) {
                await log(formatWindow(matched), 'info');
            }
        }
        yield page;

        if (!more) {
            if (!paging.complete) {
                stats.incompleteListings++;
                await log(
                    `Listed the calls between ${window.timeAfter.toISOString()} and ${window.timeBefore.toISOString()} incompletely: ` +
                        `Clari ordered calls of equal time differently on every pass, so this run deletes nothing`,
                    'warn'
                );
            }
            return;
        }
    }
}
