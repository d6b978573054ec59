import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningClariEmulator } from '../emulator/index.js';
import { startEmulator } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecord, isInWindow } from './oracle.js';
import { summaryOf } from './run-logs.js';
import { listServed, sortedIds, type ServedRecord } from './served-records.js';
import { E2EStack, type SyncTarget } from './stack.js';

/**
 * More than 10,000 calls in one window: Clari refuses `skip` above 10,000, so the sync must split the
 * window to list them all. Heavy (one detail request per call): about a minute on a 2-core machine.
 */

const CALLS = 10_500;
const SAMPLE_EVERY = 50;

describe('more than 10,000 calls in the backfill window', () => {
    let stack: E2EStack;
    let emulator: RunningClariEmulator;
    let target: SyncTarget;

    beforeAll(async () => {
        stack = await E2EStack.open('large');
        // 11 months: all 10,500 calls (less the private ones) are within the year.
        emulator = await startEmulator({ calls: CALLS, months: 11, seed: 101 });
        target = await stack.connect(emulator);
    });

    afterAll(async () => {
        await emulator.close();
        await stack.close();
    });

    it('stores every call exactly once', { timeout: 300_000 }, async () => {
        const run = await stack.run(target, { maxRequestsPerSecond: 1000, includeMedia: false });
        const truth = await target.control.truth({ details: false });
        const inWindow = truth.filter((call) => !call.private && isInWindow(call, run.plan.window));
        // Past skip=10,000 the next page (10,100 onwards) needs a split window.
        expect(inWindow.length).toBeGreaterThan(10_100);

        // No request was refused: the sync never asked for skip > 10,000.
        expect(run.requests.byStatus).toEqual({ '200': run.requests.total });
        expect(run.requests.byEndpoint['call-details']).toBe(inWindow.length);
        expect(summaryOf(run.logs).counts).toMatchObject({
            listed: inWindow.length,
            detailsFetched: inWindow.length,
            saved: inWindow.length
        });

        // Every id once, with the listed version; page by page so that transcripts never pile up in memory.
        const seen = new Map<string, string>();
        let duplicates = 0;
        let cursor: string | undefined;
        do {
            const page = await stack.store.records.listRecords({ connectionId: target.connectionId, model: 'Call', limit: 1000, cursor });
            for (const record of page.records) {
                duplicates += seen.has(record.id) ? 1 : 0;
                seen.set(record.id, `${String(record['time'])} ${String(record['last_modified_time'])}`);
            }
            cursor = page.next_cursor ?? undefined;
        } while (cursor !== undefined);
        expect(duplicates).toBe(0);
        expect(sortedIds(seen.keys())).toEqual(sortedIds(inWindow.map((call) => call.id)));
        const versionOf = (payload: Record<string, unknown>): string =>
            `${new Date(String(payload['time'])).toISOString()} ${new Date(String(payload['last_modified_time'])).toISOString()}`;
        expect(inWindow.filter((call) => seen.get(call.id) !== versionOf(call.payload)).map((call) => call.id)).toEqual([]);

        // Full content for a sample spread over the whole window, through the records API.
        const sampleIds = inWindow.filter((_, index) => index % SAMPLE_EVERY === 0).map((call) => call.id);
        const expected = new Map(
            await Promise.all(
                sampleIds.map(async (id) => {
                    const record = expectedRecord(await target.control.truthCall(id));
                    if (!record) {
                        throw new Error(`ground truth for ${id} does not parse`);
                    }
                    return [id, record] as const;
                })
            )
        );
        const served: ServedRecord[] = [];
        for (let i = 0; i < sampleIds.length; i += 100) {
            served.push(...(await listServed(stack.nango, target.connectionId, { ids: sampleIds.slice(i, i + 100) })));
        }
        expect(expected.size).toBeGreaterThan(200);
        expectRecordsEqualTruth(served, expected);
    });
});
