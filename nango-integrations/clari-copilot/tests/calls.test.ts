import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isReconcileDue, MODIFIED_OVERLAP_MS } from '../plan.js';
import { SAVE_PART_SIZE } from '../page-saves.js';
import { failWith, makeCall } from './fake-clari.js';
import { createHarness, DAY_MS, daysAgo } from './harness.js';

const HOUR_MS = 60 * 60 * 1000;

// Pacing, backoff and Retry-After run on fake time (harness.run fires the timers), so gaps between
// requests are exact and no test waits for them.
beforeEach(() => {
    vi.useFakeTimers();
});
afterEach(() => {
    vi.useRealTimers();
});

/**
 * Incremental-run tests put lastSyncDate an hour or two back; near midnight UTC that would cross the
 * default daily reconciliation boundary and turn the run into a reconciliation. They run at a fixed
 * midday instead.
 */
function atMiddayUtc(): void {
    beforeEach(() => {
        vi.setSystemTime(new Date('2026-06-15T12:00:00.000Z'));
    });
}

describe('1. first run', () => {
    it('saves every call whose time falls within backfillDays before the run, and nothing older or later', async () => {
        const calls = [
            makeCall(1, daysAgo(400)),
            makeCall(2, daysAgo(300)),
            makeCall(3, daysAgo(1)),
            makeCall(4, new Date(Date.now() + DAY_MS))
        ];
        const harness = createHarness({ calls });
        await harness.run();
        expect(harness.savedIds().sort()).toEqual(['call-000002', 'call-000003']);
        const list = harness.clari.requests.find((request) => request.endpoint === '/calls');
        const windowDays = (Date.parse(String(list?.params['filterTimeLt'])) - Date.parse(String(list?.params['filterTimeGt']))) / DAY_MS;
        expect(windowDays).toBe(365);
        expect(list?.params['filterModifiedGt']).toBeUndefined();
    });

    it('honours a shorter backfillDays from the connection metadata', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(40)), makeCall(2, daysAgo(10))], metadata: { backfillDays: 30 } });
        await harness.run();
        expect(harness.savedIds()).toEqual(['call-000002']);
    });
});

describe('2. later runs', () => {
    atMiddayUtc();
    it('lists calls modified since the last run (less an overlap), bounded above by this run start, and picks up late-processed calls', async () => {
        const lastSyncDate = new Date(Date.now() - HOUR_MS);
        const old = makeCall(1, daysAgo(10));
        const lateProcessed = makeCall(2, daysAgo(3), {
            last_modified_time: new Date(Date.now() - 5 * 60 * 1000).toISOString(),
            transcript: [{ text: 'late transcript', start: 0, end: 1, personId: 1 }],
            summary: { full_summary: 'processed after the last run' }
        });
        const harness = createHarness({
            calls: [old, lateProcessed],
            lastSyncDate,
            stored: [
                { ...old, last_modified_time: old.last_modified_time },
                { id: lateProcessed.id, last_modified_time: daysAgo(3).toISOString() }
            ]
        });
        const before = Date.now();
        await harness.run();
        expect(harness.savedIds()).toEqual(['call-000002']);
        expect(harness.store.get('call-000002')?.['summary']).toEqual({
            full_summary: 'processed after the last run',
            topics_discussed: null,
            key_action_items: null
        });
        const modifiedQuery = harness.clari.requests.find((request) => request.params['filterModifiedGt'] !== undefined);
        expect(Date.parse(String(modifiedQuery?.params['filterModifiedGt']))).toBe(lastSyncDate.getTime() - MODIFIED_OVERLAP_MS);
        const upper = Date.parse(String(modifiedQuery?.params['filterModifiedLt']));
        expect(upper).toBeGreaterThanOrEqual(before);
        expect(upper).toBeLessThanOrEqual(Date.now());
        expect(harness.clari.count('/call-details')).toBe(1);
    });

    it('also lists calls whose scheduled time passed since the last run even if their last change is older', async () => {
        const lastSyncDate = new Date(Date.now() - HOUR_MS);
        const justHappened = makeCall(1, new Date(Date.now() - 30 * 60 * 1000), { last_modified_time: daysAgo(2).toISOString() });
        const harness = createHarness({ calls: [justHappened], lastSyncDate });
        await harness.run();
        expect(harness.savedIds()).toEqual(['call-000001']);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
    });
});

describe('3. the skip cap', () => {
    it('lists more than 10,000 calls in the window without any query needing skip > 10000', async () => {
        const start = Date.now() - 300 * DAY_MS;
        const calls = Array.from({ length: 10_250 }, (_, index) => makeCall(index, new Date(start + index * 60_000)));
        // Stored and unchanged: the run re-saves them without detail requests, which keeps this test fast.
        const harness = createHarness({ calls, stored: calls, metadata: { maxRequestsPerSecond: 100 } });
        await harness.run();
        const saved = harness.savedIds();
        expect(saved.length).toBe(10_250);
        expect(new Set(saved).size).toBe(10_250);
        const skips = harness.clari.requests.map((request) => Number(request.params['skip']));
        expect(Math.max(...skips)).toBeLessThanOrEqual(10_000);
        expect(harness.clari.count('/call-details')).toBe(0);
        expect(harness.clari.count('/calls')).toBe(Math.ceil(10_250 / 100));
    });
});

describe('4. details, rate limit and retries', () => {
    it('fetches details several at a time while never exceeding maxRequestsPerSecond', async () => {
        const calls = Array.from({ length: 30 }, (_, index) => makeCall(index, daysAgo(5 + index)));
        const harness = createHarness({ calls, metadata: { maxRequestsPerSecond: 20 } });
        let inFlight = 0;
        let maxInFlight = 0;
        const get = harness.clari.get;
        harness.nango.get.mockImplementation(async (config: Parameters<typeof get>[0]) => {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            await new Promise((resolve) => setTimeout(resolve, 120));
            inFlight--;
            return get(config);
        });
        await harness.run();
        expect(harness.savedIds().length).toBe(30);
        expect(maxInFlight).toBeGreaterThan(1);
        const times = harness.clari.requests.map((request) => request.at).sort((a, b) => a - b);
        for (let index = 20; index < times.length; index++) {
            // 21 requests may never fall within one second at 20 req/s.
            expect((times[index] ?? 0) - (times[index - 20] ?? 0)).toBeGreaterThanOrEqual(1000);
        }
    });

    it('retries 429 (honouring Retry-After), 5xx and network errors, and counts them', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(2)), makeCall(2, daysAgo(3))] });
        const script = [
            failWith(429, { 'retry-after': '1' }),
            failWith(429),
            failWith(500),
            failWith(503),
            Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
        ];
        harness.clari.faults = [(request) => (request.endpoint === '/call-details' ? script.shift() : undefined)];
        await harness.run();
        expect(harness.savedIds().sort()).toEqual(['call-000001', 'call-000002']);
        const details = harness.clari.requests.filter((request) => request.endpoint === '/call-details');
        expect(details.length).toBe(7);
        const firstId = details[0]?.params['id'];
        const [throttled, retried] = details.filter((request) => request.params['id'] === firstId);
        expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(1000);
        expect(harness.summary().counts).toMatchObject({ retries: 5, throttled: 2 });
    });

    it('adapts to a Clari limit lower than maxRequestsPerSecond: a lasting 429 storm without Retry-After still completes', async () => {
        const calls = Array.from({ length: 60 }, (_, index) => makeCall(index, daysAgo(2 + index)));
        const harness = createHarness({ calls, metadata: { maxRequestsPerSecond: 100 } });
        const accepted: number[] = [];
        harness.clari.faults = [
            (request) => {
                // Clari's real limit here: 8 requests in any second.
                const recent = accepted.filter((time) => time > request.at - 1000);
                if (recent.length >= 8) {
                    return failWith(429);
                }
                accepted.push(request.at);
                return undefined;
            }
        ];
        await harness.run();
        expect(harness.savedIds().length).toBe(60);
        expect(harness.summary().counts.failed).toBe(0);
        expect(harness.summary().counts.throttled).toBeGreaterThan(0);
    });

    it('retries a list page through 429s and 500s instead of failing the run', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(2))] });
        const script = [failWith(429), failWith(429), failWith(429), failWith(500), failWith(500), failWith(500)];
        harness.clari.faults = [(request) => (request.endpoint === '/calls' ? script.shift() : undefined)];
        await harness.run();
        expect(harness.savedIds()).toEqual(['call-000001']);
        expect(
            harness.clari.requests.filter((request) => request.endpoint === '/calls').every((request) => request.params['limit'] === 100)
        ).toBe(true);
    });

    it('falls back to smaller pages when large list pages keep failing with 502', async () => {
        const calls = Array.from({ length: 120 }, (_, index) => makeCall(index, daysAgo(10, Date.now() - index * 60_000)));
        const harness = createHarness({ calls, stored: calls });
        harness.clari.faults = [
            (request) => (request.endpoint === '/calls' && Number(request.params['limit']) > 50 ? failWith(502) : undefined)
        ];
        await harness.run();
        expect(harness.savedIds().length).toBe(120);
        const limits = harness.clari.requests.map((request) => Number(request.params['limit']));
        expect(limits.filter((limit) => limit === 100).length).toBe(3);
        expect(limits.filter((limit) => limit === 50).length).toBe(3);
    });
});

describe('5. no wasted requests', () => {
    atMiddayUtc();
    it('fetches no details for calls whose stored last_modified_time equals the listed one', async () => {
        const unchanged = makeCall(1, daysAgo(2));
        const changed = makeCall(2, daysAgo(3));
        const harness = createHarness({
            calls: [unchanged, changed],
            stored: [unchanged, { ...changed, last_modified_time: daysAgo(3).toISOString() }],
            lastSyncDate: new Date(Date.now() - 2 * HOUR_MS)
        });
        harness.clari.calls.set(unchanged.id, { ...unchanged, last_modified_time: new Date(Date.now() - HOUR_MS).toISOString() });
        harness.store.set(unchanged.id, { ...unchanged, last_modified_time: new Date(Date.now() - HOUR_MS).toISOString() });
        harness.clari.calls.set(changed.id, { ...changed, last_modified_time: new Date(Date.now() - HOUR_MS).toISOString() });
        await harness.run();
        const detailIds = harness.clari.requests
            .filter((request) => request.endpoint === '/call-details')
            .map((request) => request.params['id']);
        expect(detailIds).toEqual(['call-000002']);
        expect(harness.summary().counts.unchangedSkipped).toBe(1);
    });

    it('costs only list pages on a re-run after a crash', async () => {
        const calls = Array.from({ length: 50 }, (_, index) => makeCall(index, daysAgo(index + 1)));
        const harness = createHarness({ calls, stored: calls.slice(0, 40) });
        await harness.run();
        expect(harness.clari.count('/call-details')).toBe(10);
        expect(harness.savedIds().length).toBe(50);
    });
});

describe('6. bounded memory', () => {
    it('saves each page in parts of 25 as its details arrive, in the order listed', async () => {
        const calls = Array.from({ length: 250 }, (_, index) => makeCall(index, daysAgo(1, Date.now() - index * 60_000)));
        const harness = createHarness({ calls, metadata: { maxRequestsPerSecond: 100 } });
        await harness.run();
        expect(harness.savedBatches.map((batch) => batch.length)).toEqual(Array.from({ length: 10 }, () => SAVE_PART_SIZE));
        // Newest first: each part is a run of consecutive calls, whichever page's part was saved first.
        const listed = calls.map((call) => call.id);
        for (const batch of harness.savedBatches) {
            const start = listed.indexOf(String(batch[0]?.['id']));
            expect(batch.map((record) => record['id'])).toEqual(listed.slice(start, start + batch.length));
        }
        expect(new Set(harness.savedIds()).size).toBe(250);
        // The first part is saved while the first page's details are still coming in.
        const firstSave = harness.events.indexOf(`save ${SAVE_PART_SIZE}`);
        const detailRequests = harness.events.flatMap((event, index) => (event.startsWith('GET /call-details') ? [index] : []));
        expect(firstSave).toBeGreaterThan(-1);
        expect(firstSave).toBeLessThan(detailRequests[99] ?? -1);
    });
});

describe('7. deletes', () => {
    it('reconciles once per period: lists the whole window, re-saves unchanged calls without details, then deletes the rest', async () => {
        const calls = [makeCall(1, daysAgo(20)), makeCall(2, daysAgo(10))];
        const lastSyncDate = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - HOUR_MS); // yesterday, 23:00 UTC
        const harness = createHarness({ calls, stored: [...calls, { id: 'vanished', last_modified_time: null }], lastSyncDate });
        harness.nango.deleteRecordsFromPreviousExecutions.mockResolvedValue({ deletedKeys: ['vanished'] });
        await harness.run();
        expect(harness.clari.count('/call-details')).toBe(0);
        expect(harness.savedIds().sort()).toEqual(['call-000001', 'call-000002']);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).toHaveBeenCalledWith('Call');
        expect(harness.summary().counts.deleted).toBe(1);
        const list = harness.clari.requests.find((request) => request.endpoint === '/calls');
        expect(list?.params['filterModifiedGt']).toBeUndefined();
    });

    it('reconciles on every run when reconcileEveryHours is 0, and never when the period has not turned', () => {
        const now = new Date('2026-11-23T15:00:00Z');
        expect(isReconcileDue(now, new Date('2026-11-23T14:00:00Z'), 0)).toBe(true);
        expect(isReconcileDue(now, new Date('2026-11-23T14:00:00Z'), 24)).toBe(false);
        expect(isReconcileDue(now, new Date('2026-11-22T23:30:00Z'), 24)).toBe(true);
        expect(isReconcileDue(now, new Date('2026-11-23T11:59:00Z'), 6)).toBe(true);
    });

    it('deletes nothing when the reconciliation listing did not complete', async () => {
        const calls = Array.from({ length: 150 }, (_, index) => makeCall(index, daysAgo(1, Date.now() - index * 60_000)));
        const harness = createHarness({ calls, stored: calls });
        harness.clari.faults = [
            (request) => (request.endpoint === '/calls' && Number(request.params['skip']) > 0 ? failWith(500) : undefined)
        ];
        await expect(harness.run()).rejects.toThrow(/HTTP 500/);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
    });

    it('deletes a listed call whose details answer 404', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(2)), makeCall(2, daysAgo(3))] });
        harness.clari.faults = [(request) => (request.params['id'] === 'call-000002' ? failWith(404) : undefined)];
        await harness.run();
        expect(harness.deletedIds).toEqual(['call-000002']);
        expect(harness.savedIds()).toEqual(['call-000001']);
    });
});

describe('8. bad data', () => {
    it('logs and counts a malformed call by id, and still saves the rest of its page', async () => {
        const calls = [makeCall(1, daysAgo(3)), makeCall(2, daysAgo(2), { users: 'not-a-list' }), makeCall(3, daysAgo(1))];
        const harness = createHarness({ calls });
        await harness.run();
        expect(harness.savedIds().sort()).toEqual(['call-000001', 'call-000003']);
        expect(harness.logs().some((line) => line.includes('call-000002') && line.includes('users'))).toBe(true);
        expect(harness.summary().counts.invalid).toBe(1);
    });

    it('fails at once on 401, naming the API key and password, without retrying', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(3))] });
        harness.clari.faults = [() => failWith(401)];
        await expect(harness.run()).rejects.toThrow(/API key and API password/);
        expect(harness.clari.requests.length).toBe(1);
        expect(harness.nango.batchSave).not.toHaveBeenCalled();
    });

    it('reports the run: its plan first, the window size, each page, then one summary of all counters', async () => {
        const harness = createHarness({ calls: [makeCall(1, daysAgo(3)), makeCall(2, daysAgo(2), { users: 'not-a-list' })] });
        await harness.run();
        const report = harness.report();
        expect(report.map((line) => line.type)).toEqual(['start', 'window', 'page', 'summary']);
        expect(report[0]).toMatchObject({ type: 'start', run: 'initial', windows: [{ timeBefore: expect.any(Date) as unknown }] });
        expect(report[1]).toEqual({ type: 'window', matched: 2 });
        expect(report[2]).toEqual({
            type: 'page',
            counts: { listed: 1, unchanged: 0, pruned: 0, fetched: 1, saved: 1, invalid: 1, gone: 0 }
        });
        expect(harness.summary()).toMatchObject({
            run: 'initial',
            counts: {
                listed: 1,
                detailsFetched: 1,
                unchangedSkipped: 0,
                prunedSkipped: 0,
                saved: 1,
                invalid: 1,
                deleted: 0,
                failed: 0,
                requests: 2,
                retries: 0,
                throttled: 0
            },
            deletes: 'previousExecutions'
        });
    });

    it('rejects invalid metadata with a message naming the option', async () => {
        const harness = createHarness({ metadata: { backfillDays: 'a year' } });
        await expect(harness.run()).rejects.toThrow(/backfillDays/);
        expect(harness.clari.requests.length).toBe(0);
    });
});

describe('9. media', () => {
    it('asks for audio and video URLs by default, and not when includeMedia is false', async () => {
        const withMedia = createHarness({ calls: [makeCall(1, daysAgo(3))] });
        await withMedia.run();
        const detailParams = withMedia.clari.requests.find((request) => request.endpoint === '/call-details')?.params;
        expect(detailParams).toMatchObject({ includeAudio: 'true', includeVideo: 'true' });

        const withoutMedia = createHarness({ calls: [makeCall(1, daysAgo(3))], metadata: { includeMedia: false } });
        await withoutMedia.run();
        const params = withoutMedia.clari.requests.find((request) => request.endpoint === '/call-details')?.params;
        expect(params).toMatchObject({ includeAudio: 'false', includeVideo: 'false' });
    });
});
