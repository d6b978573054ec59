import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clariWeekStart, WEEK_MS } from '../../nango-integrations/clari-copilot/budget.js';
import { callTimeMs } from './emulator-client.js';
import { expectedRecords } from './oracle.js';
import { reportOf, summaryOf } from './run-logs.js';
import { listStored } from './served-records.js';
import { E2EStack, RARE_RECONCILE, type RunOutcome, type SyncTarget } from './stack.js';

/**
 * A workspace whose year does not fit in the sync's weekly budget (issue 15), over simulated Clari weeks:
 * the sync's clock (in its sandbox) and the emulator's move together, week by week, while the emulator
 * counts every request against Clari's own weekly quota. The first week stops at the budget with the
 * newest calls stored; later runs that week spend only the reserve and pick up changes; a week whose quota
 * the workspace's other tools spent early pauses without loss; the backfill then completes exactly.
 */

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const CALLS = 1_200;
/** About two fifths of what the first sync needs (about 1,212 requests). */
const BUDGET = 500;
/** Clari's own quota for the emulated workspace: ours plus room for its other tools. */
const CLARI_QUOTA = 1_000;
const METADATA = { ...RARE_RECONCILE, weeklyRequestBudget: BUDGET };

let stack: E2EStack;
let target: SyncTarget;
const realStart = Date.now();
/** Tuesday 10:00 of the Clari week `week` weeks after the current one, as an offset from the real clock. */
const offsetFor = (week: number, extraMs = 0): number =>
    clariWeekStart(realStart) + week * WEEK_MS + 2 * DAY_MS + 10 * HOUR_MS + extraMs - Date.now();

beforeAll(async () => {
    stack = await E2EStack.open('weekly-budget');
    // A spent week answers 429 with a Retry-After to the next week's start, which the sync takes as a pause at once
    // (without one it backs off for minutes first; the unit tests cover that on fake time).
    target = await stack.connect(
        await stack.emulator({ calls: CALLS, months: 10, seed: 163, weeklyQuota: CLARI_QUOTA, quota: { retryAfter: 'next-week' } })
    );
});

afterAll(async () => {
    stack.setSyncClockOffset(0);
    await stack.close();
});

/** Runs the sync at a point of a simulated week, both clocks moved there. */
async function runIn(week: number, extraMs = 0): Promise<RunOutcome> {
    const offset = offsetFor(week, extraMs);
    stack.setSyncClockOffset(offset);
    await target.control.setClockOffset(offset);
    return stack.run(target, METADATA);
}

describe('a backfill bigger than the weekly budget', () => {
    const details: number[] = [];
    let newestFirstChecked = false;

    it('stops the first week at the budget with the newest calls, successfully, and says when it resumes', async () => {
        const run = await runIn(0);
        details.push(summaryOf(run.logs).counts.detailsFetched);
        expect(summaryOf(run.logs)).toMatchObject({ run: 'initial', paused: 'budget' });
        const pause = reportOf(run.logs).find((line) => line.type === 'pause');
        expect(pause).toMatchObject({ reason: 'budget', budget: BUDGET });
        const quota = await target.control.quota();
        expect(quota.used).toBeLessThanOrEqual(BUDGET);

        const truth = (await target.control.truth()).filter((call) => !call.private);
        const stored = new Set((await listStored(stack.store, target.connectionId)).map((record) => record.id));
        expect(stored.size).toBeGreaterThan(200);
        const newestFirst = truth.filter((call) => callTimeMs(call) < Date.now() + offsetFor(0)).map((call) => call.id);
        // Every call down to the pages in progress when the budget ran out is stored, and nothing older than them.
        expect(newestFirst.findIndex((id) => !stored.has(id))).toBeGreaterThan(stored.size - 200);
        expect(newestFirst.slice(stored.size + 200).filter((id) => stored.has(id))).toEqual([]);
        newestFirstChecked = true;
    });

    it('later that week spends only the reserve, and picks up calls added and changed meanwhile', async () => {
        expect(newestFirstChecked).toBe(true);
        const storedIds = (await listStored(stack.store, target.connectionId)).map((record) => record.id);
        const mutation = await target.control.mutate({ add: 2, modify: storedIds.slice(0, 2) });
        const run = await runIn(0, 3 * HOUR_MS);
        details.push(summaryOf(run.logs).counts.detailsFetched);
        const stored = new Map((await listStored(stack.store, target.connectionId)).map((record) => [record.id, record]));
        for (const id of [...mutation.add, ...mutation.modify]) {
            expect(stored.get(id)?.data['last_modified_time']).toBe((await target.control.truthCall(id)).payload['last_modified_time']);
        }
        expect(summaryOf(run.logs).paused).toBe('budget');
        expect((await target.control.quota()).used).toBeLessThanOrEqual(BUDGET);
    });

    it('pauses without loss in a week whose quota the workspace’s other tools spent early', async () => {
        const before = (await listStored(stack.store, target.connectionId)).length;
        const offset = offsetFor(1);
        await target.control.setClockOffset(offset);
        await target.control.spendQuota(CLARI_QUOTA);
        const run = await runIn(1);
        details.push(summaryOf(run.logs).counts.detailsFetched);
        expect(summaryOf(run.logs)).toMatchObject({ paused: 'refused', counts: { failed: 0, saved: 0 } });
        expect(run.requests.quotaRefused).toBeLessThanOrEqual(20);
        expect((await listStored(stack.store, target.connectionId)).length).toBe(before);
    });

    it('completes over the following weeks: the store equals Clari, no week over budget, each call fetched once', async () => {
        let last: RunOutcome | null = null;
        for (let week = 2; week <= 8; week++) {
            last = await runIn(week);
            details.push(summaryOf(last.logs).counts.detailsFetched);
            if (summaryOf(last.logs).paused === null) {
                break;
            }
        }
        if (!last) {
            throw new Error('no run in the following weeks');
        }
        expect(summaryOf(last.logs).paused).toBeNull();
        // The last run's window, on the sync's clock: calls scheduled weeks ahead of the real clock have happened by then.
        const expected = expectedRecords(await target.control.truth(), last.plan.window);
        const stored = (await listStored(stack.store, target.connectionId)).filter((record) => record.deletedAt === null);
        expect(stored.map((record) => record.id).sort()).toEqual([...expected.keys()].sort());
        const quota = await target.control.quota();
        expect(Math.max(...quota.weeks.map((week) => week.used))).toBeLessThanOrEqual(BUDGET);
        // Details once per call, plus the two calls modified in the first week.
        expect(details.reduce((sum, count) => sum + count, 0)).toBe(expected.size + 2);
    });
});
