export interface MapOptions<R> {
    /** Called once no item is left to start (the last one started, or a failure stopped the rest). */
    onAllStarted?: (() => void) | undefined;
    /** Called with each result once it and every result before it are in, so in the order of the items. */
    onResultInOrder?: ((result: R) => void) | undefined;
}

/**
 * Runs `work` over `items` with at most `limit` in flight; results keep the order of `items`. On failure
 * no further item is started, the ones in flight settle, and then the first error is thrown: nothing keeps
 * calling Clari after the caller has been told the work failed.
 */
export async function mapWithConcurrency<T, R>(
    items: readonly T[],
    limit: number,
    work: (item: T) => Promise<R>,
    options: MapOptions<R> = {}
): Promise<R[]> {
    const results = new Array<R>(items.length);
    const settled = new Array<boolean>(items.length).fill(false);
    const failures: unknown[] = [];
    let next = 0;
    let deliveredUpTo = 0;
    let told = false;
    const allStarted = (): void => {
        if (!told) {
            told = true;
            options.onAllStarted?.();
        }
    };
    const deliverInOrder = (): void => {
        while (deliveredUpTo < items.length && settled[deliveredUpTo] === true) {
            options.onResultInOrder?.(results[deliveredUpTo] as R);
            deliveredUpTo++;
        }
    };
    async function worker(): Promise<void> {
        while (next < items.length && failures.length === 0) {
            const index = next++;
            if (next === items.length) {
                allStarted();
            }
            try {
                // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- index < items.length
                results[index] = await work(items[index]!);
                settled[index] = true;
                deliverInOrder();
            } catch (error) {
                failures.push(error);
            }
        }
    }
    try {
        await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    } finally {
        allStarted();
    }
    if (failures.length > 0) {
        throw failures[0];
    }
    return results;
}

/** A turn at something one caller at a time, given in the order they asked; `leave` may be called more than once. */
export interface Turns {
    take(): Promise<{ leave: () => void }>;
}

export function createTurns(): Turns {
    let last: Promise<void> = Promise.resolve();
    return {
        async take() {
            let leave: () => void = () => undefined;
            const left = new Promise<void>((resolve) => {
                leave = resolve;
            });
            const previous = last;
            last = previous.then(() => left);
            await previous;
            return { leave };
        }
    };
}

/**
 * Runs `work` for each item of `source` with at most `limit` items in progress, pulling the next item
 * as soon as a slot frees. Used for list pages: while one page finishes its last detail requests and
 * saves, the next page is already listed and its details are queued, so the rate limiter never idles.
 * On failure it starts nothing more and stops waiting for the source at once (the item being fetched is
 * dropped, so a run Nango interrupts at a checkpoint hands over without waiting for one more list page);
 * the work in progress settles, so what it fetched is saved, and then the first error is thrown.
 */
export async function forEachConcurrently<T>(source: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    const inProgress = new Set<Promise<void>>();
    const failures: unknown[] = [];
    let failed: () => void = () => undefined;
    const firstFailure = new Promise<'failed'>((resolve) => {
        failed = () => {
            resolve('failed');
        };
    });
    let pending: Promise<IteratorResult<T>> | null = null;
    let exhausted = false;
    try {
        while (failures.length === 0) {
            pending = iterator.next();
            const next = await Promise.race([pending, firstFailure]);
            if (next === 'failed') {
                break;
            }
            pending = null;
            if (next.done === true) {
                exhausted = true;
                break;
            }
            const task: Promise<void> = work(next.value).then(
                () => {
                    inProgress.delete(task);
                },
                (error: unknown) => {
                    inProgress.delete(task);
                    failures.push(error);
                    failed();
                }
            );
            inProgress.add(task);
            if (inProgress.size >= limit) {
                await Promise.race(inProgress);
            }
        }
    } finally {
        if (pending !== null) {
            // Abandoned mid-fetch: nobody takes that item, and the source closes once it has it.
            pending.catch(() => undefined);
            iterator.return?.().catch(() => undefined);
        } else if (!exhausted) {
            await iterator.return?.();
        }
        await Promise.all(inProgress);
    }
    if (failures.length > 0) {
        throw failures[0];
    }
}
