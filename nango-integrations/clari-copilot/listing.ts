import { ClariRequestError, type ClariClient, type QueryParams } from './clari-client.js';
import type { CallWindow } from './plan.js';
import { formatWindow } from './run-report.js';
import type { RunStats } from './run-stats.js';
import { callsPageSchema, describeIssues, parseCall, rawCallSchema, type RawCall } from './schemas.js';

/** Clari rejects `skip` above this, so no single query can page past ~10,000 calls. */
export const MAX_SKIP = 10_000;
/** Page sizes to fall back through when large pages keep failing with 502/503 (Clari's advice: "use limit=25"). */
export const PAGE_SIZES = [100, 50, 25] as const;
const ATTEMPTS_BEFORE_SHRINKING = 3;

export interface InvalidCall {
    id: string | null;
    reason: string;
}

export interface ListedPage {
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
 * Pages through every call of `window`, oldest first, one page at a time.
 *
 * Offset paging stops at `skip` 10,000, so when the next page would need more the window is split:
 * listing restarts at `skip` 0 from the time of the last call seen. That split costs no extra request.
 * If calls vanish from the query while it is paged (`matched` drops), the following pages would skip
 * as many calls, so the paging steps back by that many; the overlap is dropped by id.
 */
export async function* listCallsInWindow(
    client: ClariClient,
    window: CallWindow,
    stats: RunStats,
    log: (message: string, level: 'info' | 'warn') => Promise<void>
): AsyncGenerator<ListedPage> {
    let timeAfter = window.timeAfter;
    let skip = 0;
    let pageSize = 0;
    let previousMatched: number | null = null;
    let previousIds = new Set<string>();

    for (;;) {
        const limit = PAGE_SIZES[pageSize] ?? 25;
        let body: unknown;
        try {
            const canShrink = pageSize < PAGE_SIZES.length - 1;
            const params = { ...windowParams(window, timeAfter), sortTime: 'asc', skip, limit };
            const shrinkSooner = { statuses: [502, 503], afterAttempts: ATTEMPTS_BEFORE_SHRINKING };
            body = await client.get('/calls', params, canShrink ? { giveUpEarly: shrinkSooner } : {});
        } catch (error) {
            if (error instanceof ClariRequestError && (error.status === 502 || error.status === 503) && pageSize < PAGE_SIZES.length - 1) {
                await log(
                    `Clari keeps answering ${error.status} to pages of ${limit}; retrying with pages of ${PAGE_SIZES[pageSize + 1] ?? 25}`,
                    'warn'
                );
                pageSize++;
                continue;
            }
            throw error;
        }

        const envelope = callsPageSchema.safeParse(body);
        if (!envelope.success) {
            throw new Error(`Clari returned a malformed /calls page at skip=${skip}: ${describeIssues(envelope.error)}`);
        }
        const { calls: rawCalls, pagination } = envelope.data;
        const page: ListedPage = { calls: [], invalid: [], matched: pagination?.matched ?? null };
        const pageIds = new Set<string>();
        let latestTime = timeAfter.getTime();
        for (const raw of rawCalls) {
            const parsed = parseCall(rawCallSchema, raw);
            if (!parsed.ok) {
                page.invalid.push({ id: parsed.id, reason: parsed.reason });
                continue;
            }
            pageIds.add(parsed.value.id);
            latestTime = Math.max(latestTime, new Date(parsed.value.time).getTime());
            if (!previousIds.has(parsed.value.id)) {
                page.calls.push(parsed.value);
            }
        }
        stats.listed += page.calls.length;
        if (skip === 0 && timeAfter === window.timeAfter && page.matched !== null) {
            await log(formatWindow(page.matched), 'info');
        }
        yield page;

        const hasMore = pagination?.hasMore ?? rawCalls.length === limit;
        if (!hasMore || rawCalls.length === 0) {
            return;
        }
        const matched = pagination?.matched ?? null;
        const vanished = previousMatched !== null && matched !== null ? Math.max(0, previousMatched - matched) : 0;
        previousMatched = matched;
        previousIds = pageIds;
        const nextSkip = (pagination?.nextPageSkip ?? skip + rawCalls.length) - vanished;

        if (nextSkip <= MAX_SKIP) {
            skip = Math.max(0, nextSkip);
            continue;
        }
        // Gt is exclusive: start 1 ms before the latest call seen, so calls sharing its time are not lost.
        const restartAfter = new Date(latestTime - 1);
        if (restartAfter.getTime() <= timeAfter.getTime()) {
            throw new Error(
                `Cannot page past skip=${MAX_SKIP}: more than ${MAX_SKIP} calls share call times after ${timeAfter.toISOString()}`
            );
        }
        timeAfter = restartAfter;
        skip = 0;
        previousMatched = null;
    }
}
