import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { autoPruneFromEnv, readEnv } from '../cli/config.js';
import { startNangoServer } from '../nango-server/index.js';
import { AWAITING_PROCESSING, callTimeMs, pick, statusOf, type TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, isInWindow } from './oracle.js';
import { summaryOf } from './run-logs.js';
import { ids, listServed, listStored, pruneEverything as pruneAll, sortedIds, versions, type ServedRecord } from './served-records.js';
import { ALWAYS_RECONCILE, E2EStack, RARE_RECONCILE, SECRET_KEY, type RunOutcome, type SyncTarget } from './stack.js';

/**
 * Nango's record lifecycle end to end: Nango prunes the payload of records not updated for 30 days.
 * After a first sync the whole store is pruned through PATCH /records/prune, Clari changes a few calls,
 * and the sync runs again. It must fetch details only for what changed, delete exactly what Clari
 * deleted, leave the rest pruned and silent, and never publish a record emptied of its payload.
 */

const DAY_MS = 86_400_000;

let stack: E2EStack;

beforeAll(async () => {
    stack = await E2EStack.open('lifecycle-prune');
});

afterAll(async () => {
    await stack.close();
});

function pruneEverything(connectionId: string): Promise<number> {
    return pruneAll(stack.server.url, SECRET_KEY, stack.nango, connectionId);
}

function isPruned(record: ServedRecord): boolean {
    return record.prunedAt !== null;
}

/** A payload is either there in full or pruned on purpose: never an id alone without `pruned_at`. */
function expectNoSilentlyEmptiedRecord(records: readonly ServedRecord[]): void {
    const emptied = records.filter((record) => !isPruned(record) && !('title' in record.data && 'time' in record.data));
    expect(emptied.map((record) => record.id)).toEqual([]);
}

describe('a reconciliation on a fully pruned store', () => {
    let target: SyncTarget;
    let first: RunOutcome;
    let initialTruth: TruthCall[];

    beforeAll(async () => {
        // 11 months: every past call is inside the backfill window.
        target = await stack.connect(await stack.emulator({ calls: 300, months: 11, seed: 31 }));
        first = await stack.run(target, RARE_RECONCILE);
        initialTruth = await target.control.truth();
    });

    it('serves every pruned record as id and metadata only, through @nangohq/node', async () => {
        const stored = await listServed(stack.nango, target.connectionId);
        const pruned = await pruneEverything(target.connectionId);
        expect(pruned).toBe(stored.length);
        const after = await listServed(stack.nango, target.connectionId);
        expect(after.every((record) => isPruned(record) && Object.keys(record.data).join() === 'id')).toBe(true);
        // Pruning is no change: the same versions, in the same order, and nothing new for a reader to fetch.
        expect(versions(after)).toEqual(versions(stored));
        expect(await listServed(stack.nango, target.connectionId, { modifiedAfter: first.result.finishedAt.toISOString() })).toEqual([]);
    });

    it('fetches details only for new and changed calls, deletes exactly what Clari deleted, and leaves the rest pruned and silent', async () => {
        const window = first.plan.window;
        const eligible = (call: TruthCall): boolean => !call.private && isInWindow(call, window);
        const taken = new Set<string>();
        const processedLate = pick(
            initialTruth,
            3,
            (call) => eligible(call) && AWAITING_PROCESSING.includes(statusOf(call)) && callTimeMs(call) < Date.now() - DAY_MS,
            taken
        );
        const modified = pick(initialTruth, 4, eligible, taken);
        const deleted = pick(initialTruth, 3, eligible, taken);
        const privatised = pick(initialTruth, 2, eligible, taken);
        const mutation = await target.control.mutate({
            add: 4,
            modify: modified,
            lateProcess: processedLate,
            delete: deleted,
            makePrivate: privatised
        });
        const added = mutation.add;
        const changed = [...added, ...modified, ...processedLate];
        const before = await listStored(stack.store, target.connectionId);

        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect(run.plan.kind).toBe('reconcile');
        const expected = expectedRecords(await target.control.truth(), run.plan.window);

        // Clari's budget: list pages (and one of the strip that just left the window, since calls went unlisted),
        // one detail request per new or changed call, and one per unlisted call to confirm it is gone.
        expect(run.requests.byEndpoint.calls).toBe(Math.ceil(expected.size / 100) + 1);
        expect(run.requests.byEndpoint['call-details']).toBe(changed.length + deleted.length + privatised.length);
        expect(summaryOf(run.logs).counts).toMatchObject({
            detailsFetched: changed.length,
            prunedSkipped: expected.size - changed.length,
            saved: changed.length,
            deleted: deleted.length + privatised.length,
            failed: 0,
            invalid: 0
        });

        // Events: exactly what Clari caused.
        const since = run.result.startedAt.toISOString();
        const sinceRun = await listServed(stack.nango, target.connectionId, { modifiedAfter: since });
        expect(ids(sinceRun)).toEqual(sortedIds([...changed, ...deleted, ...privatised]));
        expect(ids(await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'added' }))).toEqual(
            sortedIds(added)
        );
        expect(ids(await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'updated' }))).toEqual(
            sortedIds([...modified, ...processedLate])
        );
        const deletedServed = await listServed(stack.nango, target.connectionId, { modifiedAfter: since, filter: 'deleted' });
        expect(ids(deletedServed)).toEqual(sortedIds([...deleted, ...privatised]));

        // The changed calls come back whole, exactly as Clari now has them.
        const changedServed = sinceRun.filter((record) => record.deletedAt === null);
        expect(changedServed.every((record) => !isPruned(record))).toBe(true);
        const expectedChanged = new Map([...expected].filter(([id]) => changed.includes(id)));
        expect(expectedChanged.size).toBe(changed.length);
        expectRecordsEqualTruth(changedServed, expectedChanged);

        // Every other call is untouched: still pruned, same version, no event.
        const after = await listStored(stack.store, target.connectionId);
        const untouched = (records: ServedRecord[]): ServedRecord[] =>
            records.filter((record) => !changed.includes(record.id) && !deleted.includes(record.id) && !privatised.includes(record.id));
        expect(versions(untouched(after))).toEqual(versions(untouched(before)));
        expect(untouched(after).every(isPruned)).toBe(true);
        expect(untouched(after)).toHaveLength(expected.size - changed.length);
        expectNoSilentlyEmptiedRecord(after);
    });

    it('an incremental run on the pruned store costs what it costs on a fresh one: two list pages, details for the changed calls', async () => {
        const truth = await target.control.truth();
        const eligible = (call: TruthCall): boolean => !call.private && callTimeMs(call) < Date.now();
        const taken = new Set<string>();
        const modified = pick(truth, 3, eligible, taken);
        const mutation = await target.control.mutate({ add: 2, modify: modified });

        const run = await stack.run(target, RARE_RECONCILE);
        expect(run.plan.kind).toBe('incremental');
        expect(run.requests.byEndpoint.calls).toBe(2);
        expect(run.requests.byEndpoint['call-details']).toBe(mutation.add.length + modified.length);
        const since = run.result.startedAt.toISOString();
        expect(ids(await listServed(stack.nango, target.connectionId, { modifiedAfter: since }))).toEqual(
            sortedIds([...mutation.add, ...modified])
        );
        expectNoSilentlyEmptiedRecord(await listStored(stack.store, target.connectionId));
    });
});

describe('automatic pruning', () => {
    it('prunes records older than NANGO_LOCAL_PRUNE_AFTER_DAYS, however small, and a later sync stays exact', async () => {
        const target = await stack.connect(await stack.emulator({ calls: 120, months: 6, seed: 37 }));
        const first = await stack.run(target, RARE_RECONCILE);
        // 0.00002 days is 1.7 s: every record of the first sync is stale soon after it.
        const autoPrune = autoPruneFromEnv(readEnv({ NANGO_LOCAL_PRUNE_AFTER_DAYS: '0.00002' }));
        if (autoPrune === undefined) {
            throw new Error('a positive NANGO_LOCAL_PRUNE_AFTER_DAYS must turn auto-pruning on');
        }
        expect(autoPrune.afterMs).toBeCloseTo(1728, 0);
        // The same server options `npm run serve` builds from the environment, minus its console report.
        const server = await startNangoServer({
            store: stack.store,
            secretKey: SECRET_KEY,
            port: 0,
            autoPrune: { afterMs: autoPrune.afterMs }
        });
        try {
            const deadline = Date.now() + 15_000;
            let served = await listServed(stack.nango, target.connectionId);
            while (!served.every(isPruned) && Date.now() < deadline) {
                await new Promise((resolve) => setTimeout(resolve, 250));
                served = await listServed(stack.nango, target.connectionId);
            }
            expect(served.length).toBeGreaterThan(0);
            expect(served.every(isPruned)).toBe(true);
        } finally {
            await server.close();
        }
        expect(autoPruneFromEnv(readEnv({ NANGO_LOCAL_PRUNE_AFTER_DAYS: '0' }))).toBeUndefined();

        const run = await stack.run(target, ALWAYS_RECONCILE);
        expect(run.requests.byEndpoint['call-details']).toBe(0);
        expect(summaryOf(run.logs).counts).toMatchObject({ saved: 0, deleted: 0 });
        const stored = await listStored(stack.store, target.connectionId);
        expect(ids(stored)).toEqual(sortedIds(expectedRecords(await target.control.truth(), first.plan.window).keys()));
    });
});
