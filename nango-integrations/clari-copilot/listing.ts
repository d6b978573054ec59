import type { ClariClient, QueryParams } from './clari-client.js';
import { ListPageFetcher, type InvalidCall, type ListingLog } from './list-page.js';
import { OffsetPaging } from './offset-paging.js';
import type { CallWindow } from './plan.js';
import { formatWindow } from './run-report.js';
import type { RunStats } from './run-stats.js';
import type { RawCall } from './schemas.js';

export interface ListedPage {
    /** Valid calls new to this listing, oldest first. */
    calls: RawCall[];
    invalid: InvalidCall[];
    /** Calls Clari says match the current query, for progress reporting; null when it does not say. */
    matched: number | null;
}

export function windowParams(window: CallWindow, timeAfter: Date = window.timeAfter): QueryParams {
    const params: QueryParams = { filterTimeGt: timeAfter.toISOString(), filterTimeLt: window.timeBefore.toISOString() };
    if (window.modifiedAfter) {
        params['filterModifiedGt'] = window.modifiedAfter.toISOString();
    }
    if (window.modifiedBefore) {
        params['filterModifiedLt'] = window.modifiedBefore.toISOString();
    }
    return params;
}

/**
 * Pages through every call of `window`, oldest first, one page at a time: `ListPageFetcher` fetches and
 * validates each page, `OffsetPaging` says where the next one starts and which calls are repeats.
 */
export async function* listCallsInWindow(
    client: ClariClient,
    window: CallWindow,
    stats: RunStats,
    log: ListingLog
): AsyncGenerator<ListedPage> {
    const fetcher = new ListPageFetcher(client, log);
    const paging = new OffsetPaging(window.timeAfter);
    for (;;) {
        const { timeAfter, skip } = paging.position;
        const fetched = await fetcher.fetch({ ...windowParams(window, timeAfter), sortTime: 'asc', skip });
        const page: ListedPage = {
            calls: paging.dropSeen(fetched.calls),
            invalid: fetched.invalid,
            matched: fetched.pagination?.matched ?? null
        };
        stats.listed += page.calls.length;
        if (paging.isFirstPage && page.matched !== null) {
            await log(formatWindow(page.matched), 'info');
        }
        yield page;

        const more = paging.advance({
            ...fetched.pagination,
            calls: fetched.calls.map((call) => ({ id: call.id, timeMs: new Date(call.time).getTime() })),
            rows: fetched.rows,
            limit: fetched.limit
        });
        if (!more) {
            return;
        }
    }
}
