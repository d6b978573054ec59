import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../rate-limiter.js';
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
