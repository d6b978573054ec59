import { describe, expect, it, vi } from 'vitest';
import type { NangoSync } from '../../models.js';
import { createClariClient } from '../clari-client.js';
import { RunStats } from '../run-stats.js';
import { failWith, type FakeResponse } from './fake-clari.js';
import { FakeClock } from './fake-clock.js';

const OK: FakeResponse = { status: 200, headers: {}, data: { ok: true } };

/** A Nango whose `get` plays `script` in order (a response, an error to throw, or 'stall' for no answer), stamping each call on `clock`. */
function scriptedNango(clock: FakeClock, script: (FakeResponse | 'stall')[]) {
    const sentAt: number[] = [];
    const get = vi.fn((): Promise<FakeResponse> => {
        sentAt.push(clock.now());
        const next = script.shift() ?? OK;
        if (next === 'stall') {
            return new Promise(() => undefined);
        }
        if (next.status >= 400) {
            return Promise.reject(Object.assign(new Error(`status ${next.status}`), { response: next }));
        }
        return Promise.resolve(next);
    });
    // createClariClient uses only `get`; the cast is the only bridge.
    return { nango: { get } as unknown as NangoSync, sentAt };
}

/** Nango's sandbox has no clearTimeout: here too a timer fires whether or not it was cancelled. */
class UncancellableClock extends FakeClock {
    override startTimer(ms: number, onExpiry: () => void): () => void {
        super.startTimer(ms, onExpiry);
        return () => undefined;
    }
}

describe('createClariClient on an injected clock', () => {
    it('waits exactly what Retry-After asks, in seconds or as an HTTP date', async () => {
        const clock = new FakeClock(Date.parse('2026-06-15T12:00:00.000Z'));
        const start = clock.now();
        const { nango, sentAt } = scriptedNango(clock, [
            failWith(429, { 'retry-after': '7' }),
            failWith(503, { 'retry-after': 'Mon, 15 Jun 2026 12:01:00 GMT' })
        ]);
        const client = createClariClient(nango, { maxRequestsPerSecond: 10, stats: new RunStats(), clock });
        await expect(clock.run(client.get('/calls', {}))).resolves.toEqual({ ok: true });
        expect(sentAt.map((at) => at - start)).toEqual([0, 7_000, 60_000]);
    });

    it('abandons a stalled request after requestTimeoutMs and retries it', async () => {
        const clock = new FakeClock();
        const { nango, sentAt } = scriptedNango(clock, ['stall']);
        const client = createClariClient(nango, {
            maxRequestsPerSecond: 10,
            stats: new RunStats(),
            clock,
            requestTimeoutMs: 45_000,
            baseDelayMs: 1_000,
            maxDelayMs: 1_000
        });
        await expect(clock.run(client.get('/calls', {}))).resolves.toEqual({ ok: true });
        // The retry follows the timeout by the backoff: at most 1 s, at least half that.
        expect(sentAt[1]).toBeGreaterThanOrEqual(45_500);
        expect(sentAt[1]).toBeLessThanOrEqual(46_000);
        expect(clock.pendingTimers).toBe(0);
    });

    it('with timers that cannot be cancelled, still times out a stall, and a late expiry changes nothing', async () => {
        const clock = new UncancellableClock();
        const { nango } = scriptedNango(clock, [OK, 'stall']);
        const stats = new RunStats();
        const client = createClariClient(nango, { maxRequestsPerSecond: 10, stats, clock, requestTimeoutMs: 45_000, maxAttempts: 1 });

        await expect(clock.run(client.get('/calls', {}))).resolves.toEqual({ ok: true });
        expect(clock.pendingTimers).toBe(1);
        await expect(clock.run(client.get('/calls', {}))).rejects.toThrow(
            'GET /calls failed after 1 attempt(s): no response within 45000ms'
        );
        // The first request's timer fired during the second one's wait, long after its request settled.
        expect(clock.pendingTimers).toBe(0);
        expect(stats).toMatchObject({ requests: 2, retries: 0 });
    });
});
