/** Clari rejects `skip` above this, so no single query can page past ~10,000 calls. */
export const MAX_SKIP = 10_000;

/** Where the next `/calls` query of a window starts: the call-time lower bound (exclusive) and the offset past it. */
export interface PagePosition {
    timeAfter: Date;
    skip: number;
}

/** What a listed page tells the paging; the fields of Clari's `pagination` may be missing. */
export interface PageSeen {
    /** The valid calls on the page, ids the previous page had included, with their call time. */
    calls: readonly { id: string; timeMs: number }[];
    /** Rows on the page, invalid ones included. */
    rows: number;
    /** The page size the query asked for. */
    limit: number;
    matched?: number | null | undefined;
    hasMore?: boolean | null | undefined;
    nextPageSkip?: number | null | undefined;
}

/**
 * Offset paging through one window of `/calls`, oldest first: where each query starts, and which listed
 * calls are repeats. Pure state, no I/O.
 *
 * Offset paging stops at `skip` 10,000, so when the next page would need more, the window is split:
 * listing restarts at `skip` 0 from the time of the latest call seen. That split costs no extra request.
 * If calls vanish from the query while it is paged (`matched` drops), the following pages would skip as
 * many calls, so the paging steps back by that many; the overlap is dropped by id.
 */
export class OffsetPaging {
    private timeAfter: Date;
    private skip = 0;
    private pages = 0;
    private previousMatched: number | null = null;
    private previousIds: ReadonlySet<string> = new Set();

    constructor(windowStart: Date) {
        this.timeAfter = windowStart;
    }

    get position(): PagePosition {
        return { timeAfter: this.timeAfter, skip: this.skip };
    }

    /** True until the first page is taken into account: that page's `matched` is the window's size. */
    get isFirstPage(): boolean {
        return this.pages === 0;
    }

    /** `calls` without those the previous page listed: stepping back, or restarting at a shared call time, lists them again. */
    dropSeen<T extends { id: string }>(calls: readonly T[]): T[] {
        return calls.filter((call) => !this.previousIds.has(call.id));
    }

    /**
     * Moves past `page`. Returns false when the window is listed to its end; throws when the window
     * cannot be paged further because more than MAX_SKIP calls share one call time.
     */
    advance(page: PageSeen): boolean {
        this.pages++;
        const hasMore = page.hasMore ?? page.rows === page.limit;
        if (!hasMore || page.rows === 0) {
            return false;
        }
        const matched = page.matched ?? null;
        const vanished = this.previousMatched !== null && matched !== null ? Math.max(0, this.previousMatched - matched) : 0;
        this.previousMatched = matched;
        this.previousIds = new Set(page.calls.map((call) => call.id));
        const nextSkip = (page.nextPageSkip ?? this.skip + page.rows) - vanished;

        if (nextSkip <= MAX_SKIP) {
            this.skip = Math.max(0, nextSkip);
            return true;
        }
        const latestTimeMs = Math.max(this.timeAfter.getTime(), ...page.calls.map((call) => call.timeMs));
        // Gt is exclusive: start 1 ms before the latest call seen, so calls sharing its time are not lost.
        const restartAfter = new Date(latestTimeMs - 1);
        if (restartAfter.getTime() <= this.timeAfter.getTime()) {
            throw new Error(
                `Cannot page past skip=${MAX_SKIP}: more than ${MAX_SKIP} calls share call times after ${this.timeAfter.toISOString()}`
            );
        }
        this.timeAfter = restartAfter;
        this.skip = 0;
        this.previousMatched = null;
        return true;
    }
}
