import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectedRecords } from './oracle.js';
import { summaryOf } from './run-logs.js';
import { listStored } from './served-records.js';
import { E2EStack, RARE_RECONCILE, ALWAYS_RECONCILE, type SyncTarget } from './stack.js';

/**
 * Nango's Lambda runtime cuts an execution short (issue 14; here NANGO_LOCAL_RUN_TIMEOUT_S): at 80% the next
 * checkpoint ends the run as interrupted, a success after which the next execution starts at once. The
 * backfill and the reconciliation checkpoint after every page, so a first sync and a reconciliation longer than
 * one execution complete across the chain, lose nothing, fetch nothing twice, and delete nothing wrongly.
 */

/** Short executions: interrupted at 3.2 s, killed at 3.8 s, so the sync must checkpoint within 600 ms. */
const EXECUTION_MS = 4_000;
/** Every Clari answer takes a while, so that each execution gets through a page or two. */
const LATENCY = { list: { minMs: 60, maxMs: 80 }, details: { minMs: 20, maxMs: 40 } };
const METADATA = { ...RARE_RECONCILE, maxRequestsPerSecond: 200 };

let stack: E2EStack;
let target: SyncTarget;

/** Executions cut short, whether handed over at a checkpoint or killed at 95% and resumed by the next run. */
function cutShort(chain: { interrupted: unknown[]; killed: number }): number {
    return chain.interrupted.length + chain.killed;
}

beforeAll(async () => {
    stack = await E2EStack.open('interrupted-budget');
    target = await stack.connect(await stack.emulator({ calls: 1_500, months: 10, seed: 167, latency: LATENCY }));
});

afterAll(async () => {
    await stack.close();
});

describe('a sync longer than one execution', () => {
    it('completes a first sync across interrupted executions, each resuming from the last page saved', async () => {
        const chain = await stack.runChained(target, EXECUTION_MS, METADATA);
        expect(cutShort(chain)).toBeGreaterThanOrEqual(2);
        expect(chain.final.interrupted).toBe(false);
        const expected = expectedRecords(await target.control.truth(), {
            after: new Date(Date.now() - 365 * 86_400_000),
            before: new Date()
        });
        const stored = await listStored(stack.store, target.connectionId);
        expect(
            stored
                .filter((record) => record.deletedAt === null)
                .map((record) => record.id)
                .sort()
        ).toEqual([...expected.keys()].sort());
        // Each call's details once, plus at most the pages in progress when each execution was cut off.
        expect(chain.requests.byEndpoint['call-details']).toBeLessThanOrEqual(expected.size + cutShort(chain) * 200);
        expect(stored.every((record) => record.lastAction === 'ADDED')).toBe(true);
    });

    it('completes a reconciliation across interrupted executions, and deletes only what Clari deleted', async () => {
        const stored = (await listStored(stack.store, target.connectionId)).map((record) => record.id);
        const deleted = (await target.control.mutate({ delete: stored.slice(100, 103) })).delete;
        // Slower lists: a reconciliation of 15 pages no longer fits in one execution.
        await target.control.setLatency({ list: { minMs: 450, maxMs: 500 } });
        const cut = await stack.runChained(target, EXECUTION_MS, { ...ALWAYS_RECONCILE, maxRequestsPerSecond: 200 });
        expect(cutShort(cut)).toBeGreaterThanOrEqual(1);
        const summaries = cut.logs.flatMap((lines) => {
            try {
                return [summaryOf(lines)];
            } catch {
                return [];
            }
        });
        // The executions that finish the cut-off reconciliation delete nothing: none of them listed every call.
        expect(summaries.every((summary) => summary.deletes === 'none' || summary.deletes === 'listRecords')).toBe(true);
        const after = await listStored(stack.store, target.connectionId);
        const wronglyDeleted = after.filter((record) => record.deletedAt !== null && !deleted.includes(record.id));
        expect(wronglyDeleted).toEqual([]);

        // Given time for a whole listing, the next reconciliation deletes exactly what Clari deleted.
        await target.control.setLatency({ list: { minMs: 0, maxMs: 0 } });
        const whole = await stack.run(target, ALWAYS_RECONCILE);
        expect(summaryOf(whole.logs).deletes).toBe('listRecords');
        const final = await listStored(stack.store, target.connectionId);
        expect(
            final
                .filter((record) => record.deletedAt !== null)
                .map((record) => record.id)
                .sort()
        ).toEqual([...deleted].sort());
    });
});
