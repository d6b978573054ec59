import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { clariWeekStart, WEEK_MS } from '../nango-integrations/clari-copilot/budget.js';
import { CALL_MODEL } from '../nango-integrations/clari-copilot/constants.js';
import { summaryOf } from '../local-stack/e2e/run-logs.js';
import { E2EStack, type SyncTarget } from '../local-stack/e2e/stack.js';

/**
 * `npm run bench:big -- [--calls N]`: a workspace whose year does not fit in the sync's weekly budget, over
 * simulated Clari weeks. The proportions are the default budget's for a 500-rep team: 50,000 requests a week
 * for 500,000 calls a year, so N calls get N / 10 a week, and Clari's own quota is twice that (the rest is the
 * workspace's other tools). One run a simulated day; the sync's clock (in its sandbox) and the emulator's
 * move together. Clari's rate limit is off, so weeks take seconds; every figure is in requests and weeks.
 *
 * Reported: simulated weeks to a complete backfill; the largest week's spend over the budget (target <= 1.00);
 * the requests until the newest 1,000 calls are served, and what that is at Clari's 10 req/s; the steady-state
 * weekly spend once the backfill is done (two weeks after one to settle), against 5% of the budget plus the
 * changed calls; and wasted details
 * (fetched during the backfill, but not saved).
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const CLARI_RATE = 10;

function argValue(name: string, fallback: number): number {
    const index = process.argv.indexOf(name);
    const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
    if (!Number.isInteger(value) || value < 1_000 || value > 200_000) {
        throw new Error(`${name} must be an integer from 1,000 to 200,000`);
    }
    return value;
}

interface DayRun {
    week: number;
    day: number;
    requests: number;
    detailsFetched: number;
    saved: number;
    paused: string | null;
    kind: string;
}

async function main(): Promise<void> {
    const calls = argValue('--calls', 20_000);
    const budget = Math.max(100, Math.round(calls / 10));
    const started = Date.now();
    const stack = await E2EStack.open('big-workspace');
    let target: SyncTarget | null = null;
    try {
        target = await stack.connect(
            await stack.emulator({ calls, months: 11, seed: 42, weeklyQuota: 2 * budget, quota: { retryAfter: 'next-week' } })
        );
        // The daily refresh is left out: its cost is capped apart (6% of the week at most) and would blur the backfill's figures.
        const metadata = { maxRequestsPerSecond: 1000, includeMedia: false, weeklyRequestBudget: budget, refreshRecentDays: 0 };
        const firstWeek = clariWeekStart(started);
        const setDay = async (week: number, day: number): Promise<void> => {
            const offset = firstWeek + week * WEEK_MS + day * DAY_MS + 10 * 60 * 60 * 1000 - Date.now();
            stack.setSyncClockOffset(offset);
            await target?.control.setClockOffset(offset);
        };
        const runs: DayRun[] = [];
        // Each run resets the emulator's counters: what earlier runs sent is kept here.
        let requestsBefore = 0;
        const runDay = async (week: number, day: number): Promise<DayRun> => {
            await setDay(week, day);
            const outcome = await stack.run(target as SyncTarget, metadata);
            const summary = summaryOf(outcome.logs);
            const run: DayRun = {
                week,
                day,
                requests: summary.counts.requests,
                detailsFetched: summary.counts.detailsFetched,
                saved: summary.counts.saved,
                paused: summary.paused,
                kind: summary.run
            };
            runs.push(run);
            requestsBefore += run.requests;
            console.log(
                `week ${week} day ${day}: ${run.kind}, ${run.requests} requests, ${run.saved} saved${run.paused ? `, paused (${run.paused})` : ''}`
            );
            return run;
        };

        // The newest 1,000 calls: how many requests until the store serves them, watched during the first run.
        // Set from a timer callback, which flow analysis does not follow.
        const newestThousand: { requests: number | null } = { requests: null };
        const watch = setInterval(() => {
            void stack.store.records.countLiveRecords(target?.connectionId ?? '', CALL_MODEL).then(async (count) => {
                if (count >= 1_000 && newestThousand.requests === null) {
                    const sent = (await target?.control.stats())?.total;
                    newestThousand.requests = sent === undefined ? null : requestsBefore + sent;
                }
            });
        }, 50);
        let week = 0;
        let day = 2;
        let complete = false;
        try {
            await target.control.resetStats();
            for (; week < 60 && !complete; week++, day = 0) {
                for (; day < 7; day++) {
                    const run = await runDay(week, day);
                    if (run.kind !== 'initial' && run.paused === null) {
                        complete = true;
                        break;
                    }
                }
            }
        } finally {
            clearInterval(watch);
        }
        const backfillWeeks = week;

        // Steady weeks after the backfill: one run a day, 1% of the calls changed a week. The first week still settles
        // (the reconciliation cadence is derived from the first whole listing), so the figure is the next two weeks'.
        const changed = Math.round(calls / 100);
        const steadyWeeks: number[] = [];
        const steady: DayRun[] = [];
        for (let steadyWeek = week + 1; steadyWeek <= week + 3; steadyWeek++) {
            let spent = 0;
            for (let steadyDay = 0; steadyDay < 7; steadyDay++) {
                await setDay(steadyWeek, steadyDay);
                await target.control.mutate({ modify: Math.round(changed / 7) });
                const run = await runDay(steadyWeek, steadyDay);
                steady.push(run);
                spent += run.requests;
            }
            steadyWeeks.push(spent);
        }
        const steadySpend = Math.round(((steadyWeeks[1] ?? 0) + (steadyWeeks[2] ?? 0)) / 2);
        const quota = await target.control.quota();
        const largestWeek = Math.max(...quota.weeks.map((counted) => counted.used));
        const stored = await stack.store.records.countLiveRecords(target.connectionId, CALL_MODEL);
        // Details the backfill fetched but did not save (none should be: a pause keeps what was fetched).
        const wasted = runs.slice(0, runs.length - steady.length).reduce((sum, run) => sum + run.detailsFetched - run.saved, 0);
        const requestsToNewestThousand = newestThousand.requests;
        const results = {
            calls,
            budget,
            clariQuota: 2 * budget,
            stored,
            backfillWeeks,
            largestWeekOverBudget: largestWeek / budget,
            requestsToNewestThousand,
            secondsToNewestThousandAtClariRate: requestsToNewestThousand === null ? null : requestsToNewestThousand / CLARI_RATE,
            steadyWeeklySpend: steadySpend,
            steadyWeeks,
            steadyTarget: Math.round(0.05 * budget) + changed,
            wastedDetails: wasted,
            runs,
            benchSeconds: (Date.now() - started) / 1000
        };
        const lines = [
            `big workspace: ${calls} calls, budget ${budget} a week (Clari's quota ${2 * budget}), one run a simulated day`,
            `${results.largestWeekOverBudget <= 1 ? 'PASS' : 'FAIL'}  largest week's spend ${largestWeek} = ${results.largestWeekOverBudget.toFixed(3)}x the budget (target <= 1.00)`,
            `info  backfill complete after ${backfillWeeks} simulated week(s); ${stored} calls stored`,
            `info  newest 1,000 calls served after ${requestsToNewestThousand ?? '?'} requests (${results.secondsToNewestThousandAtClariRate?.toFixed(0) ?? '?'} s at Clari's 10 req/s)`,
            `${steadySpend <= results.steadyTarget ? 'PASS' : 'FAIL'}  steady-state week: ${steadySpend} requests, the mean of ${steadyWeeks.slice(1).join(' and ')} ` +
                `(target <= 5% of the budget + ${changed} changed calls = ${results.steadyTarget}; the first steady week, which settles, cost ${steadyWeeks[0] ?? 0})`,
            `${wasted === 0 ? 'PASS' : 'FAIL'}  wasted details (fetched during the backfill but not saved): ${wasted}`
        ];
        console.log(`\n${lines.join('\n')}`);
        const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out');
        await mkdir(outDir, { recursive: true });
        await writeFile(path.join(outDir, `big-workspace-${calls}.json`), `${JSON.stringify(results, null, 2)}\n`);
        console.log(`\nWrote bench/out/big-workspace-${calls}.json (${results.benchSeconds.toFixed(0)} s).`);
    } finally {
        stack.setSyncClockOffset(0);
        await stack.close();
    }
}

await main();
