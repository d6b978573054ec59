import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CATCH_UP_MS, createRateLimiter, MAX_TIMER_MS, sleep, startTimer } from '../rate-limiter.js';
import { FakeClock } from './fake-clock.js';

describe('createRateLimiter', () => {
    it('keeps requests 1/rate apart even when callers wake late together', async () => {
        const clock = new FakeClock();
        const limiter = createRateLimiter(20, clock);
        const granted: number[] = [];
        const callers = Array.from({ length: 12 }, async () => {
            await limiter.acquire();
            granted.push(clock.now());
        });
        // A busy event loop: every caller due within these 400 ms wakes at its end, at once.
        clock.startTimer(60, () => {
            clock.jump(400);
        });
        await clock.run(Promise.all(callers));
        const gaps = granted.slice(1).map((time, index) => time - (granted[index] ?? 0));
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(50);
    });

    it('keeps the full rate when every timer fires a little late, and never grants more than rate + 1 in a second', async () => {
        const clock = new FakeClock();
        // Node's timers fire a millisecond or more after their time.
        const lateClock = { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms + 2) };
        const limiter = createRateLimiter(100, lateClock);
        const granted: number[] = [];
        const callers = Array.from({ length: 301 }, async () => {
            await limiter.acquire();
            granted.push(clock.now());
        });
        await clock.run(Promise.all(callers));
        // 300 intervals of 10 ms after the first grant; a schedule restarted at each late wake-up takes 3,600 ms.
        expect(granted[granted.length - 1]).toBeLessThanOrEqual(3_000 + 10);
        const gaps = granted.slice(1).map((time, index) => time - (granted[index] ?? 0));
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
        const busiestSecond = Math.max(...granted.map((start) => granted.filter((time) => time >= start && time < start + 1000).length));
        expect(busiestSecond).toBeLessThanOrEqual(101);
    });

    it('makes up for short stalls of the event loop at twice the rate, adding at most CATCH_UP_MS of requests to a second', async () => {
        const clock = new FakeClock();
        const limiter = createRateLimiter(100, clock);
        const granted: number[] = [];
        const callers = Array.from({ length: 301 }, async () => {
            await limiter.acquire();
            granted.push(clock.now());
        });
        // Five stalls of 40 ms, as a runner parsing a page of responses has them.
        for (const at of [300, 800, 1300, 1800, 2300]) {
            clock.startTimer(at, () => {
                clock.jump(40);
            });
        }
        await clock.run(Promise.all(callers));
        // Restarted from each late wake-up, the schedule would end 200 ms later.
        expect(granted[granted.length - 1]).toBeLessThanOrEqual(3_000 + 10);
        const gaps = granted.slice(1).map((time, index) => time - (granted[index] ?? 0));
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
        const busiestSecond = Math.max(...granted.map((start) => granted.filter((time) => time >= start && time < start + 1000).length));
        expect(busiestSecond).toBeLessThanOrEqual(100 + (100 * CATCH_UP_MS) / 1000 + 1);
    });

    it('sleeps whole milliseconds, which is all timers honour', async () => {
        const clock = new FakeClock();
        const limiter = createRateLimiter(3, clock);
        await clock.run(Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]));
        expect(clock.sleeps.length).toBeGreaterThan(0);
        expect(clock.sleeps.every((ms) => Number.isInteger(ms))).toBe(true);
    });

    it('holds every caller back for the time a 429 asks', async () => {
        const clock = new FakeClock();
        const limiter = createRateLimiter(10, clock);
        await clock.run(limiter.acquire());
        limiter.throttled(3000);
        await clock.run(limiter.acquire());
        expect(clock.now()).toBe(3000);
    });

    it('halves the rate on a 429 and climbs back after successes', () => {
        const limiter = createRateLimiter(10, new FakeClock());
        limiter.throttled(0);
        limiter.throttled(0);
        expect(limiter.currentRate).toBe(2.5);
        for (let step = 0; step < 20; step++) {
            limiter.succeeded();
        }
        expect(limiter.currentRate).toBe(10);
    });
});

describe('tiny rates', () => {
    it("waits the whole interval of a very slow rate without ever asking for a wait past setTimeout's limit", async () => {
        const clock = new FakeClock();
        const limiter = createRateLimiter(1e-9, clock);
        await clock.run(limiter.acquire());
        await clock.run(limiter.acquire());
        expect(clock.now()).toBe(1e12);
        expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(MAX_TIMER_MS);
    });

    it('does not speed up on a 429 when configured below its throttled floor', () => {
        const limiter = createRateLimiter(0.1, new FakeClock());
        limiter.throttled(0);
        expect(limiter.currentRate).toBe(0.1);
    });

    it('rejects a rate that is not positive and finite', () => {
        for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
            expect(() => createRateLimiter(rate)).toThrow(RangeError);
        }
    });
});

describe("the real clock past setTimeout's limit", () => {
    // Fake timers copy Node here: a delay past 2^31-1 ms fires after 1 ms.
    beforeEach(() => {
        vi.useFakeTimers();
    });
    afterEach(() => {
        vi.useRealTimers();
    });

    it('sleep waits the whole delay', async () => {
        let done = false;
        void sleep(3 * MAX_TIMER_MS).then(() => (done = true));
        await vi.advanceTimersByTimeAsync(3 * MAX_TIMER_MS - 1);
        expect(done).toBe(false);
        await vi.advanceTimersByTimeAsync(1);
        expect(done).toBe(true);
    });

    it('startTimer clamps the delay to the limit instead of firing at once', async () => {
        const expired = vi.fn();
        startTimer(2 ** 40, expired);
        await vi.advanceTimersByTimeAsync(MAX_TIMER_MS - 1);
        expect(expired).not.toHaveBeenCalled();
        await vi.advanceTimersByTimeAsync(1);
        expect(expired).toHaveBeenCalledOnce();
    });
});
