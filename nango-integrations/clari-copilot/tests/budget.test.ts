import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
    clariWeekStart,
    MAX_REFUSALS_IN_A_ROW,
    PRECHARGE_BLOCK,
    PRECHARGE_REFILL_AT,
    RequestsPaused,
    RESERVE_FLOOR_SHARE,
    WEEK_MS,
    WeeklyBudget,
    weeklyReserve,
    type BudgetOptions
} from '../budget.js';
import { derivedReconcileHours, planRun } from '../plan.js';
import { parseSyncOptions } from '../options.js';
import { failWith, makeCall, type RawPayload } from './fake-clari.js';
import { createHarness, DAY_MS } from './harness.js';

const HOUR_MS = 60 * 60 * 1000;

describe('the Clari week', () => {
    it('starts on Sunday 00:00 GMT, across the change of year too', () => {
        const sunday = Date.parse('2025-12-28T00:00:00.000Z');
        expect(clariWeekStart(sunday)).toBe(sunday);
        expect(clariWeekStart(sunday - 1)).toBe(sunday - WEEK_MS);
        expect(clariWeekStart(Date.parse('2026-01-01T12:00:00.000Z'))).toBe(sunday);
        expect(clariWeekStart(Date.parse('2026-01-03T23:59:59.999Z'))).toBe(sunday);
        expect(clariWeekStart(Date.parse('2026-01-04T00:00:00.000Z'))).toBe(Date.parse('2026-01-04T00:00:00.000Z'));
        expect(clariWeekStart(0)).toBe(Date.parse('1969-12-28T00:00:00.000Z'));
    });
});

describe('the weekly budget', () => {
    let now = Date.parse('2026-06-17T12:00:00.000Z');
    const persisted: number[] = [];
    const budgetOf = (options: Partial<BudgetOptions> = {}): WeeklyBudget =>
        new WeeklyBudget({
            budget: 200,
            nowMs: () => now,
            saved: null,
            reserve: 50,
            persist: (_week, spentUpTo) => {
                persisted.push(spentUpTo);
                return Promise.resolve();
            },
            ...options
        });
    beforeEach(() => {
        now = Date.parse('2026-06-17T12:00:00.000Z');
        persisted.length = 0;
    });

    async function spendUntilPaused(budget: WeeklyBudget): Promise<RequestsPaused> {
        for (;;) {
            try {
                await budget.spend();
            } catch (error) {
                if (error instanceof RequestsPaused) {
                    return error;
                }
                throw error;
            }
        }
    }

    it('lets a backfill spend down to the reserve, changes the whole budget, and never more', async () => {
        const budget = budgetOf();
        budget.phase = 'backfill';
        const pause = await spendUntilPaused(budget);
        expect(pause.reason).toBe('budget');
        expect(budget.spentThisWeek).toBe(150);
        // A pause sticks: no worker of this run asks again, even for changes.
        budget.phase = 'changes';
        await expect(budget.spend()).rejects.toBe(pause);

        const changes = budgetOf({ saved: { weekStartMs: clariWeekStart(now), spent: 150 } });
        await spendUntilPaused(changes);
        expect(changes.spentThisWeek).toBe(200);
    });

    it('persists a count ahead of every request it lets through', async () => {
        const budget = budgetOf({ budget: 1000 });
        const sent = 200;
        for (let request = 1; request <= sent; request++) {
            await budget.spend();
            expect(Math.max(...persisted)).toBeGreaterThanOrEqual(request);
        }
        // Ahead in blocks, not one write a request: the first before request 1, then one each time fewer than
        // PRECHARGE_REFILL_AT counted requests are left, each moving the count on by the difference.
        const expected = [PRECHARGE_BLOCK];
        while ((expected.at(-1) ?? 0) - PRECHARGE_REFILL_AT < sent) {
            expected.push((expected.at(-1) ?? 0) + PRECHARGE_BLOCK - PRECHARGE_REFILL_AT);
        }
        expect(persisted).toEqual(expected);
    });

    it('writes the next block while the counted one still has room, so a slow write holds no request', async () => {
        const writes: { upTo: number; finish: () => void }[] = [];
        const budget = budgetOf({
            budget: 1000,
            persist: (_week, spentUpTo) =>
                new Promise<void>((resolve) => {
                    writes.push({ upTo: spentUpTo, finish: resolve });
                })
        });
        const settled = async (promise: Promise<void>): Promise<boolean> => {
            let done = false;
            void promise.then(
                () => (done = true),
                () => (done = true)
            );
            await new Promise((resolve) => setTimeout(resolve, 0));
            return done;
        };

        // Nothing is counted yet: the first request waits for its block.
        const first = budget.spend();
        expect(await settled(first)).toBe(false);
        expect(writes.map((write) => write.upTo)).toEqual([PRECHARGE_BLOCK]);
        writes[0]?.finish();
        await first;

        // Up to the refill point no write is started; from there one is, and requests go on without it.
        for (let sent = 2; sent <= PRECHARGE_BLOCK; sent++) {
            expect(await settled(budget.spend())).toBe(true);
        }
        expect(writes.map((write) => write.upTo)).toEqual([PRECHARGE_BLOCK, 2 * PRECHARGE_BLOCK - PRECHARGE_REFILL_AT]);

        // The block is used up and its successor is not written yet: the next request waits for it.
        const past = budget.spend();
        expect(await settled(past)).toBe(false);
        writes[1]?.finish();
        await past;
        expect(writes).toHaveLength(2);
    });

    it('reports a write started ahead of need that failed to the next request, once', async () => {
        let calls = 0;
        const failure = new Error('checkpoint write failed');
        const budget = budgetOf({
            budget: 1000,
            persist: () => (++calls === 2 ? Promise.reject(failure) : Promise.resolve())
        });
        for (let sent = 1; sent <= PRECHARGE_BLOCK - PRECHARGE_REFILL_AT + 1; sent++) {
            await budget.spend();
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
        // The refill failed in the background; the request after it hears of it and is not sent.
        await expect(budget.spend()).rejects.toBe(failure);
        await expect(budget.spend()).resolves.toBeUndefined();
    });

    it('carries the count of the same week over, and starts afresh in a new one', async () => {
        const week = clariWeekStart(now);
        expect(budgetOf({ saved: { weekStartMs: week, spent: 120 } }).spentThisWeek).toBe(120);
        expect(budgetOf({ saved: { weekStartMs: week - WEEK_MS, spent: 120 } }).spentThisWeek).toBe(0);
        const budget = budgetOf({ saved: { weekStartMs: week, spent: 199 } });
        await budget.spend();
        await expect(budget.spend()).rejects.toBeInstanceOf(RequestsPaused);
        const fresh = budgetOf({ saved: { weekStartMs: week, spent: 199 } });
        await fresh.spend();
        now = week + WEEK_MS;
        await fresh.spend();
        expect(fresh.spentThisWeek).toBe(1);
        expect(fresh.weekEnd.toISOString()).toBe(new Date(week + 2 * WEEK_MS).toISOString());
    });

    it(`stops after ${MAX_REFUSALS_IN_A_ROW} refusals in a row, and an answer in between starts the count again`, () => {
        const budget = budgetOf();
        for (let index = 1; index < MAX_REFUSALS_IN_A_ROW; index++) {
            budget.heard(429);
        }
        budget.heard(200);
        for (let index = 1; index < MAX_REFUSALS_IN_A_ROW; index++) {
            budget.heard(429);
        }
        expect(() => {
            budget.heard(429);
        }).toThrow(RequestsPaused);
        expect(budget.paused?.reason).toBe('refused');
    });

    it('counts what was sent after the first refusal as refusals to come, so that no more than the limit go out', async () => {
        const budget = budgetOf();
        for (let index = 0; index < 10; index++) {
            await budget.spend();
        }
        for (let index = 0; index < 10; index++) {
            budget.heard(429);
        }
        // 10 refused; 10 more may go out while their answers are awaited, not 11.
        for (let index = 0; index < 10; index++) {
            await budget.spend();
        }
        await expect(budget.spend()).rejects.toBeInstanceOf(RequestsPaused);
    });

    it('keeps for the week the incremental runs still to come, never less than its floor', () => {
        const wednesdayNoon = Date.parse('2026-06-17T12:00:00.000Z');
        // Sunday midnight is 3.5 days away: 84 hourly runs.
        expect(weeklyReserve({ budget: 50_000, nowMs: wednesdayNoon, runEveryMs: HOUR_MS, changesCostPerRun: 20 })).toBe(84 * 20);
        expect(weeklyReserve({ budget: 50_000, nowMs: wednesdayNoon, runEveryMs: HOUR_MS, changesCostPerRun: 2 })).toBe(
            50_000 * RESERVE_FLOOR_SHARE
        );
        expect(weeklyReserve({ budget: 1_000, nowMs: wednesdayNoon, runEveryMs: HOUR_MS, changesCostPerRun: 50 })).toBe(500);
    });
});

describe('reconciliations sized to the budget', () => {
    it('stay daily while their list pages cost at most 5% of the week, and space out beyond', () => {
        // 20,000 calls: 200 pages a day is 1,400 a week, 2.8% of the default 50,000.
        expect(derivedReconcileHours(200, 50_000)).toBe(24);
        // 500,000 calls: 5,000 pages; 2,500 a week is the most, so every two weeks.
        expect(derivedReconcileHours(5_000, 50_000)).toBe(14 * 24);
        expect(derivedReconcileHours(5_000, 100_000)).toBe(7 * 24);
        expect(derivedReconcileHours(null, 50_000)).toBe(24);
        expect(derivedReconcileHours(1_000_000, 100)).toBe(30 * 24);
    });

    it("keep the user's own reconcileEveryHours, and derive one only when none is set", () => {
        const now = new Date('2026-06-17T12:00:00.000Z');
        const memory = { hasCheckpoints: true, backfill: null, changesListedUntil: null, listingPages: 5_000, reconciliation: null };
        const derived = planRun(now, new Date('2026-06-16T23:00:00.000Z'), parseSyncOptions({}).options, memory);
        expect(derived.reconcileCadence).toEqual({ hours: 336, derived: true });
        const chosen = planRun(now, new Date('2026-06-16T23:00:00.000Z'), parseSyncOptions({ reconcileEveryHours: 24 }).options, memory);
        expect(chosen.reconcileCadence).toEqual({ hours: 24, derived: false });
        expect(chosen.kind).toBe('reconcile');
    });
});

describe('a workspace bigger than the weekly budget', () => {
    const T0 = new Date('2026-06-17T12:00:00.000Z');
    const BUDGET = 1500;
    beforeEach(() => {
        vi.useFakeTimers();
        vi.setSystemTime(T0);
    });
    afterEach(() => {
        vi.useRealTimers();
    });

    /** 3,000 calls, one every 2 hours back from T0: about 3,030 requests to backfill, about three weeks of this budget. */
    function workspace(): RawPayload[] {
        return Array.from({ length: 3000 }, (_, index) => makeCall(index, new Date(T0.getTime() - (index + 1) * 2 * HOUR_MS)));
    }
    const metadata = { weeklyRequestBudget: BUDGET, refreshRecentDays: 0, reconcileEveryHours: 720 };

    /**
     * Nango's runner past 80% of its execution: the `nth` saveCheckpoint whose value `counts` saves, then ends the
     * run. `stop()` gives the next runs an unlimited execution again.
     */
    function interruptAtSave(
        harness: ReturnType<typeof createHarness>,
        nth: number,
        counts: (saved: Record<string, unknown>) => boolean
    ): { error: Error; stop: () => void } {
        const nango = harness.nango as unknown as { saveCheckpoint: (value: object) => Promise<void> };
        const realSave = nango.saveCheckpoint.bind(nango);
        const error = new Error('interrupted at a checkpoint');
        let saves = 0;
        nango.saveCheckpoint = async (value) => {
            await realSave(value);
            if (counts(value as Record<string, unknown>) && ++saves === nth) {
                throw error;
            }
        };
        return {
            error,
            stop: () => {
                nango.saveCheckpoint = realSave;
            }
        };
    }

    async function runAt(harness: ReturnType<typeof createHarness>, at: Date, previousStart: Date | null): Promise<void> {
        harness.startNextRun();
        vi.setSystemTime(at);
        if (previousStart) {
            harness.setLastSyncDate(previousStart);
        }
        await harness.run();
    }

    it('backfills newest first across weeks, never over budget, each call fetched once, pausing without an error', async () => {
        const calls = workspace();
        const harness = createHarness({ calls, listRecords: true, checkpoint: null, metadata });
        const spentByWeek = new Map<number, number>();
        const detailsById = new Map<string, number>();
        const count = (): void => {
            for (const request of harness.clari.requests) {
                const week = clariWeekStart(request.at);
                spentByWeek.set(week, (spentByWeek.get(week) ?? 0) + 1);
                if (request.endpoint === '/call-details') {
                    const id = String(request.params['id']);
                    detailsById.set(id, (detailsById.get(id) ?? 0) + 1);
                }
            }
        };

        // Week 1: the budget less the reserve, newest calls first; a success that says it paused.
        await runAt(harness, T0, null);
        count();
        const first = harness.summary();
        expect(first).toMatchObject({ run: 'initial', paused: 'budget' });
        const storedFirstWeek = new Set(harness.store.keys());
        // The budget, less what the week's hourly runs are expected to need, less the list pages.
        expect(storedFirstWeek.size).toBeGreaterThan(1000);
        expect(first.counts.requests).toBeLessThanOrEqual(BUDGET);
        // Newest first: every call down to the two pages in progress when the budget ran out, and none past them.
        const newestMissing = calls.findIndex((call) => !storedFirstWeek.has(call.id));
        expect(newestMissing).toBeGreaterThan(storedFirstWeek.size - 200);
        expect(calls.slice(storedFirstWeek.size + 200).filter((call) => storedFirstWeek.has(call.id))).toEqual([]);
        const pauseLine = harness.report().find((line) => line.type === 'pause');
        expect(pauseLine).toMatchObject({ reason: 'budget', resumes: new Date('2026-06-21T00:00:00.000Z'), budget: BUDGET });
        expect(harness.checkpoint()?.['backfillCursor']).toBeTypeOf('string');

        // Later that week: a new call arrives and is fetched from the reserve; the backfill waits.
        const newCall = makeCall(5000, new Date(T0.getTime() + 30 * 60 * 1000), {
            last_modified_time: new Date(T0.getTime() + 50 * 60 * 1000).toISOString()
        });
        harness.clari.calls.set(newCall.id, newCall);
        await runAt(harness, new Date(T0.getTime() + HOUR_MS), T0);
        count();
        expect(harness.savedIds()).toContain(newCall.id);
        // What the run spent beyond the changes comes from a reserve re-estimated hour by hour: a few requests at most.
        expect(harness.summary()).toMatchObject({ paused: 'budget' });
        expect(harness.summary().counts.requests).toBeLessThanOrEqual(10);

        // The weeks after: the backfill resumes where it stopped and completes.
        let previous = new Date(T0.getTime() + HOUR_MS);
        for (let week = 1; week <= 6 && harness.checkpoint()?.['backfillCursor'] !== undefined; week++) {
            const at = new Date(clariWeekStart(T0.getTime()) + week * 7 * DAY_MS + 2 * HOUR_MS);
            await runAt(harness, at, previous);
            count();
            previous = at;
        }
        expect(harness.checkpoint()?.['backfillCursor']).toBeUndefined();
        expect([...harness.store.keys()].sort()).toEqual([...calls.map((call) => call.id), newCall.id].sort());
        expect(Math.max(...spentByWeek.values())).toBeLessThanOrEqual(BUDGET);
        expect([...detailsById.values()].every((times) => times === 1)).toBe(true);
        expect(detailsById.size).toBe(3001);
    });

    it(`stops asking after at most ${MAX_REFUSALS_IN_A_ROW} refusals when Clari refuses everything, keeps what it has, and ends successfully`, async () => {
        const harness = createHarness({ calls: workspace().slice(0, 150), listRecords: true, checkpoint: null, metadata });
        let refusing = false;
        harness.clari.faults = [
            (request) =>
                refusing
                    ? failWith(429)
                    : request.endpoint === '/call-details' && request.params['id'] === 'call-000050'
                      ? ((refusing = true), failWith(429))
                      : undefined
        ];
        await runAt(harness, T0, null);
        const refused = harness.clari.requests.filter(
            (request, index) => index >= harness.clari.requests.findIndex((r) => r.params['id'] === 'call-000050')
        );
        expect(refused.length).toBeLessThanOrEqual(MAX_REFUSALS_IN_A_ROW);
        expect(harness.summary()).toMatchObject({ paused: 'refused', counts: { failed: 0 } });
        expect(harness.logs()).toContainEqual(expect.stringMatching(/^Pausing: Clari (refused \d+ requests in a row|kept refusing)/));
        // What came before the refusals is kept, and the backfill resumes from there.
        expect(harness.store.size).toBeGreaterThanOrEqual(50);
        expect(harness.checkpoint()?.['backfillCursor']).toBeTypeOf('string');
    });

    it('resumes an interrupted backfill where its checkpoint says, re-listing at most a page and fetching nothing twice', async () => {
        const calls = workspace().slice(0, 450);
        const harness = createHarness({
            calls,
            listRecords: true,
            checkpoint: null,
            metadata: { ...metadata, weeklyRequestBudget: 50_000 }
        });
        const interruption = interruptAtSave(harness, 3, (saved) => saved['backfillCursor'] !== saved['backfillUntil']);
        await expect(runAt(harness, T0, null)).rejects.toBe(interruption.error);
        const storedBefore = harness.store.size;
        const cursor = String(harness.checkpoint()?.['backfillCursor']);
        expect(storedBefore).toBeGreaterThan(0);

        // Nango counts the interrupted run a success: lastSyncDate moves to its start, and the next run starts at once.
        interruption.stop();
        await runAt(harness, new Date(T0.getTime() + 60_000), T0);
        const backfillLists = harness.clari.requests.filter(
            (request) =>
                request.endpoint === '/calls' &&
                request.params['filterModifiedGt'] === undefined &&
                Date.parse(String(request.params['filterTimeLt'])) <= Date.parse(cursor)
        );
        expect(Date.parse(String(backfillLists[0]?.params['filterTimeLt']))).toBe(Date.parse(cursor));
        expect(harness.store.size).toBe(450);
        // Nothing stored before the interruption is fetched again.
        expect(harness.clari.requests.filter((request) => request.endpoint === '/call-details').length).toBe(450 - storedBefore);
    });

    it('resumes a reconciliation cut off mid-way, deletes nothing on the strength of it, and deletes at the next whole one', async () => {
        const calls = workspace().slice(0, 450);
        const harness = createHarness({
            calls,
            listRecords: true,
            checkpoint: null,
            metadata: { ...metadata, weeklyRequestBudget: 50_000, reconcileEveryHours: 24 }
        });
        await runAt(harness, T0, null);
        const gone = [calls[10]?.id ?? '', calls[400]?.id ?? ''];
        gone.forEach((id) => harness.clari.calls.delete(id));

        const interruption = interruptAtSave(
            harness,
            2,
            (saved) => saved['reconcileCursor'] !== undefined && saved['reconcileCursor'] !== saved['reconcileUntil']
        );
        const nextDay = new Date(T0.getTime() + 13 * HOUR_MS);
        await expect(runAt(harness, nextDay, T0)).rejects.toBe(interruption.error);
        expect(harness.checkpoint()?.['reconcileCursor']).toBeTypeOf('string');

        interruption.stop();
        await runAt(harness, new Date(nextDay.getTime() + 60_000), nextDay);
        expect(harness.summary()).toMatchObject({ run: 'reconcile', deletes: 'none' });
        expect(harness.deletedIds).toEqual([]);
        expect(harness.checkpoint()?.['reconcileCursor']).toBeUndefined();

        await runAt(harness, new Date(nextDay.getTime() + DAY_MS), new Date(nextDay.getTime() + 60_000));
        expect(harness.summary()).toMatchObject({ run: 'reconcile', deletes: 'listRecords' });
        expect(harness.deletedIds.sort()).toEqual([...gone].sort());
    });

    it('postpones a reconciliation the week cannot pay for, and lists changes meanwhile', async () => {
        const calls = workspace().slice(0, 450);
        // A small workspace on the smallest budget, told its whole listing is 500 pages: more than the week has left.
        const harness = createHarness({
            calls: calls.slice(0, 30),
            listRecords: true,
            checkpoint: null,
            metadata: { ...metadata, weeklyRequestBudget: 100, reconcileEveryHours: 24 }
        });
        await runAt(harness, T0, null);
        expect(harness.checkpoint()?.['backfillCursor']).toBeUndefined();
        const checkpoint = harness.checkpoint();
        if (checkpoint) {
            Object.assign(checkpoint, { listingPages: 500 });
        }
        await runAt(harness, new Date(T0.getTime() + 13 * HOUR_MS), T0);
        expect(harness.summary().run).toBe('incremental');
        expect(harness.logs()).toContainEqual(
            expect.stringMatching(/^Postponing the reconciliation: a whole listing takes about 550 requests/)
        );
    });
});
