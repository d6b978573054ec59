/**
 * Clari's weekly request budget: 100,000 requests a week per workspace, the week starting Sunday 00:00 GMT. Clari
 * reports nothing about it (no quota headers), and what it answers once the week is spent is unconfirmed; the
 * emulator answers 429, optionally with a Retry-After to the next week's start.
 */

export const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
/** 1970-01-04T00:00:00Z, the first Sunday after the epoch (a Thursday): every Clari week starts a whole number of weeks from it. */
const FIRST_SUNDAY_MS = 3 * 24 * 60 * 60 * 1000;

/** The start of the Clari week holding `ms` (epoch ms): the latest Sunday 00:00 UTC at or before it. */
export function clariWeekStart(ms: number): number {
    // Math.floor rather than truncation, so times before the first Sunday (and before the epoch) fall back too.
    return FIRST_SUNDAY_MS + Math.floor((ms - FIRST_SUNDAY_MS) / WEEK_MS) * WEEK_MS;
}

/** The Clari week holding `ms`: `start` inclusive, `end` exclusive (the next week's start). */
export function clariWeek(ms: number): { start: number; end: number } {
    const start = clariWeekStart(ms);
    return { start, end: start + WEEK_MS };
}

export type QuotaRetryAfter = 'none' | 'next-week';

export interface QuotaSettings {
    /** Requests a Clari week allows; null turns the quota off (requests are still counted per week). */
    weeklyQuota: number | null;
    /** Whether requests the per-second token bucket refuses count against the week (Clari's behaviour is unconfirmed). */
    countRefused: boolean;
    /** Whether a quota refusal carries a Retry-After to the next week's start. */
    retryAfter: QuotaRetryAfter;
}

export const DEFAULT_QUOTA_SETTINGS: QuotaSettings = { weeklyQuota: null, countRefused: true, retryAfter: 'none' };

/** One Clari week's spend. */
export interface QuotaWeek {
    start: string;
    end: string;
    /** Requests that reached the emulator with valid credentials and were counted. */
    used: number;
    /** Requests spent by the workspace's other tools (POST /_control/quota/spend). */
    usedByOthers: number;
    /** Requests answered 429 because the week was spent; they are not in `used`. */
    refused: number;
}

export interface QuotaStatus extends QuotaSettings {
    /** The current Clari week, on the emulator's (possibly shifted) clock. */
    week: { start: string; end: string };
    used: number;
    usedByOthers: number;
    refused: number;
    /** weeklyQuota - used - usedByOthers, never below 0; null when the quota is off. */
    remaining: number | null;
    /** Every week that saw a request or a spend, oldest first, the current one included once it has. */
    weeks: QuotaWeek[];
}

export type QuotaDecision = { allowed: true } | { allowed: false; retryAfterSec: number | undefined };

interface WeekCounts {
    used: number;
    usedByOthers: number;
    refused: number;
}

export class WeeklyQuota {
    private config: QuotaSettings;
    /** Keyed by week start, so a clock moved back into an earlier week finds that week's spend again. */
    private weeks = new Map<number, WeekCounts>();

    constructor(
        settings: Partial<QuotaSettings>,
        private readonly clock: () => number
    ) {
        this.config = { ...DEFAULT_QUOTA_SETTINGS, ...settings };
    }

    get settings(): QuotaSettings {
        return { ...this.config };
    }

    configure(settings: Partial<QuotaSettings>): void {
        this.config = { ...this.config, ...settings };
    }

    /** Back to the given settings with no week counted. */
    reset(settings: Partial<QuotaSettings>): void {
        this.config = { ...DEFAULT_QUOTA_SETTINGS, ...settings };
        this.weeks.clear();
    }

    /**
     * An authenticated request arrives: refused once the week is spent (not counted in `used`), otherwise admitted
     * but not counted yet, since whether it counts may depend on the token bucket (`count`).
     */
    admit(): QuotaDecision {
        const now = this.clock();
        const counts = this.counts(now);
        const { weeklyQuota } = this.config;
        if (weeklyQuota === null || counts.used + counts.usedByOthers < weeklyQuota) {
            return { allowed: true };
        }
        counts.refused += 1;
        const retryAfterSec =
            this.config.retryAfter === 'next-week' ? Math.max(1, Math.ceil((clariWeek(now).end - now) / 1000)) : undefined;
        return { allowed: false, retryAfterSec };
    }

    /** Counts an admitted request; `refusedByRate` when the token bucket answered it 429. */
    count(refusedByRate: boolean): void {
        if (!refusedByRate || this.config.countRefused) {
            this.counts(this.clock()).used += 1;
        }
    }

    /**
     * The workspace's other tools spend `requests` of the current week. Clari would refuse what goes beyond the
     * quota, so only what is left is spent; answers how many were.
     */
    spend(requests: number): number {
        const counts = this.counts(this.clock());
        const { weeklyQuota } = this.config;
        const spent = weeklyQuota === null ? requests : Math.min(requests, Math.max(0, weeklyQuota - counts.used - counts.usedByOthers));
        counts.usedByOthers += spent;
        return spent;
    }

    status(): QuotaStatus {
        const now = this.clock();
        const week = clariWeek(now);
        const current = this.weeks.get(week.start) ?? { used: 0, usedByOthers: 0, refused: 0 };
        const { weeklyQuota } = this.config;
        return {
            ...this.settings,
            week: { start: new Date(week.start).toISOString(), end: new Date(week.end).toISOString() },
            ...current,
            remaining: weeklyQuota === null ? null : Math.max(0, weeklyQuota - current.used - current.usedByOthers),
            weeks: [...this.weeks.entries()]
                .sort(([a], [b]) => a - b)
                .map(([start, counts]) => ({
                    start: new Date(start).toISOString(),
                    end: new Date(start + WEEK_MS).toISOString(),
                    ...counts
                }))
        };
    }

    private counts(now: number): WeekCounts {
        const start = clariWeekStart(now);
        let counts = this.weeks.get(start);
        if (!counts) {
            counts = { used: 0, usedByOthers: 0, refused: 0 };
            this.weeks.set(start, counts);
        }
        return counts;
    }
}
