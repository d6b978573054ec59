import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FaultRule, StartOptions } from '../emulator/index.js';
import type { TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, isInWindow } from './oracle.js';
import { reportOf, summaryOf } from './run-logs.js';
import { listServed, listStored, versions } from './served-records.js';
import { E2EStack, FAST_METADATA, type RunOutcome, type SyncTarget } from './stack.js';

/** Faults Clari (or the network) throws at a run: every run must still store every valid call, and only those. */

let stack: E2EStack;

async function connect(options: StartOptions, connectOptions: Parameters<E2EStack['connect']>[1] = {}): Promise<SyncTarget> {
    // 11 months: the whole dataset is inside the backfill window; 2 list pages of 100.
    return stack.connect(await stack.emulator({ calls: 150, months: 11, ...options }), connectOptions);
}

async function expectComplete(target: SyncTarget, run: RunOutcome): Promise<Map<string, unknown>> {
    const expected = expectedRecords(await target.control.truth(), run.plan.window);
    expect(expected.size).toBeGreaterThan(50);
    expectRecordsEqualTruth(await listServed(stack.nango, target.connectionId), expected);
    return expected;
}

beforeAll(async () => {
    stack = await E2EStack.open('faults');
});

afterAll(async () => {
    await stack.close();
});

describe('429 storms', () => {
    it('with Retry-After: the run is throttled by Clari, waits as told, and loses nothing', async () => {
        // Clari allows 20 req/s here; the sync is configured for 100.
        const target = await connect({ seed: 31, calls: 80, rate: 20, retryAfter: true });
        const run = await stack.run(target, { ...FAST_METADATA, maxRequestsPerSecond: 100 });
        expect(run.requests.rateLimited).toBeGreaterThan(0);
        expect(summaryOf(run.logs).counts.throttled).toBe(run.requests.rateLimited);
        expect(summaryOf(run.logs).counts).toMatchObject({ failed: 0, invalid: 0 });
        await expectComplete(target, run);
    });

    it('without Retry-After: backoff with jitter, and nothing is lost', async () => {
        const target = await connect({ seed: 32, calls: 80, rate: 20, retryAfter: false });
        const run = await stack.run(target, { ...FAST_METADATA, maxRequestsPerSecond: 100 });
        expect(run.requests.rateLimited).toBeGreaterThan(0);
        expect(summaryOf(run.logs).counts.throttled).toBe(run.requests.rateLimited);
        await expectComplete(target, run);
    });

    // The client halves its rate on each 429 and recovers additively, and 429s have their own retry budget,
    // so a Clari limit far below maxRequestsPerSecond still lets the run finish.
    it('a sustained 429 storm without Retry-After (200 calls at 20 req/s) completes in one run', { timeout: 120_000 }, async () => {
        const target = await connect({ seed: 35, calls: 200, rate: 20, retryAfter: false });
        const run = await stack.run(target, { ...FAST_METADATA, maxRequestsPerSecond: 1000 });
        expect(run.requests.rateLimited).toBeGreaterThan(0);
        await expectComplete(target, run);
    });

    // Only 502/503 make a list page fall back to a smaller size early; other failures get the full retry budget.
    it('three 429s in a row on a list page are retried, not fatal', async () => {
        const target = await connect({ seed: 33, faults: [{ kind: '429', endpoint: 'calls', count: 3 }] });
        const run = await stack.run(target);
        expect(run.requests.faultsInjected.byKind['429']).toBe(3);
        await expectComplete(target, run);
    });

    it('three 500s in a row on a list page are retried, not fatal', async () => {
        const target = await connect({ seed: 34, faults: [{ kind: '500', endpoint: 'calls', count: 3 }] });
        const run = await stack.run(target);
        expect(run.requests.faultsInjected.byKind['500']).toBe(3);
        await expectComplete(target, run);
    });
});

describe('server errors and stalls', () => {
    it('500, 502 and 503 on list pages and details are retried; nothing is lost', async () => {
        const faults: FaultRule[] = [
            { kind: '502', endpoint: 'calls', count: 2 },
            { kind: '500', endpoint: 'call-details', count: 4 },
            { kind: '502', endpoint: 'call-details', count: 4 },
            { kind: '503', endpoint: 'call-details', count: 4 }
        ];
        const target = await connect({ seed: 41, faults });
        const run = await stack.run(target);
        expect(run.requests.faultsInjected).toEqual({ total: 14, byKind: { '500': 4, '502': 6, '503': 4 } });
        expect(summaryOf(run.logs).counts).toMatchObject({ retries: 14, failed: 0 });
        await expectComplete(target, run);
    });

    it('responses stalled for 3 s are waited for; nothing is lost', async () => {
        const target = await connect({ seed: 42, faults: [{ kind: 'stall', endpoint: 'any', count: 3, stallMs: 3000 }] });
        const run = await stack.run(target);
        expect(run.requests.faultsInjected.byKind['stall']).toBe(3);
        expect(run.durationMs).toBeGreaterThanOrEqual(3000);
        expect(summaryOf(run.logs).counts).toMatchObject({ retries: 0, failed: 0 });
        await expectComplete(target, run);
    });

    it('a response that never comes is abandoned when the proxy times out, and retried', async () => {
        // Nango's proxy would give up too; 1.5 s here instead of the 120 s default keeps the test short.
        const target = await connect(
            { seed: 43, faults: [{ kind: 'stall', endpoint: 'call-details', count: 2, stallMs: 'forever' }] },
            { timeoutMs: 1500 }
        );
        const run = await stack.run(target);
        expect(run.requests.faultsInjected.byKind['stall']).toBe(2);
        expect(summaryOf(run.logs).counts).toMatchObject({ retries: 2, failed: 0 });
        expect(run.events.filter((event) => event.type === 'request' && event.errorCode === 'ETIMEDOUT')).toHaveLength(2);
        await expectComplete(target, run);
    });

    it('502 on large pages: falls back to pages of 50 after 3 attempts; nothing is lost', async () => {
        const target = await connect({ seed: 44, faults: [{ kind: '502-large-pages' }] });
        const run = await stack.run(target);
        expect(run.requests.faultsInjected.byKind['502-large-pages']).toBe(3);
        expect(run.logs.filter((log) => log.level === 'warn').map((log) => log.message)).toEqual([
            'Clari keeps answering 502 to pages of 100; retrying with pages of 50'
        ]);
        const expected = await expectComplete(target, run);
        expect(run.requests.byEndpoint.calls).toBe(3 + Math.ceil(expected.size / 50));
    });
});

describe('malformed calls', () => {
    it('a malformed call in the middle of a page is logged by id and counted; the rest of its page is saved', async () => {
        const target = await connect({ seed: 51 });
        const truth: TruthCall[] = await target.control.truth();
        // Newest first, as the sync lists (the truth's order): positions 40 and 60 sit in the middle of the first page.
        const newestFirst = truth
            .filter((call) => !call.private && isInWindow(call, { after: new Date(0), before: new Date() }))
            .map((call) => call.id);
        const corrupted = [newestFirst[40], newestFirst[60]].filter((id): id is string => id !== undefined);
        const mutation = await target.control.mutate({ corrupt: corrupted });
        expect(mutation.corrupt).toEqual(corrupted);

        const run = await stack.run(target);
        const warnings = run.logs.filter((log) => log.level === 'warn').map((log) => log.message);
        expect(warnings).toHaveLength(2);
        corrupted.forEach((id, index) => {
            expect(warnings[index]).toContain(`Skipped invalid call ${id} `);
        });
        expect(warnings[0]).toMatch(/users/);
        expect(warnings[1]).toMatch(/time/);
        expect(summaryOf(run.logs).counts).toMatchObject({ invalid: 2, failed: 0 });
        const pages = reportOf(run.logs).flatMap((line) => (line.type === 'page' ? [line.counts] : []));
        expect(pages.filter((page) => page.listed === 98 && page.saved === 98 && page.invalid === 2)).toHaveLength(1);

        const expected = await expectComplete(target, run);
        expect(corrupted.filter((id) => expected.has(id))).toEqual([]);
        expect(expected.size).toBe(newestFirst.length - 2);
    });
});

describe('bad credentials', () => {
    const wrong = { apiKey: 'emulator-key', apiPassword: 'not-the-password' };

    it('fails fast with a message naming the API key and password, one request, store untouched', async () => {
        const target = await connect({ seed: 61 });
        const good = await stack.run(target);
        const before = await listStored(stack.store, target.connectionId);
        expect(before.length).toBeGreaterThan(100);
        const lastSync = await stack.store.runs.lastSuccessfulRunStart(target.connectionId, 'calls');
        expect(lastSync).toEqual(good.result.startedAt);

        const failed = await stack.runExpectingFailure(
            target,
            { ...FAST_METADATA, reconcileEveryHours: 0 },
            stack.proxy(target.emulator, wrong)
        );
        expect(String(failed.error)).toMatch(/API key/);
        expect(String(failed.error)).toMatch(/API password/);
        expect(failed.requests.total).toBe(1);
        expect(failed.requests.unauthorized).toBe(1);
        expect(failed.durationMs).toBeLessThan(2000);
        expect(failed.events.filter((event) => event.type === 'retry')).toEqual([]);

        expect(versions(await listStored(stack.store, target.connectionId))).toEqual(versions(before));
        expect(await stack.store.runs.lastSuccessfulRunStart(target.connectionId, 'calls')).toEqual(lastSync);
    });

    it('on a new connection: fails the same way and stores nothing', async () => {
        const target = await connect({ seed: 62 }, { credentials: { apiKey: 'wrong-key', apiPassword: 'emulator-password' } });
        const failed = await stack.runExpectingFailure(target, FAST_METADATA);
        expect(String(failed.error)).toMatch(/API key.*API password/);
        expect(failed.requests.total).toBe(1);
        expect(await listStored(stack.store, target.connectionId)).toEqual([]);
        expect(await stack.store.runs.lastSuccessfulRunStart(target.connectionId, 'calls')).toBeUndefined();
    });
});
