/** Runs `work` over `items` with at most `limit` in flight; results keep the order of `items`. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    async function worker(): Promise<void> {
        while (next < items.length) {
            const index = next++;
            // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- index < items.length
            results[index] = await work(items[index]!);
        }
    }
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/**
 * Iterates `source` while already asking it for the next item, so that the next list page is on its
 * way while the current page's details are fetched and saved.
 */
export async function* prefetchNext<T>(source: AsyncIterator<T>): AsyncGenerator<T> {
    let pending = source.next();
    for (;;) {
        const current = await pending;
        if (current.done === true) {
            return;
        }
        pending = source.next();
        // A failure of the prefetched page surfaces when it is awaited; until then it must not be "unhandled".
        pending.catch(() => undefined);
        yield current.value;
    }
}
