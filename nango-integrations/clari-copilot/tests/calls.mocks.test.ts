import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MOCK_NOW } from '../../../scripts/sync-mock-data.js';
import { NangoSyncMock } from 'nango/test';
import type { NangoSync } from '../../models.js';
import fetchData from '../syncs/calls.js';
import { integrationDir } from './harness.js';

/*
 * Replays the hand-built recordings under mocks/ through Nango's NangoSyncMock (the convention for
 * Nango templates) and compares what the sync saves with the hand-written expected records.
 */
describe('calls sync replayed from mocks/', () => {
    beforeEach(() => {
        // Only Date is faked, and it keeps ticking: the request hashes depend on the run's start, while
        // the rate limiter needs time to pass.
        vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
        vi.setSystemTime(MOCK_NOW);
    });
    afterEach(() => {
        vi.useRealTimers();
    });

    it('saves exactly the expected records for a first run', async () => {
        const nango = new NangoSyncMock({ dirname: integrationDir, name: 'calls', Model: 'Call' });
        nango.getRecordsByIds.mockResolvedValue(new Map());
        nango.deleteRecordsFromPreviousExecutions.mockResolvedValue({ deletedKeys: [] });

        await fetchData(nango as unknown as NangoSync);

        const expected: unknown = await nango.getBatchSaveData('Call');
        const saved = nango.batchSave.mock.calls.flatMap((call: unknown[]) => call[0] as unknown[]);
        expect(saved).toEqual(expected);
        expect(nango.batchSave).toHaveBeenCalledTimes(1);
        expect(nango.batchSave.mock.calls[0]?.[1]).toBe('Call');
        expect(nango.get).toHaveBeenCalledTimes(4);
    });
});
