const DAY_MS = 24 * 60 * 60 * 1000;
export const WEEK_MS = 7 * DAY_MS;
/** Clari's own limit for a workspace, shared by every tool that calls its API. */
export const CLARI_WEEKLY_LIMIT = 100_000;
/** Refused requests (429) in a row after which the run stops asking: the workspace's week is likely spent. */
export const MAX_REFUSALS_IN_A_ROW = 20;
/** Requests counted ahead in the checkpoint, so that a run killed mid-way never under-counts what it sent. */
export const PRECHARGE_BLOCK = 100;
/**
 * The next block is written once fewer than this many counted requests are left, so the write has that many
 * requests' time to finish before any request waits for it: a checkpoint write queued behind a large save
 * then no longer halts the requests. Each write moves the count on by PRECHARGE_BLOCK - PRECHARGE_REFILL_AT.
 */
export const PRECHARGE_REFILL_AT = 50;
/** The least a backfill leaves to the week's incremental runs, as a share of the budget. */
export const RESERVE_FLOOR_SHARE = 0.02;

/** The start of the Clari week holding `ms`: Sunday 00:00 GMT. */
export function clariWeekStart(ms: number): number {
    const day = Math.floor(ms / DAY_MS);
    // 1970-01-01, day 0, was a Thursday: four days after a Sunday.
    const sinceSunday = (((day + 4) % 7) + 7) % 7;
    return (day - sinceSunday) * DAY_MS;
}

import type { PauseReason } from './run-report.js';

/**
 * Thrown in place of a request the budget does not allow, or after Clari refused too many in a row. The run
 * keeps what it fetched, records how far it got, and ends successfully: a pause is not an error.
 */
export class RequestsPaused extends Error {
    override name = 'RequestsPaused';
    constructor(
        readonly reason: PauseReason,
        message: string
    ) {
        super(message);
    }
}

/** What a run spends from: `changes` may use the whole budget, `backfill` (and reconciliation) stops at the reserve. */
export type SpendingPhase = 'changes' | 'backfill';

export interface BudgetOptions {
    budget: number;
    nowMs: () => number;
    /** The week's spend as last counted, and its week; a count from an earlier week does not carry over. */
    saved: { weekStartMs: number; spent: number } | null;
    /** Requests left to the week's incremental runs by the backfill. */
    reserve: number;
    /** Persists a count the week has certainly not passed yet; called before requests beyond the last one persisted. */
    persist: (weekStartMs: number, spentUpTo: number) => Promise<void>;
}

/**
 * The week's request budget, kept by the sync itself: Clari reports no quota. Every request counts, retries
 * and refused ones included, before it is sent. The count is persisted ahead of the requests in blocks, so
 * that however a run ends the next one starts from a count at least as high as what was sent.
 */
export class WeeklyBudget {
    private weekStartMs: number;
    private spent: number;
    private persistedUpTo: number;
    private persisting: Promise<void> | null = null;
    /** A write started ahead of need that failed: the next request to be counted reports it. */
    private aheadFailure: { error: unknown } | null = null;
    private refusedInARow = 0;
    /** Requests sent since the current run of refusals began: they may all come back refused too. */
    private sentDuringRefusals = 0;
    /** Once paused, a run stays paused: its other workers must not go on asking. */
    private pause: RequestsPaused | null = null;
    phase: SpendingPhase = 'changes';

    constructor(private readonly options: BudgetOptions) {
        const week = clariWeekStart(options.nowMs());
        this.weekStartMs = week;
        this.spent = options.saved?.weekStartMs === week ? options.saved.spent : 0;
        this.persistedUpTo = this.spent;
    }

    get spentThisWeek(): number {
        return this.spent;
    }

    get budget(): number {
        return this.options.budget;
    }

    get reserve(): number {
        return this.options.reserve;
    }

    /** When the current Clari week ends and a new budget begins. */
    get weekEnd(): Date {
        return new Date(this.weekStartMs + WEEK_MS);
    }

    /** Requests the current phase may still send this week. */
    get available(): number {
        return this.availableTo(this.phase);
    }

    /** Requests `phase` may still send this week, as of now. */
    availableTo(phase: SpendingPhase): number {
        const ceiling = phase === 'changes' ? this.options.budget : this.options.budget - this.options.reserve;
        return Math.max(0, ceiling - this.spent);
    }

    /** Counts one request about to be sent, or throws RequestsPaused when the budget does not allow it. */
    async spend(): Promise<void> {
        if (this.pause) {
            throw this.pause;
        }
        if (this.aheadFailure) {
            const { error } = this.aheadFailure;
            this.aheadFailure = null;
            throw error;
        }
        if (this.refusedInARow > 0 && this.refusedInARow + this.sentDuringRefusals >= MAX_REFUSALS_IN_A_ROW) {
            throw this.pauseFor(
                'refused',
                `Clari refused ${this.refusedInARow} requests in a row (${this.sentDuringRefusals} more were sent after the first)`
            );
        }
        this.rollOverWeek();
        if (this.available < 1) {
            throw this.pauseFor(
                'budget',
                this.phase === 'changes'
                    ? `this Clari week's budget of ${this.options.budget} requests is spent`
                    : `the backfill reached its share of this Clari week's budget (${this.options.budget - this.options.reserve} of ` +
                          `${this.options.budget}; ${this.options.reserve} are kept for the week's incremental runs)`
            );
        }
        const mine = ++this.spent;
        if (this.refusedInARow > 0) {
            this.sentDuringRefusals++;
        }
        const refillDue = this.persistedUpTo - mine < PRECHARGE_REFILL_AT && this.persistedUpTo < this.options.budget;
        if (mine <= this.persistedUpTo && refillDue && this.persisting === null) {
            // Nothing waits for this write, so its failure is kept for the next request (a rejection nobody
            // handles would end the process); an interruption Nango throws from it still reaches the script.
            this.writeNextBlock().catch((error: unknown) => {
                this.aheadFailure ??= { error };
            });
        }
        // Waits only until this request's own number is persisted, whatever others have counted since.
        while (mine > this.persistedUpTo) {
            // One write in flight at a time; the others wait for it and look again.
            try {
                await this.writeNextBlock();
            } catch (error) {
                this.reportedAheadFailure(error);
                throw error;
            }
        }
    }

    /**
     * How Clari answered a counted request: null when it did not (a network error or a stall). A 429 is a
     * refusal; too many in a row pause the run. Any other answer starts the count again.
     */
    heard(status: number | null): void {
        if (status === null) {
            return;
        }
        if (status !== 429) {
            this.refusedInARow = 0;
            this.sentDuringRefusals = 0;
            return;
        }
        this.refusedInARow++;
        this.sentDuringRefusals = Math.max(0, this.sentDuringRefusals - 1);
        if (this.refusedInARow >= MAX_REFUSALS_IN_A_ROW) {
            throw this.pauseFor(
                'refused',
                `Clari refused ${this.refusedInARow} requests in a row: the workspace's other tools may have spent this week's requests`
            );
        }
    }

    /** Clari kept refusing one request through every retry: the run pauses. */
    giveUp(message: string): RequestsPaused {
        return this.pauseFor('refused', message);
    }

    /** Why the run paused, if it did. */
    get paused(): RequestsPaused | null {
        return this.pause;
    }

    private pauseFor(reason: PauseReason, message: string): RequestsPaused {
        this.pause ??= new RequestsPaused(reason, message);
        return this.pause;
    }

    /** The exact count, to persist once the run is over. */
    get state(): { weekStartMs: number; spent: number } {
        return { weekStartMs: this.weekStartMs, spent: this.spent };
    }

    /** A request that waited for the failed write reports it: the next one does not report it again. */
    private reportedAheadFailure(error: unknown): void {
        if (this.aheadFailure?.error === error) {
            this.aheadFailure = null;
        }
    }

    private writeNextBlock(): Promise<void> {
        this.persisting ??= this.persistAhead().finally(() => {
            this.persisting = null;
        });
        return this.persisting;
    }

    private async persistAhead(): Promise<void> {
        const week = this.weekStartMs;
        const upTo = Math.max(Math.min(this.spent + PRECHARGE_BLOCK - 1, this.options.budget), this.spent);
        await this.options.persist(week, upTo);
        // A week that began during the write starts its own count: this one belongs to the old week.
        if (this.weekStartMs === week) {
            this.persistedUpTo = Math.max(this.persistedUpTo, upTo);
        }
    }

    private rollOverWeek(): void {
        const week = clariWeekStart(this.options.nowMs());
        if (week !== this.weekStartMs) {
            this.weekStartMs = week;
            this.spent = 0;
            this.persistedUpTo = 0;
        }
    }
}

/**
 * What a backfill leaves to the rest of the week: the incremental runs still to come (one per
 * `runEveryMs`) at what they cost lately, never less than a small share of the budget, never more than half.
 */
export function weeklyReserve(options: { budget: number; nowMs: number; runEveryMs: number; changesCostPerRun: number }): number {
    const runsLeft = Math.ceil((clariWeekStart(options.nowMs) + WEEK_MS - options.nowMs) / Math.max(options.runEveryMs, 60_000));
    // At most half the budget, so that a backfill always moves, however costly the hourly runs have been.
    return Math.min(
        Math.floor(options.budget / 2),
        Math.max(Math.ceil(options.budget * RESERVE_FLOOR_SHARE), Math.ceil(runsLeft * options.changesCostPerRun))
    );
}
