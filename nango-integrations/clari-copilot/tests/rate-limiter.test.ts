import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../rate-limiter.js';

function blockEventLoop(ms: number): void {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        // busy on purpose: timers due meanwhile all fire late, together
    }
}

describe('createRateLimiter', () => {
    it('keeps requests 1/rate apart even when callers wake late together', async () => {
        const limiter = createRateLimiter(20);
        const granted: number[] = [];
        const callers = Array.from({ length: 12 }, async () => {
            await limiter.acquire();
            granted.push(Date.now());
        });
        setTimeout(() => {
            blockEventLoop(400);
        }, 60);
        await Promise.all(callers);
        const gaps = granted.slice(1).map((time, index) => time - (granted[index] ?? 0));
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(49);
    });

    it('halves the rate on a 429 and climbs back after successes', () => {
        const limiter = createRateLimiter(10, () => 0);
        limiter.throttled(0);
        limiter.throttled(0);
        expect(limiter.currentRate).toBe(2.5);
        for (let step = 0; step < 20; step++) {
            limiter.succeeded();
        }
        expect(limiter.currentRate).toBe(10);
    });
});
