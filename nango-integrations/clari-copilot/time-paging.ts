/** Clari rejects `skip` above this. */
export const MAX_SKIP = 10_000;
/** Passes over one call time's calls before the listing is declared incomplete (see `TimePaging`). */
export const MAX_TIE_PASSES = 3;

/** The call-time range (both bounds exclusive) and offset of the next `/calls` query of a window. */
export interface PageQuery {
    timeAfter: Date;
    timeBefore: Date;
    skip: number;
}

/** A listed call as the paging sees it. */
export interface PagedCall {
    id: string;
    timeMs: number;
}

/** What a listed page tells the paging; the fields of Clari's `pagination` may be missing. */
export interface PageSeen<C extends PagedCall> {
    /** Every valid call on the page, in Clari's order. */
    calls: readonly C[];
    /** Rows on the page, invalid ones included. */
    rows: number;
    /** The page size the query asked for. */
    limit: number;
    /** Null when the page came without a `pagination` block. */
    hasMore: boolean | null;
    matched: number | null;
}

export interface PageTaken<C> {
    /** The page's calls that this window has not listed yet. */
    fresh: C[];
    /** False when the window is listed to its end. */
    more: boolean;
}

interface TieGroup {
    timeMs: number;
    skip: number;
    pass: number;
    /** What Clari's first page of the current pass said the group holds. */
    matched: number | null;
    seen: Set<string>;
}

/**
 * Paging through one window of `/calls`, newest first (`sortTime=desc`). Pure state, no I/O.
 *
 * Each query is bounded above by the oldest call time of the previous page (inclusive) and skips only
 * the calls already listed at that time. Positions further up Clari's list never matter, so a call that
 * is rescheduled, added or removed while the window is paged shifts nothing, and no query needs a large
 * `skip`: the window never has to be split at Clari's 10,000 cap.
 *
 * Calls of equal time (calendar calls start on the hour) have no tie-breaker in Clari, so their order may
 * differ from one query to the next. A page that lists again a call already seen at the bound's time
 * shows exactly that; so does a page entirely at one time. That time's calls are then listed on their
 * own and again until a pass finds every call Clari counts for it, at most `MAX_TIE_PASSES` times;
 * after that the window is marked incomplete, so that no delete relies on it.
 */
export class TimePaging {
    private before: Date;
    private boundTimeMs: number | null = null;
    /** Ids listed at `boundTimeMs`, which the next query skips. */
    private atBound = new Set<string>();
    private tie: TieGroup | null = null;
    private pages = 0;
    private incompleteGroups = 0;

    constructor(private readonly window: { timeAfter: Date; timeBefore: Date }) {
        this.before = window.timeBefore;
    }

    get query(): PageQuery {
        if (this.tie) {
            return { timeAfter: new Date(this.tie.timeMs - 1), timeBefore: new Date(this.tie.timeMs + 1), skip: this.tie.skip };
        }
        return { timeAfter: this.window.timeAfter, timeBefore: this.before, skip: this.atBound.size };
    }

    /** True until the first page is taken: that page's `matched` is the window's size. */
    get isFirstPage(): boolean {
        return this.pages === 0;
    }

    /** Every call of the window with a time from this one on has been taken (exclusive bound of what is left). */
    get listedDownTo(): Date {
        return this.tie ? new Date(this.tie.timeMs + 1) : this.before;
    }

    /** Whether every call of the window was listed; false when a group of equal times could not be listed whole. */
    get complete(): boolean {
        return this.incompleteGroups === 0;
    }

    /**
     * Takes the page answered to `query`: which of its calls are new, and whether there is more. Throws
     * when the window cannot be paged: more than MAX_SKIP calls share one call time, or a page of rows
     * had no valid call time to move on from.
     */
    take<C extends PagedCall>(page: PageSeen<C>): PageTaken<C> {
        this.pages++;
        return this.tie ? this.takeInTie(this.tie, page) : this.takeByTime(page);
    }

    private takeByTime<C extends PagedCall>(page: PageSeen<C>): PageTaken<C> {
        // Without a pagination block nothing says the list ended (a page may come back truncated), so only
        // an empty page ends it then.
        const ended = page.rows === 0 || page.hasMore === false;
        if (page.calls.length === 0) {
            if (ended) {
                return { fresh: [], more: false };
            }
            throw new Error(`Cannot page /calls before ${this.before.toISOString()}: ${page.rows} row(s) without a valid call time`);
        }
        const boundTimeMs = this.boundTimeMs;
        if (boundTimeMs !== null && page.calls.some((call) => this.atBound.has(call.id))) {
            // Clari ordered the bound's calls differently this time, so the skip may have passed over one
            // not seen yet. The older calls on this page are listed again after that time's calls.
            return this.startTie(boundTimeMs, page.calls, this.atBound);
        }
        const oldestMs = Math.min(...page.calls.map((call) => call.timeMs));
        const newestMs = Math.max(...page.calls.map((call) => call.timeMs));
        if (!ended && oldestMs === newestMs && page.rows >= page.limit) {
            return this.startTie(oldestMs, page.calls, oldestMs === boundTimeMs ? this.atBound : new Set());
        }
        const atOldest = page.calls.filter((call) => call.timeMs === oldestMs).map((call) => call.id);
        this.atBound = new Set(oldestMs === boundTimeMs ? [...this.atBound, ...atOldest] : atOldest);
        this.boundTimeMs = oldestMs;
        this.before = new Date(oldestMs + 1);
        return { fresh: [...page.calls], more: !ended };
    }

    private startTie<C extends PagedCall>(timeMs: number, calls: readonly C[], seenBefore: ReadonlySet<string>): PageTaken<C> {
        const fresh = calls.filter((call) => call.timeMs === timeMs && !seenBefore.has(call.id));
        this.tie = { timeMs, skip: 0, pass: 1, matched: null, seen: new Set([...seenBefore, ...fresh.map((call) => call.id)]) };
        return { fresh, more: true };
    }

    private takeInTie<C extends PagedCall>(tie: TieGroup, page: PageSeen<C>): PageTaken<C> {
        if (tie.skip === 0) {
            tie.matched = page.matched;
        }
        const fresh = page.calls.filter((call) => !tie.seen.has(call.id));
        fresh.forEach((call) => tie.seen.add(call.id));
        // Without a pagination block, only an empty page ends the group: a short page may be a truncated one.
        if (page.rows > 0 && (page.hasMore ?? true)) {
            const next = tie.skip + page.rows;
            if (next > MAX_SKIP) {
                throw new Error(
                    `Cannot page past skip=${MAX_SKIP}: more than ${MAX_SKIP} calls share the call time ${new Date(tie.timeMs).toISOString()}`
                );
            }
            tie.skip = next;
            return { fresh, more: true };
        }
        const short = tie.matched !== null && tie.seen.size < tie.matched;
        if (short && tie.pass < MAX_TIE_PASSES) {
            tie.pass++;
            tie.skip = 0;
            return { fresh, more: true };
        }
        if (short) {
            this.incompleteGroups++;
        }
        // Every call at that time is listed: carry on strictly before it.
        this.tie = null;
        this.before = new Date(tie.timeMs);
        this.atBound = new Set();
        this.boundTimeMs = null;
        return { fresh, more: this.before.getTime() > this.window.timeAfter.getTime() + 1 };
    }
}
