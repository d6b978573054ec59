import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AWAITING_PROCESSING, callTimeMs, pick, statusOf, type TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, isInWindow, type TimeWindow } from './oracle.js';
import { summaryOf } from './run-logs.js';
import { ids, listServed, listStored, sortedIds, versions } from './served-records.js';
import { ALWAYS_RECONCILE, E2EStack, RARE_RECONCILE, type RunOutcome, type SyncTarget } from './stack.js';

/** First sync, changes between runs (with and without reconciliation) and a run with nothing to do. */

const DAY_MS = 86_400_000;

let stack: E2EStack;

beforeAll(async () => {
    stack = await E2EStack.open('lifecycle');
});

afterAll(async () => {
    await stack.close();
});

describe('first sync', () => {
    let target: SyncTarget;
    let run: RunOutcome;
    let truth: TruthCall[];
    let window: TimeWindow;

    beforeAll(async () => {
        // 15 months of history: about a fifth of the calls are older than the one-year backfill.
        target = await stack.connect(await stack.emulator({ calls: 300, months: 15, seed: 7 }));
        run = await stack.run(target);
        window = run.plan.window;
        truth = await target.control.truth();
    });

    it('plans one initial pass over exactly the last 365 days before the run', () => {
        expect(run.plan.kind).toBe('initial');
        expect(window.before.getTime() - window.after.getTime()).toBe(365 * DAY_MS);
        expect(window.before.getTime()).toBeGreaterThanOrEqual(run.result.startedAt.getTime());
    });

    it('stores exactly the public calls of the past year, each once, nothing older, nothing scheduled', async () => {
        const served = await listServed(stack.nango, target.connectionId);
        const expected = expectedRecords(truth, window);
        expectRecordsEqualTruth(served, expected);

        // The dataset really has calls the sync must leave out, so the equality above means something.
        const older = truth.filter((call) => callTimeMs(call) <= window.after.getTime());
        const scheduled = truth.filter((call) => callTimeMs(call) >= window.before.getTime());
        const hidden = truth.filter((call) => call.private && isInWindow(call, window));
        expect(older.length).toBeGreaterThan(20);
        expect(scheduled.length).toBeGreaterThan(0);
        expect(hidden.length).toBeGreaterThan(0);
        const servedIds = new Set(ids(served));
        expect([...older, ...scheduled, ...hidden].filter((call) => servedIds.has(call.id))).toEqual([]);

        expect(served.every((record) => record.lastAction === 'ADDED' && record.deletedAt === null)).toBe(true);
        expect(served).toHaveLength(expected.size);
        expect(run.requests.byEndpoint['call-details']).toBe(expected.size);
        expect(run.requests.byEndpoint.calls).toBe(Math.ceil(expected.size / 100));
        expect(run.result.counts).toMatchObject({ added: expected.size, updated: 0, deleted: 0 });
    });

    it('stores null for every field Clari omitted', async () => {
        const sparse = truth.find(
            (call) =>
                !call.private &&
                isInWindow(call, window) &&
                !('deal_name' in call.payload) &&
                !('crm_info' in call.payload) &&
                !('icaluid' in call.payload) &&
                !('transcript' in call.payload)
        );
        if (!sparse) {
            throw new Error('the dataset has no call without deal, CRM info, calendar and transcript');
        }
        const [record] = await listServed(stack.nango, target.connectionId).then((all) => all.filter((r) => r.id === sparse.id));
        expect(record?.data).toMatchObject({
            id: sparse.id,
            deal_name: null,
            deal_value: null,
            crm_info: null,
            icaluid: null,
            calendar_id: null,
            transcript: null,
            summary: null,
            competitor_sentiments: null,
            audio_url: null,
            video_url: null
        });
        // Present as null, not missing, and nothing invented for them.
        for (const field of ['deal_name', 'crm_info', 'icaluid', 'transcript', 'summary']) {
            expect(record?.data).toHaveProperty(field, null);
        }
    });
});

describe('changes between runs', () => {
    let target: SyncTarget;
    let first: RunOutcome;
    let initialTruth: TruthCall[];

    beforeAll(async () => {
        // 11 months: every past call is inside the backfill window.
        target = await stack.connect(await stack.emulator({ calls: 300, months: 11, seed: 11 }));
        first = await stack.run(target, RARE_RECONCILE);
        initialTruth = await target.control.truth();
    });

    it('a reconciliation finds new, modified, late-processed, deleted and privatised calls; the records API reports each set', async () => {
        const window = first.plan.window;
        const eligible = (call: TruthCall): boolean => !call.private && isInWindow(call, window);
        const taken = new Set<string>();
        const processedBefore = pick(
            initialTruth,
            4,
            (call) => eligible(call) && AWAITING_PROCESSING.includes(statusOf(call)) && callTimeMs(call) < Date.now() - DAY_MS,
            taken
        );
        const modified = pick(initialTruth, 4, eligible, taken);
        const deleted = pick(initialTruth, 4, eligible, taken);
        const privatised = pick(initialTruth, 4, eligible, taken);

        const before = await listServed(stack.nango, target.connectionId);
        const late = before.filter((record) => processedBefore.includes(record.id));
        expect(late.map((record) => [record.data['transcript'], record.data['summary']])).toEqual(processedBefore.map(() => [null, null]));

        const mutation = await target.control.mutate({
            add: 5,
            modify: modified,
            lateProcess: processedBefore,
            delete: deleted,
            makePrivate: privatised
        });
        const added = mutation.add;
        expect(added).toHaveLength(5);

        const second = await stack.run(target, ALWAYS_RECONCILE);
        expect(second.plan.kind).toBe('reconcile');
        // Details for what changed, and one request per unlisted call to confirm it is gone; unchanged calls cost
        // list pages only.
        expect(second.requests.byEndpoint['call-details']).toBe(
            added.length + modified.length + processedBefore.length + deleted.length + privatised.length
        );

        const since = second.result.startedAt.toISOString();
        const changed = await listServed(stack.nango, target.connectionId, { modifiedAfter: since });
        expect(ids(changed)).toEqual(sortedIds([...added, ...modified, ...processedBefore, ...deleted, ...privatised]));
        const addedServed = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'added' });
        expect(ids(addedServed)).toEqual(sortedIds(added));
        const updatedServed = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'updated' });
        expect(ids(updatedServed)).toEqual(sortedIds([...modified, ...processedBefore]));
        const deletedServed = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'deleted' });
        expect(ids(deletedServed)).toEqual(sortedIds([...deleted, ...privatised]));
        expect(deletedServed.every((record) => record.lastAction === 'DELETED' && record.deletedAt !== null)).toBe(true);
        expect([...addedServed, ...updatedServed].every((record) => record.deletedAt === null)).toBe(true);

        // The same sets from the first run's end, and the whole store against the new truth.
        const sinceFirst = await listServed(stack.nango, target.connectionId, { modifiedAfter: first.result.finishedAt.toISOString() });
        expect(ids(sinceFirst)).toEqual(ids(changed));
        const all = await listServed(stack.nango, target.connectionId);
        expectRecordsEqualTruth(all, expectedRecords(await target.control.truth(), second.plan.window));
        expect(ids(all.filter((record) => record.deletedAt !== null))).toEqual(sortedIds([...deleted, ...privatised]));

        const processedNow = all.filter((record) => processedBefore.includes(record.id));
        expect(processedNow.every((record) => Array.isArray(record.data['transcript']) && record.data['summary'] !== null)).toBe(true);
        expect(summaryOf(second.logs).counts).toMatchObject({ deleted: deleted.length + privatised.length, failed: 0, invalid: 0 });
    });

    it('an incremental run without reconciliation picks up new, modified and late-processed calls', async () => {
        const truth = await target.control.truth();
        const now = Date.now();
        const eligible = (call: TruthCall): boolean => !call.private && callTimeMs(call) < now;
        const taken = new Set<string>();
        const processedBefore = pick(
            truth,
            3,
            (call) => eligible(call) && AWAITING_PROCESSING.includes(statusOf(call)) && callTimeMs(call) < now - DAY_MS,
            taken
        );
        const modified = pick(truth, 3, eligible, taken);
        const mutation = await target.control.mutate({ add: 2, modify: modified, lateProcess: processedBefore });

        const run = await stack.run(target, RARE_RECONCILE);
        expect(run.plan.kind).toBe('incremental');
        expect(run.requests.byEndpoint['call-details']).toBe(2 + modified.length + processedBefore.length);
        // One page per listing: what changed since the last run, and calls whose time passed since.
        expect(run.requests.byEndpoint.calls).toBe(2);

        const since = run.result.startedAt.toISOString();
        const updated = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'updated' });
        expect(ids(updated)).toEqual(sortedIds([...modified, ...processedBefore]));
        const added = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'added' });
        expect(ids(added)).toEqual(sortedIds(mutation.add));
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'deleted' })).toEqual([]);

        for (const record of updated.filter((r) => processedBefore.includes(r.id))) {
            expect(record.data['status']).toBe('POST_PROCESSING_DONE');
            expect(Array.isArray(record.data['transcript']) && record.data['transcript'].length > 0).toBe(true);
            expect(record.data['summary']).toMatchObject({ full_summary: expect.any(String) as unknown });
        }
        for (const record of updated.filter((r) => modified.includes(r.id))) {
            expect(record.data['title']).toMatch(/\(rev \d+\)$/);
        }
        expectRecordsEqualTruth(
            await listServed(stack.nango, target.connectionId),
            expectedRecords(await target.control.truth(), run.plan.window)
        );
    });
});

describe('a run with no changes', () => {
    let target: SyncTarget;
    let expectedSize: number;

    beforeAll(async () => {
        target = await stack.connect(await stack.emulator({ calls: 250, months: 11, seed: 23 }));
        const first = await stack.run(target, RARE_RECONCILE);
        expectedSize = expectedRecords(await target.control.truth(), first.plan.window).size;
    });

    it('an incremental run changes no record and costs at most 2 list requests and no detail request', async () => {
        const before = await listStored(stack.store, target.connectionId);
        expect(before).toHaveLength(expectedSize);

        const run = await stack.run(target, RARE_RECONCILE);
        expect(run.plan.kind).toBe('incremental');
        expect(run.requests.byEndpoint.calls).toBeLessThanOrEqual(2);
        expect(run.requests.byEndpoint['call-details']).toBe(0);
        expect(run.requests.total).toBe(run.requests.byEndpoint.calls);
        expect(run.result.counts).toMatchObject({ added: 0, updated: 0, deleted: 0 });

        expect(versions(await listStored(stack.store, target.connectionId))).toEqual(versions(before));
        const since = run.result.startedAt.toISOString();
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: since })).toEqual([]);
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'updated' })).toEqual([]);
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'added' })).toEqual([]);
    });

    it('a reconciliation with no changes re-lists every page but fetches no details and writes, changes or deletes nothing', async () => {
        const before = await listStored(stack.store, target.connectionId);
        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect(run.plan.kind).toBe('reconcile');
        expect(run.requests.byEndpoint.calls).toBe(Math.ceil(expectedSize / 100));
        expect(run.requests.byEndpoint['call-details']).toBe(0);
        // The runner offers listRecords, so deletes compare ids and nothing unchanged is re-saved.
        expect(run.result.counts).toMatchObject({ added: 0, updated: 0, deleted: 0, unchanged: 0 });
        expect(run.events.filter((event) => event.type === 'saved')).toEqual([]);
        expect(summaryOf(run.logs).counts).toMatchObject({ unchangedSkipped: expectedSize, saved: 0 });
        expect(versions(await listStored(stack.store, target.connectionId))).toEqual(versions(before));
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: run.result.startedAt.toISOString() })).toEqual([]);
    });
});
