import { NangoSyncMock } from 'nango/test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NangoSync } from '../../models.js';
import { MODIFIED_OVERLAP_MS } from '../plan.js';
import { canListRecords } from '../record-lister.js';
import { compareWithStored } from '../stored-calls.js';
import { failWith, makeCall } from './fake-clari.js';
import { createHarness, daysAgo, integrationDir, prunedRecord } from './harness.js';

/**
 * Nango prunes the payload of records not updated for 30 days. The sync must then judge calls from
 * the record metadata alone, delete without re-saving, and never publish an emptied record.
 */

const MINUTE_MS = 60_000;

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

    it('keeps the exact comparison for a stored payload', () => {
        expect(compareWithStored({ kind: 'full', lastModifiedTime: listed, record: { id: 'a' } }, listed)).toBe('unchanged');
        expect(compareWithStored({ kind: 'full', lastModifiedTime: '2026-10-01T09:00:00.000Z', record: { id: 'a' } }, listed)).toBe(
            'changed'
        );
        expect(compareWithStored(undefined, listed)).toBe('changed');
    });

    it('judges a pruned record current only when the listed change is older than its storage, less the overlap', () => {
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + MODIFIED_OVERLAP_MS }, listed)).toBe('pruned-current');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + 40 * 24 * 60 * MINUTE_MS }, listed)).toBe('pruned-current');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + MODIFIED_OVERLAP_MS - 1 }, listed)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs - MINUTE_MS }, listed)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: null }, listed)).toBe('changed');
        expect(compareWithStored({ kind: 'pruned', storedAtMs: listedMs + MODIFIED_OVERLAP_MS }, null)).toBe('changed');
    });
});

describe('a reconciliation over pruned records', () => {
    const unchangedFull = makeCall(1, daysAgo(5));
    const prunedCurrent = makeCall(2, daysAgo(60));
    const prunedWithinOverlap = makeCall(3, daysAgo(61));
    const prunedChanged = makeCall(4, daysAgo(62));
    const newCall = makeCall(5, daysAgo(2));
    const modifiedMs = (call: { last_modified_time?: string }): number => Date.parse(call.last_modified_time ?? '');
    const storedBefore = (): Record<string, unknown>[] => [
        unchangedFull,
        prunedRecord(prunedCurrent.id, new Date(modifiedMs(prunedCurrent) + 2 * MODIFIED_OVERLAP_MS)),
        prunedRecord(prunedWithinOverlap.id, new Date(modifiedMs(prunedWithinOverlap) + MODIFIED_OVERLAP_MS / 2)),
        prunedRecord(prunedChanged.id, daysAgo(40)),
        makeCall(6, daysAgo(30)),
        prunedRecord('call-000007', daysAgo(50)),
        prunedRecord('call-000008', daysAgo(400)),
        { ...makeCall(9, daysAgo(70)), _nango_metadata: { deleted_at: daysAgo(3).toISOString() } }
    ];
    const clariNow = (): ReturnType<typeof makeCall>[] => [
        unchangedFull,
        prunedCurrent,
        prunedWithinOverlap,
        { ...prunedChanged, last_modified_time: daysAgo(1).toISOString(), title: 'Call 4 (rev 1)' },
        newCall,
        // Aged out of the one-year window: Clari still has it, the store must not.
        makeCall(8, daysAgo(400))
    ];

    it('with listRecords: details only for new and changed calls, deletes exactly the live unlisted ids, re-saves nothing', async () => {
        const harness = createHarness({ calls: clariNow(), stored: storedBefore(), listRecords: true });
        await harness.run();

        expect(detailIds(harness).sort()).toEqual([prunedWithinOverlap.id, prunedChanged.id, newCall.id]);
        expect(harness.savedIds().sort()).toEqual([prunedWithinOverlap.id, prunedChanged.id, newCall.id]);
        expectNoEmptiedRecord(harness);
        // 6 vanished from Clari, 7 too (pruned), 8 aged out; 9 was already deleted.
        expect(harness.deletedIds.sort()).toEqual(['call-000006', 'call-000007', 'call-000008']);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
        expect(harness.summary()).toMatchObject({
            counts: { unchangedSkipped: 1, prunedSkipped: 1, saved: 3, invalid: 0, deleted: 3, failed: 0 },
            deletes: 'listRecords'
        });
    });

    it('with listRecords: deletes nothing when a call failed to load', async () => {
        const harness = createHarness({ calls: clariNow(), stored: storedBefore(), listRecords: true });
        harness.clari.faults = [(request) => (request.params['id'] === newCall.id ? failWith(400) : undefined)];
        await expect(harness.run()).rejects.toThrow(/could not be fetched/);
        expect(harness.deletedIds).toEqual([]);
        expect(harness.summary().deletes).toBe('skipped');
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Deleting nothing this run: 1 call\(s\) failed to load/));
    });

    it('without listRecords (nango dryrun): never re-saves a pruned payload, and skips the delete pass it would corrupt', async () => {
        const harness = createHarness({ calls: clariNow(), stored: storedBefore() });
        await harness.run();

        expect(detailIds(harness).sort()).toEqual([prunedWithinOverlap.id, prunedChanged.id, newCall.id]);
        // The full unchanged call is re-saved as before; the pruned current one cannot be, and is not.
        expect(harness.savedIds().sort()).toEqual([unchangedFull.id, prunedWithinOverlap.id, prunedChanged.id, newCall.id]);
        expectNoEmptiedRecord(harness);
        expect(harness.nango.deleteRecordsFromPreviousExecutions).not.toHaveBeenCalled();
        expect(harness.deletedIds).toEqual([]);
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Deleting nothing this run: 1 listed call\(s\) have pruned payloads/));
        expect(harness.summary()).toMatchObject({ counts: { prunedSkipped: 1 }, deletes: 'skipped' });
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
