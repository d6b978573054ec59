import { describe, expect, it } from 'vitest';

import { createTurns, forEachConcurrently, mapWithConcurrency } from '../concurrency.js';

/** A source whose items arrive when the test releases them, like list pages from a slow Clari. */
function gatedSource(count: number): {
    source: AsyncIterable<number>;
    release: () => void;
    requested: () => number;
    closed: () => boolean;
} {
    let release: () => void = () => undefined;
    let requested = 0;
    let closed = false;
    async function* pages(): AsyncGenerator<number> {
        try {
            for (let page = 0; page < count; page++) {
                requested++;
                await new Promise<void>((resolve) => {
                    release = resolve;
                });
                yield page;
            }
        } finally {
            closed = true;
        }
    }
    return {
        source: pages(),
        release: () => {
            release();
        },
        requested: () => requested,
        closed: () => closed
    };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('forEachConcurrently', () => {
    it('throws a failure at once while the next item is still being fetched, and starts nothing after it', async () => {
        const gate = gatedSource(5);
        const started: number[] = [];
        const run = forEachConcurrently(gate.source, 2, async (page) => {
            started.push(page);
            await tick();
            if (page === 0) {
                throw new Error('interrupted at checkpoint');
            }
        });
        const outcome = run.then(
            () => 'resolved',
            (error: unknown) => String(error)
        );
        gate.release();
        // Page 0 fails while page 1 is still being fetched; page 1 is never released.
        expect(await outcome).toBe('Error: interrupted at checkpoint');
        expect(started).toEqual([0]);
        expect(gate.requested()).toBe(2);
        // The abandoned fetch, when it ends, goes nowhere, and the source closes after it.
        gate.release();
        await tick();
        expect(started).toEqual([0]);
        expect(gate.closed()).toBe(true);
    }, 5_000);

    it('lets the work in progress finish before it throws, so what it fetched is kept', async () => {
        const gate = gatedSource(5);
        const finished: number[] = [];
        const run = forEachConcurrently(gate.source, 2, async (page) => {
            await tick();
            if (page === 0) {
                throw new Error('paused');
            }
            await tick();
            await tick();
            finished.push(page);
        });
        const outcome = run.then(
            () => 'resolved',
            (error: unknown) => String(error)
        );
        gate.release();
        await new Promise((resolve) => setTimeout(resolve, 1));
        gate.release();
        expect(await outcome).toBe('Error: paused');
        expect(finished).toEqual([1]);
        expect(gate.closed()).toBe(true);
    });

    it('keeps at most `limit` items in progress and does every item', async () => {
        let inProgress = 0;
        let most = 0;
        const done: number[] = [];
        async function* items(): AsyncGenerator<number> {
            for (let item = 0; item < 9; item++) {
                await tick();
                yield item;
            }
        }
        await forEachConcurrently(items(), 3, async (item) => {
            inProgress++;
            most = Math.max(most, inProgress);
            await new Promise((resolve) => setTimeout(resolve, 20));
            inProgress--;
            done.push(item);
        });
        expect(most).toBe(3);
        expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('throws what the source throws, after the work in progress', async () => {
        const done: number[] = [];
        async function* failing(): AsyncGenerator<number> {
            yield 0;
            await tick();
            throw new Error('GET /calls failed');
        }
        await expect(
            forEachConcurrently(failing(), 2, async (item) => {
                await tick();
                await tick();
                done.push(item);
            })
        ).rejects.toThrow('GET /calls failed');
        expect(done).toEqual([0]);
    });
});

describe('mapWithConcurrency', () => {
    it('says when the last item has started, while earlier ones are still in flight', async () => {
        const finish: (() => void)[] = [];
        const events: string[] = [];
        const done = mapWithConcurrency(
            [1, 2, 3],
            2,
            (item) =>
                new Promise<number>((resolve) => {
                    events.push(`start ${item}`);
                    finish.push(() => {
                        events.push(`end ${item}`);
                        resolve(item * 10);
                    });
                }),
            { onAllStarted: () => events.push('all started') }
        );
        await tick();
        finish.shift()?.();
        await tick();
        expect(events).toEqual(['start 1', 'start 2', 'end 1', 'all started', 'start 3']);
        finish.splice(0).forEach((end) => {
            end();
        });
        expect(await done).toEqual([10, 20, 30]);
        expect(events.filter((event) => event === 'all started')).toHaveLength(1);
    });

    it('says so too when a failure stops the rest, and when there is nothing to start', async () => {
        let told = 0;
        await expect(
            mapWithConcurrency([1, 2, 3], 1, () => Promise.reject(new Error('boom')), { onAllStarted: () => told++ })
        ).rejects.toThrow('boom');
        expect(told).toBe(1);
        await mapWithConcurrency([], 2, () => Promise.resolve(), { onAllStarted: () => told++ });
        expect(told).toBe(2);
    });
    it('hands each result over in the order of the items, as soon as every earlier one is in', async () => {
        const finish = new Map<number, () => void>();
        const delivered: number[] = [];
        const done = mapWithConcurrency(
            [1, 2, 3, 4],
            4,
            (item) =>
                new Promise<number>((resolve) => {
                    finish.set(item, () => {
                        resolve(item);
                    });
                }),
            { onResultInOrder: (result) => delivered.push(result) }
        );
        await tick();
        finish.get(2)?.();
        finish.get(4)?.();
        await tick();
        expect(delivered).toEqual([]);
        finish.get(1)?.();
        await tick();
        expect(delivered).toEqual([1, 2]);
        finish.get(3)?.();
        await done;
        expect(delivered).toEqual([1, 2, 3, 4]);
    });
});

describe('createTurns', () => {
    it('gives one turn at a time, in the order they were asked for', async () => {
        const turns = createTurns();
        const order: string[] = [];
        const first = await turns.take();
        const second = turns.take().then((turn) => {
            order.push('second');
            return turn;
        });
        const third = turns.take().then((turn) => {
            order.push('third');
            return turn;
        });
        await tick();
        expect(order).toEqual([]);
        first.leave();
        first.leave();
        await tick();
        expect(order).toEqual(['second']);
        (await second).leave();
        await tick();
        expect(order).toEqual(['second', 'third']);
        (await third).leave();
    });
});
