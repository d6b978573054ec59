/** setTimeout's longest delay: Node fires a longer one after 1 ms (with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Time as the limiter and the client see it. Production uses `realClock`; unit tests pass a fake one so
 * that hours of backoff and pacing take no wall-clock time and gaps are exact.
 */
export interface Clock {
    now(): number;
    /** Never resolves early, whatever `ms` is. */
    sleep(ms: number): Promise<void>;
    /**
     * Calls `onExpiry` after `ms` unless the returned cancel function runs first. Where the host cannot
     * cancel (Nango's sandbox has no clearTimeout) the timer still fires and holds `onExpiry` until then, so
     * `onExpiry` must not reach anything that should be freed earlier, such as a response.
     */
    startTimer(ms: number, onExpiry: () => void): () => void;
}

export async function sleep(ms: number): Promise<void> {
    // One setTimeout past its limit would return after 1 ms; chunks keep a long wait long.
    let remaining = ms;
    while (remaining > MAX_TIMER_MS) {
        await new Promise((resolve) => setTimeout(resolve, MAX_TIMER_MS));
        remaining -= MAX_TIMER_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, remaining));
}

/**
 * Nango's script sandbox provides `setTimeout` but not `clearTimeout`, so the timer is also unref'd where
 * the host allows it: an uncancelled timer then never keeps a finished run alive. A delay past setTimeout's
 * limit is clamped to it rather than firing at once; no timeout here is meant to last 24 days anyway.
 */
export function startTimer(ms: number, onExpiry: () => void): () => void {
    const handle = setTimeout(onExpiry, Math.min(ms, MAX_TIMER_MS));
    const host = globalThis as { clearTimeout?: (handle: ReturnType<typeof setTimeout>) => void };
    if (typeof handle === 'object' && typeof handle.unref === 'function') {
        handle.unref();
    }
    return () => {
        host.clearTimeout?.(handle);
    };
}

/** `Date` and `setTimeout` are looked up on each call, not captured, so vi.useFakeTimers fakes this clock too. */
export const realClock: Clock = {
    now: () => Date.now(),
    sleep,
    startTimer
};

export interface RateLimiter {
    /** Resolves when the caller may send its next request. */
    acquire(): Promise<void>;
    /** After a 429: halve the pace and hold every caller back for `ms`, so concurrent workers back off together. */
    throttled(ms: number): void;
    /** After a success: creep back toward the configured rate. */
    succeeded(): void;
    /** Requests per second currently allowed. */
    readonly currentRate: number;
}

/** Never slower than this, however long Clari keeps throttling (unless configured slower to begin with). */
const MIN_REQUESTS_PER_SECOND = 0.5;
/**
 * How late a grant may be and still keep the schedule. At Clari's 10 req/s this is half an interval; it only
 * matters at faster rates, where it bounds what catching up adds to a second: 5% of the rate.
 */
export const CATCH_UP_MS = 50;
/** Successes it takes to climb from half the rate back to the full rate. */
const RECOVERY_STEPS = 20;

/**
 * Spaces requests 1/rate apart on `clock` (never less than half that), with no burst: Clari counts requests
 * per second, and a caller that wakes late (the event loop was busy) must not release a clump of requests. A 429
 * halves the rate (Clari's limit may be lower than configured, or shared); successes restore it
 * additively, so a throttled run settles just under what Clari accepts.
 */
export function createRateLimiter(requestsPerSecond: number, clock: Pick<Clock, 'now' | 'sleep'> = realClock): RateLimiter {
    if (!(requestsPerSecond > 0 && Number.isFinite(requestsPerSecond))) {
        throw new RangeError(`requestsPerSecond must be a positive finite number, got ${requestsPerSecond}`);
    }
    // A 429 must never speed up a limiter configured below the floor.
    const floor = Math.min(MIN_REQUESTS_PER_SECOND, requestsPerSecond);
    let rate = requestsPerSecond;
    let nextSlot = 0;
    let holdUntil = 0;
    // Half an interval after the last grant: how fast callers behind schedule catch up.
    let notBefore = 0;
    // Callers are served in the order they asked: a caller that just finished a request and asks again
    // queues behind those already waiting, so no worker (nor a page of them) is starved.
    const waiting: (() => void)[] = [];
    let serving = false;
    async function serve(): Promise<void> {
        serving = true;
        try {
            while (waiting.length > 0) {
                const current = clock.now();
                const scheduled = Math.max(nextSlot, holdUntil);
                const due = Math.max(scheduled, notBefore);
                if (current >= due) {
                    // Timers fire late, and a runner's event loop is busy for a few tens of milliseconds at a time;
                    // at 100 req/s, restarting the schedule from each late wake-up lost a tenth of the rate or more.
                    // A grant at most CATCH_UP_MS behind keeps the schedule, and the callers behind it catch up at
                    // twice the rate, so a second holds at most CATCH_UP_MS worth of requests more than the rate.
                    // A later wake-up restarts it from now: one caller is released, never a clump.
                    const interval = 1000 / rate;
                    const onSchedule = current - scheduled <= Math.max(CATCH_UP_MS, interval / 2);
                    nextSlot = (onSchedule ? scheduled : current) + interval;
                    notBefore = current + interval / 2;
                    waiting.shift()?.();
                    continue;
                }
                // Whole milliseconds: timers drop a fraction (fake timers then fire at once, and the loop
                // spins). The loop re-checks after waking, so a wait past setTimeout's limit is taken in pieces.
                await clock.sleep(Math.min(Math.ceil(due - current), MAX_TIMER_MS));
            }
        } finally {
            serving = false;
        }
    }
    return {
        acquire() {
            return new Promise<void>((resolve) => {
                waiting.push(resolve);
                if (!serving) {
                    void serve();
                }
            });
        },
        throttled(ms) {
            rate = Math.max(floor, rate / 2);
            holdUntil = Math.max(holdUntil, clock.now() + ms);
        },
        succeeded() {
            rate = Math.min(requestsPerSecond, rate + requestsPerSecond / RECOVERY_STEPS);
        },
        get currentRate() {
            return rate;
        }
    };
}
