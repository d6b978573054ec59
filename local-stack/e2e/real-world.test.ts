import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import { callTimeMs, type TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, isInWindow } from './oracle.js';
import { summaryOf } from './run-logs.js';
import { ids, listServed, listStored, pruneEverything, sortedIds } from './served-records.js';
import { ALWAYS_RECONCILE, E2EStack, RARE_RECONCILE, SECRET_KEY, type RunOutcome, type SyncTarget } from './stack.js';

/**
 * The sync against an emulated Clari that behaves as the real one does on a bad day (issue 13): a call
 * whose details never load, a Clari clock that runs ahead, listings that answer empty or short, calls
 * rescheduled while the list is paged, calls of equal time in a different order on every query, and
 * content that changes without `last_modified_time` moving. Runs go through the local runner with its
 * checkpoints, so what the sync remembers between runs is exercised too.
 */

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

let stack: E2EStack;

beforeAll(async () => {
    stack = await E2EStack.open('real-world');
});

afterAll(async () => {
    await stack.close();
});

async function lastSuccessfulStart(target: SyncTarget): Promise<Date | undefined> {
    return stack.store.runs.lastSuccessfulRunStart(target.connectionId, SYNC_NAME);
}

/** The store holds exactly Clari's calls of the run's window, `except` those. */
async function expectStoreEqualsTruth(target: SyncTarget, window: { after: Date; before: Date }, except: string[] = []): Promise<void> {
    const expected = expectedRecords(await target.control.truth(), window);
    except.forEach((id) => expected.delete(id));
    const served = (await listServed(stack.nango, target.connectionId)).filter((record) => record.deletedAt === null);
    expectRecordsEqualTruth(served, expected);
}

describe('a call whose details never load', () => {
    it('costs one request a day, never fails a run, and lets lastSyncDate and the rest of the store move on', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 150, months: 6, seed: 131 }));
        const truth = await target.control.truth();
        const poison = truth.find((call) => !call.private && callTimeMs(call) < Date.now() - DAY_MS)?.id ?? '';
        // A transcript past Clari's ~6 MB response cap: a 400, every time.
        await target.control.setFaults([{ kind: '400', endpoint: 'call-details', callIds: [poison] }]);

        const first = await stack.run(target, ALWAYS_RECONCILE);
        expect(summaryOf(first.logs).counts).toMatchObject({ failed: 1 });
        expect(first.logs.find((log) => log.level === 'error')?.message).toMatch(new RegExp(`^Skipped call ${poison} for now`));
        expect(first.requests.faultsInjected.byKind['400']).toBe(1);
        await expectStoreEqualsTruth(target, first.plan.window, [poison]);
        expect(await lastSuccessfulStart(target)).toEqual(first.result.startedAt);

        // Four more reconciliations the same day: each lists the call as new, none asks Clari for it again.
        for (let run = 0; run < 4; run++) {
            await target.control.mutate({ add: 1 });
            const next = await stack.run(target, ALWAYS_RECONCILE);
            expect(next.plan.kind).toBe('reconcile');
            expect(summaryOf(next.logs)).toMatchObject({ counts: { failed: 0, deferred: 1 }, deletes: 'listRecords' });
            expect(next.requests.faultsInjected.byKind['400'] ?? 0).toBe(0);
            expect(await lastSuccessfulStart(target)).toEqual(next.result.startedAt);
            await expectStoreEqualsTruth(target, next.plan.window, [poison]);
        }
    });
});

describe('a store Nango prunes again and again, under a Clari clock 20 minutes ahead', () => {
    it('fetches no unchanged call after pruning, and still fetches the ones Clari changes', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 200, months: 6, seed: 137, clockOffsetMs: 20 * MINUTE_MS }));
        const past = (await target.control.truth()).filter((call) => !call.private && callTimeMs(call) < Date.now() - DAY_MS);
        // Processed just before the first run, on a clock 20 minutes ahead: stored with a last_modified_time 20 minutes
        // after Nango's record of them. A fixed 10-minute allowance would fetch these again after every prune.
        const justChanged = (await target.control.mutate({ modify: past.slice(0, 10).map((call) => call.id) })).modify;
        const first = await stack.run(target, RARE_RECONCILE);
        expect(first.requests.byEndpoint['call-details']).toBeGreaterThan(justChanged.length);
        const stored = past.filter((call) => isInWindow(call, first.plan.window));

        for (let round = 0; round < 2; round++) {
            await pruneEverything(stack.server.url, SECRET_KEY, stack.nango, target.connectionId);
            const reconcile = await stack.run(target, ALWAYS_RECONCILE);
            expect(reconcile.plan.kind).toBe('reconcile');
            expect(reconcile.requests.byEndpoint['call-details']).toBe(0);
            expect(summaryOf(reconcile.logs).counts).toMatchObject({ detailsFetched: 0, saved: 0, deleted: 0 });
            expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: reconcile.result.startedAt.toISOString() })).toEqual(
                []
            );
        }

        const changedNow = (await target.control.mutate({ modify: stored.slice(20, 23).map((call) => call.id) })).modify;
        const afterChange = await stack.run(target, ALWAYS_RECONCILE);
        expect(afterChange.requests.byEndpoint['call-details']).toBe(changedNow.length);
        const since = afterChange.result.startedAt.toISOString();
        expect(ids(await listServed(stack.nango, target.connectionId, { modifiedAfter: since }))).toEqual(sortedIds(changedNow));
    });
});

describe('listings that answer empty or short', () => {
    let target: SyncTarget;
    let stored: number;

    beforeAll(async () => {
        target = await stack.connect(await stack.emulator({ calls: 300, months: 11, seed: 139 }));
        await stack.run(target, RARE_RECONCILE);
        stored = (await listStored(stack.store, target.connectionId)).length;
        expect(stored).toBeGreaterThan(200);
    });

    afterEach(async () => {
        await target.control.setFaults([]);
    });

    it('a reconciliation whose listing answers 200 with no calls deletes nothing, and says why', async () => {
        await target.control.setFaults([{ kind: 'empty-listing', endpoint: 'calls' }]);
        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect(summaryOf(run.logs)).toMatchObject({ deletes: 'withheld', counts: { deleted: 0, withheld: stored } });
        expect(run.logs.map((log) => log.message)).toContainEqual(expect.stringMatching(/^Withholding every delete this run/));
        expect((await listStored(stack.store, target.connectionId)).filter((record) => record.deletedAt !== null)).toEqual([]);
        expect(run.requests.byEndpoint['call-details']).toBe(0);
    });

    it('a first page cut short and without a pagination block does not end the listing', async () => {
        await target.control.setFaults([{ kind: 'truncated-page', endpoint: 'calls', count: 1 }]);
        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect(summaryOf(run.logs)).toMatchObject({ deletes: 'listRecords', counts: { deleted: 0, confirmedAlive: 0, listed: stored } });
        await expectStoreEqualsTruth(target, run.plan.window);
    });
});

describe('a list that moves while it is paged', () => {
    it('with calendar ties in a different order on every query and calls rescheduled mid-listing, loses and deletes no live call', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 400, months: 11, seed: 149, ties: true, unstableTies: true }));
        const first = await stack.run(target, RARE_RECONCILE);
        await expectStoreEqualsTruth(target, first.plan.window);

        // Two calls far down the list move while the reconciliation pages: one behind the listing, one into the future.
        const truth: TruthCall[] = await target.control.truth();
        const older = truth.filter((call) => !call.private && isInWindow(call, first.plan.window)).slice(-50);
        const [intoPast, intoFuture] = [older[0]?.id ?? '', older[1]?.id ?? ''];
        await target.control.queueMutation({ reschedule: [intoPast], rescheduleBy: 300 * DAY_MS }, 2);
        await target.control.queueMutation({ reschedule: [intoFuture], rescheduleTo: 'future' }, 2);

        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect((await target.control.mutations('applied')).length).toBe(2);
        expect(summaryOf(run.logs)).toMatchObject({ deletes: 'listRecords', counts: { deleted: 0 } });
        const stored = await listStored(stack.store, target.connectionId);
        expect(stored.filter((record) => record.deletedAt !== null).map((record) => record.id)).toEqual([]);
        // The call moved into the future is still a live call of the workspace: kept, not deleted and re-added later.
        expect(stored.map((record) => record.id)).toContain(intoFuture);
        const window = run.plan.window;
        const live = expectedRecords(await target.control.truth(), window);
        expect(stored.filter((record) => live.has(record.id))).toHaveLength(live.size);
    });
});

describe('content that changes without last_modified_time', () => {
    /** Runs the sync at 00:30 UTC tomorrow on its own clock and Clari's: the first run of a new UTC day. */
    async function runTomorrow(target: SyncTarget, metadata: Record<string, unknown>): Promise<RunOutcome> {
        const offset = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS + 30 * MINUTE_MS - Date.now();
        stack.setSyncClockOffset(offset);
        await target.control.setClockOffset(offset);
        try {
            return await stack.run(target, metadata);
        } finally {
            stack.setSyncClockOffset(0);
        }
    }

    it('is picked up by the first run of the next day, and nothing unchanged is published', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 200, months: 3, seed: 151 }));
        const refreshing = { ...RARE_RECONCILE, refreshRecentDays: 7 };
        await stack.run(target, refreshing);
        const truth = await target.control.truth();
        const recent = truth.filter(
            (call) => !call.private && isInWindow(call, { after: new Date(Date.now() - 6 * DAY_MS), before: new Date(Date.now() - DAY_MS) })
        );
        const withContent = recent.filter((call) => call.payload['summary'] != null || call.payload['deal_stage_live'] != null);
        const silently = (await target.control.mutate({ silentChange: withContent.slice(0, 3).map((call) => call.id) })).silentChange;
        expect(silently).toHaveLength(3);

        // The same day: nothing shows the change.
        const sameDay = await stack.run(target, refreshing);
        expect(sameDay.requests.byEndpoint['call-details']).toBe(0);

        const nextDay = await runTomorrow(target, refreshing);
        const counts = summaryOf(nextDay.logs).counts;
        expect(counts.refreshed).toBeGreaterThanOrEqual(recent.length);
        expect(counts.saved).toBe(silently.length);
        const since = nextDay.result.startedAt.toISOString();
        expect(ids(await listServed(stack.nango, target.connectionId, { modifiedAfter: since }))).toEqual(sortedIds(silently));
        await expectStoreEqualsTruth(target, nextDay.plan.window);
    });

    it('is off with refreshRecentDays 0', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 60, months: 1, seed: 157 }));
        await stack.run(target, RARE_RECONCILE);
        const nextDay = await runTomorrow(target, RARE_RECONCILE);
        expect(summaryOf(nextDay.logs).counts.refreshed).toBe(0);
        expect(nextDay.requests.byEndpoint['call-details']).toBe(0);
    });
});
