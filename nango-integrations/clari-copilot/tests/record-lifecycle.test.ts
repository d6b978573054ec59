import { NangoSyncMock } from 'nango/test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NangoSync } from '../../models.js';
import { canListRecords } from '../record-lister.js';
import { compareWithStored } from '../stored-calls.js';
import { DEFAULT_CLARI_LEAD_MS } from '../sync-memory.js';
import { failWith, makeCall } from './fake-clari.js';
import { createHarness, daysAgo, integrationDir, prunedRecord } from './harness.js';

/**
 * Nango prunes the payload of records not updated for 30 days. The sync must then judge calls from
 * the record metadata alone, delete without re-saving, and never publish an emptied record.
 */

const MINUTE_MS = 60_000;
/** What a run without checkpoints allows a pruned record's listed change past its storage. */
/** These tests are about pruned records; the daily refresh of recent calls has its own. */
const NO_REFRESH = { refreshRecentDays: 0 };
const DAY = 24 * 60 * MINUTE_MS;
const DEFAULT_ALLOWANCE_MS = DEFAULT_CLARI_LEAD_MS;

// Pacing runs on fake time (harness.run fires the timers), so no test waits for the rate limiter.
beforeEach(() => {
    vi.useFakeTimers();
});
afterEach(() => {
    vi.useRealTimers();
});

function detailIds(harness: ReturnType<typeof createHarness>): string[] {
    return harness.clari.requests.filter((request) => request.endpoint === '/call-details').map((request) => String(request.params['id']));
}

/** Every saved record carries the call's fields: none is an id alone (what re-saving a pruned record would publish). */
function expectNoEmptiedRecord(harness: ReturnType<typeof createHarness>): void {
    expect(harness.savedBatches.flat().filter((record) => !('title' in record) || !('time' in record))).toEqual([]);
}

describe('the listRecords guard', () => {
    it('sees listRecords only where the runtime has it, as a function', () => {
        const mock = new NangoSyncMock({ dirname: integrationDir, name: 'calls', Model: 'Call' }) as unknown as NangoSync;
        expect(canListRecords(mock)).toBe(false);
        expect(canListRecords(Object.assign(Object.create(mock) as NangoSync, { listRecords: 'not a function' }))).toBe(false);
        const withLister = Object.assign(Object.create(mock) as NangoSync, {
            listRecords: async function* listRecords(): AsyncGenerator<never> {}
        });
        expect(canListRecords(withLister)).toBe(true);
    });
});

describe('change detection without the payload', () => {
    const listed = '2026-10-01T10:00:00.000Z';
    const listedMs = Date.parse(listed);

    it('keeps the exact comparison for a stored payload, whatever the allowance', () => {
        expect(compareWithStored({ kind: 'full', lastModifiedTime: listed, record: { id: 'a' } }, listed, 0)).toBe('unchanged');
        expect(compareWithStored({ kind: 'full', lastModifiedTime: '2026-10-01T09:00:00.000Z', record: { id: 'a' } }, listed, DAY)).toBe(
            'changed'
        );
        expect(compareWithStored(undefined, listed, DAY)).toBe('changed');
    });

    it('judges a pruned record current when the listed change lies within the allowance after its storage', () => {
        const allowance = 5 * MINUTE_MS;
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs - allowance }, listed, allowance)).toBe('pruned-current');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + 40 * DAY }, listed, allowance)).toBe('pruned-current');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs - allowance - 1 }, listed, allowance)).toBe('changed');
        // A negative allowance (Clari's clock found behind the runner's) is a stricter bound, not a broken one.
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + MINUTE_MS }, listed, -MINUTE_MS)).toBe('pruned-current');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + MINUTE_MS - 1 }, listed, -MINUTE_MS)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs }, listed, Number.NEGATIVE_INFINITY)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: null }, listed, DAY)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs }, null, DAY)).toBe('changed');
    });
});

describe('a reconciliation over pruned records', () => {
    const unchangedFull = makeCall(1, daysAgo(5));
    const prunedCurrent = makeCall(2, daysAgo(60));
    // Stored minutes after its last change, as when Clari processed it just before the run that stored it.
    const prunedStoredSoonAfter = makeCall(3, daysAgo(61));
    const prunedPastAllowance = makeCall(10, daysAgo(63));
    const prunedChanged = makeCall(4, daysAgo(62));
    const newCall = makeCall(5, daysAgo(2));
    const modifiedMs = (call: { last_modified_time?: string }): number => Date.parse(call.last_modified_time ?? '');
    const storedBefore = (): Record<string, unknown>[] => [
        unchangedFull,
        prunedRecord(prunedCurrent.id, new Date(modifiedMs(prunedCurrent) + 20 * MINUTE_MS)),
        prunedRecord(prunedStoredSoonAfter.id, new Date(modifiedMs(prunedStoredSoonAfter) + 30_000)),
        prunedRecord(prunedPastAllowance.id, new Date(modifiedMs(prunedPastAllowance) - DEFAULT_ALLOWANCE_MS - MINUTE_MS)),
        prunedRecord(prunedChanged.id, daysAgo(40)),
        makeCall(6, daysAgo(30)),
        prunedRecord('call-000007', daysAgo(50)),
        prunedRecord('call-000008', daysAgo(400)),
        { ...makeCall(9, daysAgo(70)), _nango_metadata: { deleted_at: daysAgo(3).toISOString() } }
    ];
    const clariNow = (): ReturnType<typeof makeCall>[] => [
        unchangedFull,
        prunedCurrent,
        prunedStoredSoonAfter,
        prunedPastAllowance,
        { ...prunedChanged, last_modified_time: daysAgo(1).toISOString(), title: 'Call 4 (rev 1)' },
        newCall,
        // Aged out of the one-year window: Clari still has it, the store must not.
        makeCall(8, daysAgo(400))
    ];

    /** The day after the last run, with Nango's listRecords: a reconciliation that deletes by comparing ids. */
    const reconciliationWithLister = (): ReturnType<typeof createHarness> =>
        createHarness({ calls: clariNow(), stored: storedBefore(), listRecords: true, lastSyncDate: daysAgo(1), metadata: NO_REFRESH });

    it('with listRecords: details for new and changed calls, deletes only what Clari confirms gone, re-saves nothing', async () => {
        const harness = reconciliationWithLister();
        await harness.run();

        // 6, 7 and 8 went unlisted: each is asked for before it is deleted.
        expect(detailIds(harness).sort()).toEqual([
            prunedChanged.id,
            newCall.id,
            'call-000006',
            'call-000007',
            'call-000008',
            prunedPastAllowance.id
        ]);
        expect(harness.savedIds().sort()).toEqual([prunedChanged.id, newCall.id, prunedPastAllowance.id]);
        expectNoEmptiedRecord(harness);
        // 6 vanished from Clari, 7 too (pruned), 8 aged out; 9 was already deleted.
        expect(harness.deletedIds.sort()).toEqual(['call-000006', 'call-000007', 'call-000008']);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
        expect(harness.summary()).toMatchObject({
            counts: { unchangedSkipped: 1, prunedSkipped: 2, saved: 3, invalid: 0, deleted: 3, failed: 0 },
            deletes: 'listRecords'
        });
    });

    it('with listRecords: a call that failed to load is kept, and the rest of the reconciliation still deletes', async () => {
        const harness = reconciliationWithLister();
        harness.clari.faults = [(request) => (request.params['id'] === prunedChanged.id ? failWith(400) : undefined)];
        await harness.run();
        expect(harness.deletedIds.sort()).toEqual(['call-000006', 'call-000007', 'call-000008']);
        expect(harness.summary()).toMatchObject({ counts: { failed: 1 }, deletes: 'listRecords' });
        expect(harness.logs()).toContainEqual(expect.stringMatching(new RegExp(`^Skipped call ${prunedChanged.id} for now`)));
    });

    it('without listRecords (nango dryrun): never re-saves a pruned payload, and skips the delete pass it would corrupt', async () => {
        const harness = createHarness({ calls: clariNow(), stored: storedBefore(), lastSyncDate: daysAgo(1), metadata: NO_REFRESH });
        await harness.run();

        expect(detailIds(harness).sort()).toEqual([prunedChanged.id, newCall.id, prunedPastAllowance.id]);
        // The full unchanged call is re-saved as before; the pruned current ones cannot be, and are not.
        expect(harness.savedIds().sort()).toEqual([unchangedFull.id, prunedChanged.id, newCall.id, prunedPastAllowance.id]);
        expectNoEmptiedRecord(harness);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
        expect(harness.deletedIds).toEqual([]);
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Deleting nothing this run: 2 listed call\(s\) have pruned payloads/));
        expect(harness.summary()).toMatchObject({ counts: { prunedSkipped: 2 }, deletes: 'skipped' });
    });

    it('without listRecords and no pruned record in the way: deletes through deleteRecordsFromPreviousExecutions', async () => {
        const harness = createHarness({
            calls: [unchangedFull, newCall],
            stored: [unchangedFull, prunedRecord('call-000007', daysAgo(50))]
        });
        await harness.run();
        expect(harness.savedIds().sort()).toEqual([unchangedFull.id, newCall.id]);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).toHaveBeenCalledWith('Call');
        expect(harness.summary().deletes).toBe('previousExecutions');
    });
});

describe('an incremental run over pruned records', () => {
    // Mid-way through a 30-day reconciliation period, so the run an hour after the last one is incremental.
    beforeEach(() => {
        vi.setSystemTime(new Date('2026-06-15T12:00:00.000Z'));
    });

    it('costs what it costs on a fresh store: list pages, and details only for what changed', async () => {
        const lastSyncDate = new Date(Date.now() - 60 * MINUTE_MS);
        const old = makeCall(1, daysAgo(90));
        const changedSinceLastRun = {
            ...makeCall(2, daysAgo(80)),
            last_modified_time: new Date(Date.now() - 20 * MINUTE_MS).toISOString()
        };
        const harness = createHarness({
            calls: [old, changedSinceLastRun],
            stored: [prunedRecord(old.id, daysAgo(85)), prunedRecord(changedSinceLastRun.id, daysAgo(75))],
            lastSyncDate,
            metadata: { reconcileEveryHours: 720 },
            listRecords: true
        });
        await harness.run();
        expect(harness.report()[0]).toMatchObject({ type: 'start', run: 'incremental' });
        expect(harness.clari.count('/calls')).toBe(2);
        expect(detailIds(harness)).toEqual([changedSinceLastRun.id]);
        expect(harness.savedIds()).toEqual([changedSinceLastRun.id]);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary().deletes).toBe('none');
    });
});
