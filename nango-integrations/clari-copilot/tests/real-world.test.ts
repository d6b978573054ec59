import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REFRESH_REQUESTS_PER_RUN } from '../sync-page.js';
import { failWith, makeCall, type RawPayload } from './fake-clari.js';
import { createHarness, DAY_MS, daysAgo } from './harness.js';

/**
 * Clari as it is in the real world: a call that never loads, a list that moves while it is paged, calls
 * of equal time in no fixed order, a store whose payloads Nango prunes again and again, content that
 * changes without `last_modified_time` moving, and listings that come back empty or short. Each test
 * runs the real sync over several runs where the case needs it, as Nango would schedule them.
 */

const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
const T0 = new Date('2026-06-15T12:00:00.000Z');
/** Listing and pruning, not the refresh, unless a test is about the refresh. */
const NO_REFRESH = { refreshRecentDays: 0 };

beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
});
afterEach(() => {
    vi.useRealTimers();
});

type Harness = ReturnType<typeof createHarness>;

function detailRequests(harness: Harness, id?: string): number {
    return harness.clari.requests.filter(
        (request) => request.endpoint === '/call-details' && (id === undefined || request.params['id'] === id)
    ).length;
}

/** Moves the clock to `at`, then runs the sync with the previous run's start as lastSyncDate, as Nango would after a success. */
async function runAt(harness: Harness, at: Date, previousStart: Date | null): Promise<void> {
    harness.startNextRun();
    vi.setSystemTime(at);
    if (previousStart) {
        harness.setLastSyncDate(previousStart);
    }
    await harness.run();
}

/** `count` calls over the past month, each last changed an hour after it happened. */
function monthOfCalls(count: number, extra: (index: number) => Record<string, unknown> = () => ({})): RawPayload[] {
    return Array.from({ length: count }, (_, index) => makeCall(index, new Date(T0.getTime() - (index + 1) * 7 * HOUR_MS), extra(index)));
}

describe('a call that never loads', () => {
    it('is counted and logged by id, never fails the run, and is asked for at most once a day', async () => {
        const calls = monthOfCalls(30);
        const poison = calls[4]?.id ?? '';
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: { ...NO_REFRESH, reconcileEveryHours: 6 } });
        harness.clari.faults = [(request) => (request.params['id'] === poison ? failWith(502) : undefined)];

        // First run: every other call is stored, and the run succeeds, so Nango moves lastSyncDate.
        await runAt(harness, T0, null);
        expect(harness.summary().counts).toMatchObject({ failed: 1, saved: 29 });
        expect(harness.logs()).toContainEqual(expect.stringMatching(new RegExp(`^Skipped call ${poison} for now .*HTTP 502`)));
        const firstRunAttempts = detailRequests(harness, poison);
        expect(firstRunAttempts).toBeGreaterThan(1);

        // An hour later: an incremental run does not list it, and costs what it would cost without it.
        await runAt(harness, new Date(T0.getTime() + HOUR_MS), T0);
        expect(harness.summary().run).toBe('incremental');
        expect(detailRequests(harness, poison)).toBe(0);

        // The next 6-hour period reconciles and lists it again, but it already failed today: not asked for.
        const evening = new Date(T0.getTime() + 6 * HOUR_MS);
        await runAt(harness, evening, new Date(T0.getTime() + HOUR_MS));
        expect(harness.summary()).toMatchObject({ run: 'reconcile', counts: { deferred: 1, failed: 0 }, deletes: 'listRecords' });
        expect(detailRequests(harness, poison)).toBe(0);

        // The next day it is tried again, once, at the same bounded cost.
        const tomorrow = new Date(T0.getTime() + 13 * HOUR_MS);
        await runAt(harness, tomorrow, evening);
        expect(harness.summary()).toMatchObject({ run: 'reconcile', counts: { failed: 1 } });
        expect(detailRequests(harness, poison)).toBe(firstRunAttempts);
        expect(harness.store.has(poison)).toBe(false);

        // Once Clari serves it again, the next day's reconciliation stores it.
        harness.clari.faults = [];
        await runAt(harness, new Date(tomorrow.getTime() + DAY_MS), tomorrow);
        expect(harness.savedIds()).toEqual([poison]);
    });

    it('without checkpoints it is retried by whichever later run lists it as changed, and the run still succeeds', async () => {
        const calls = monthOfCalls(10);
        const poison = calls[2]?.id ?? '';
        const harness = createHarness({ calls, listRecords: true, metadata: { ...NO_REFRESH, reconcileEveryHours: 0 } });
        harness.clari.faults = [(request) => (request.params['id'] === poison ? failWith(400) : undefined)];
        await runAt(harness, T0, null);
        await runAt(harness, new Date(T0.getTime() + HOUR_MS), T0);
        // A 400 is not retried within a run: one request per run that lists the call.
        expect(detailRequests(harness, poison)).toBe(1);
        expect(harness.summary().counts.failed).toBe(1);
    });

    it('fails the run when most calls fail, as when Clari itself is down, so that lastSyncDate stays', async () => {
        const harness = createHarness({ calls: monthOfCalls(12), listRecords: true, checkpoint: null });
        harness.clari.faults = [(request) => (request.endpoint === '/call-details' ? failWith(400) : undefined)];
        await expect(harness.run()).rejects.toThrow(/12 of 12 call\(s\) could not be fetched/);
        // What it learned is still remembered: the same calls are not hammered again today.
        expect(harness.checkpoint()?.['failedCallIds']).toContain(monthOfCalls(1)[0]?.id);
    });
});

describe('a store Nango prunes again and again', () => {
    /** Calls last changed `leadMs` relative to the moment they are fetched: minutes before, or "after" on a clock that runs ahead. */
    function justChanged(count: number, leadMs: number): RawPayload[] {
        return monthOfCalls(count, () => ({ last_modified_time: new Date(T0.getTime() + leadMs).toISOString() }));
    }

    for (const [label, leadMs] of [
        ['changed 5 minutes before they were stored', -5 * MINUTE_MS],
        ['stamped by a Clari clock 45 minutes ahead of Nango', 45 * MINUTE_MS],
        ['stamped by a Clari clock 3 hours behind Nango', -3 * HOUR_MS]
    ] as const) {
        it(`fetches no unchanged call after pruning, however often: calls ${label}`, async () => {
            const calls = justChanged(20, leadMs);
            const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: NO_REFRESH });
            await runAt(harness, T0, null);
            expect(harness.savedIds()).toHaveLength(20);
            let previous = T0;
            for (let day = 1; day <= 3; day++) {
                harness.pruneAll();
                const at = new Date(T0.getTime() + day * DAY_MS);
                await runAt(harness, at, previous);
                previous = at;
                expect(harness.summary()).toMatchObject({ run: 'reconcile', counts: { detailsFetched: 0, saved: 0, prunedSkipped: 20 } });
                expect(detailRequests(harness)).toBe(0);
            }
        });
    }

    it('still fetches a pruned call that Clari changed after it was stored', async () => {
        const calls = justChanged(5, 45 * MINUTE_MS);
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: NO_REFRESH });
        await runAt(harness, T0, null);
        harness.pruneAll();
        const changed = harness.clari.calls.get(calls[1]?.id ?? '');
        const at = new Date(T0.getTime() + 3 * DAY_MS);
        if (changed) {
            // Changed two days after it was stored, on the same fast clock.
            changed.last_modified_time = new Date(T0.getTime() + 2 * DAY_MS + 45 * MINUTE_MS).toISOString();
            changed['title'] = 'renamed';
        }
        await runAt(harness, at, new Date(at.getTime() - DAY_MS));
        expect(harness.savedIds()).toEqual([calls[1]?.id]);
        expect(harness.changedIds).toEqual([calls[1]?.id]);
    });
});

describe('deletes that cannot go wrong', () => {
    async function storedWorkspace(count: number): Promise<Harness> {
        const harness = createHarness({ calls: monthOfCalls(count), listRecords: true, checkpoint: null, metadata: NO_REFRESH });
        await runAt(harness, T0, null);
        expect(harness.savedIds()).toHaveLength(count);
        return harness;
    }
    const nextDay = new Date(T0.getTime() + DAY_MS);

    it('deletes nothing when a reconciliation listing answers 200 with no calls', async () => {
        const harness = await storedWorkspace(300);
        harness.clari.faults = [
            (request) =>
                request.endpoint === '/calls'
                    ? { status: 200, headers: {}, data: { calls: [], pagination: { matched: 0, hasMore: false } } }
                    : undefined
        ];
        await runAt(harness, nextDay, T0);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary()).toMatchObject({ deletes: 'withheld', counts: { deleted: 0, withheld: 300 } });
        expect(harness.logs()).toContainEqual(
            expect.stringMatching(/^Withholding every delete this run: 300 of 300 stored call\(s\) went unlisted/)
        );
        // The guard spends nothing on confirming 300 candidates.
        expect(detailRequests(harness)).toBe(0);
    });

    it('keeps listing past a short first page without a pagination block, and deletes nothing', async () => {
        const harness = await storedWorkspace(300);
        let truncated = false;
        harness.clari.faults = [
            (request) => {
                if (request.endpoint !== '/calls' || truncated) {
                    return undefined;
                }
                truncated = true;
                const real = harness.clari.list(request.params);
                const body = real.data as { calls: unknown[] };
                return { status: 200, headers: {}, data: { calls: body.calls.slice(0, 99) } };
            }
        ];
        await runAt(harness, nextDay, T0);
        expect(truncated).toBe(true);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary()).toMatchObject({ deletes: 'listRecords', counts: { listed: 300, confirmedAlive: 0 } });
    });

    it('asks Clari about each unlisted call: deletes a 404, keeps one that is still there', async () => {
        const harness = await storedWorkspace(50);
        const [gone, hidden] = [...harness.clari.calls.keys()];
        harness.clari.calls.delete(gone ?? '');
        // Served by /call-details but missing from the listing, as a call rescheduled while the list was paged.
        harness.clari.faults = [
            (request) => {
                if (request.endpoint !== '/calls') {
                    return undefined;
                }
                const real = harness.clari.list(request.params).data as { calls: { id: string }[]; pagination: unknown };
                return { status: 200, headers: {}, data: { ...real, calls: real.calls.filter((call) => call.id !== hidden) } };
            }
        ];
        await runAt(harness, nextDay, T0);
        expect(harness.deletedIds).toEqual([gone]);
        expect(harness.summary()).toMatchObject({ deletes: 'listRecords', counts: { deleted: 1, confirmedAlive: 1, saved: 0 } });
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Kept 1 unlisted call\(s\) that Clari still serves/));
    });

    it('withholds every delete when more than a tenth of the store would go, and deletes up to that share', async () => {
        const harness = await storedWorkspace(300);
        const ids = [...harness.clari.calls.keys()];
        ids.slice(0, 31).forEach((id) => harness.clari.calls.delete(id));
        await runAt(harness, nextDay, T0);
        expect(harness.summary()).toMatchObject({ deletes: 'withheld', counts: { deleted: 0, withheld: 31 } });
        expect(harness.deletedIds).toEqual([]);

        harness.clari.calls.set(ids[0] ?? '', monthOfCalls(1)[0] as RawPayload);
        await runAt(harness, new Date(nextDay.getTime() + DAY_MS), nextDay);
        expect(harness.summary()).toMatchObject({ deletes: 'listRecords', counts: { deleted: 30, withheld: 0 } });
    });

    it('deletes calls that aged out of the backfill window without asking Clari about each', async () => {
        const calls = [makeCall(1, daysAgo(10)), makeCall(2, new Date(T0.getTime() - 365 * DAY_MS + HOUR_MS))];
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: NO_REFRESH });
        await runAt(harness, T0, null);
        expect(harness.savedIds()).toHaveLength(2);
        await runAt(harness, nextDay, T0);
        expect(harness.deletedIds).toEqual(['call-000002']);
        expect(detailRequests(harness)).toBe(0);
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Deleted 1 call\(s\), their call time left the backfill window/));
    });
});

describe('a list that moves while it is paged', () => {
    /** 300 calls in calendar slots of 7: page boundaries fall inside groups of equal times. */
    function calendarCalls(): RawPayload[] {
        return Array.from({ length: 300 }, (_, index) => makeCall(index, new Date(T0.getTime() - (Math.floor(index / 7) + 1) * DAY_MS)));
    }

    it('lists every call when Clari orders equal times differently on every query', async () => {
        const harness = createHarness({ calls: calendarCalls(), listRecords: true, checkpoint: null, metadata: NO_REFRESH });
        harness.clari.ties = 'shuffled';
        await runAt(harness, T0, null);
        expect(new Set(harness.savedIds()).size).toBe(300);
        await runAt(harness, new Date(T0.getTime() + DAY_MS), T0);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary().counts).toMatchObject({ listed: 300, detailsFetched: 0, confirmedAlive: 0 });
    });

    it('loses no live call when one is rescheduled while the reconciliation pages, into the past or the future', async () => {
        const calls = monthOfCalls(250);
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: NO_REFRESH });
        await runAt(harness, T0, null);
        const [intoPast, intoFuture] = [calls[240]?.id ?? '', calls[230]?.id ?? ''];
        let listRequests = 0;
        harness.clari.faults = [
            (request) => {
                if (request.endpoint === '/calls' && ++listRequests === 2) {
                    // Both were still ahead of the listing: one moves behind it, one after its upper bound.
                    const past = harness.clari.calls.get(intoPast);
                    const future = harness.clari.calls.get(intoFuture);
                    if (past && future) {
                        past.time = new Date(T0.getTime() + DAY_MS - 2 * HOUR_MS).toISOString();
                        future.time = new Date(T0.getTime() + 10 * DAY_MS).toISOString();
                    }
                }
                return undefined;
            }
        ];
        await runAt(harness, new Date(T0.getTime() + DAY_MS), T0);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary().counts.confirmedAlive).toBe(2);
    });
});

describe('content that changes without last_modified_time', () => {
    it('refreshes recent calls once a day, saves only those whose content changed, signed media URLs aside', async () => {
        const calls = monthOfCalls(100, () => ({ summary: { full_summary: 'first draft' }, deal_stage_live: 'Discovery' }));
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: { reconcileEveryHours: 720 } });
        harness.clari.signsMedia = true;
        await runAt(harness, T0, null);
        const nextDay = new Date(T0.getTime() + 13 * HOUR_MS);
        const recent = calls.filter((call) => Date.parse(call.time) > nextDay.getTime() - 7 * DAY_MS);
        const [regenerated, restaged] = recent;
        Object.assign(harness.clari.calls.get(regenerated?.id ?? '') ?? {}, { summary: { full_summary: 'regenerated' } });
        Object.assign(harness.clari.calls.get(restaged?.id ?? '') ?? {}, { deal_stage_live: 'Closed Won' });

        // The first run of the next UTC day refreshes the last 7 days' calls.
        await runAt(harness, nextDay, T0);
        expect(harness.summary()).toMatchObject({ run: 'incremental', counts: { refreshed: recent.length } });
        expect(detailRequests(harness)).toBe(recent.length);
        expect(harness.changedIds.sort()).toEqual([regenerated?.id, restaged?.id].sort());
        expect(harness.store.get(regenerated?.id ?? '')?.['summary']).toMatchObject({ full_summary: 'regenerated' });

        // Later that day: no refresh.
        await runAt(harness, new Date(nextDay.getTime() + HOUR_MS), nextDay);
        expect(detailRequests(harness)).toBe(0);
    });

    it(`spends at most ${REFRESH_REQUESTS_PER_RUN} requests a day on it, newest calls first`, async () => {
        const calls = Array.from({ length: 600 }, (_, index) => makeCall(index, new Date(T0.getTime() - (index + 1) * 10 * MINUTE_MS)));
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata: { reconcileEveryHours: 720 } });
        await runAt(harness, T0, null);
        await runAt(harness, new Date(T0.getTime() + 13 * HOUR_MS), T0);
        expect(harness.summary().counts.refreshed).toBe(REFRESH_REQUESTS_PER_RUN);
        const refreshedIds = harness.clari.requests
            .filter((request) => request.endpoint === '/call-details')
            .map((request) => String(request.params['id']));
        expect(refreshedIds.sort()).toEqual(calls.slice(0, REFRESH_REQUESTS_PER_RUN).map((call) => call.id));
    });
});
