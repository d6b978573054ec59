export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `onExpiry` after `ms` unless the returned cancel function runs first. Nango's script sandbox
 * provides `setTimeout` but not `clearTimeout`, so the timer is also unref'd where the host allows it:
 * an uncancelled timer then never keeps a finished run alive.
 */
export function startTimer(ms: number, onExpiry: () => void): () => void {
    const handle = setTimeout(onExpiry, ms);
    const host = globalThis as { clearTimeout?: (handle: ReturnType<typeof setTimeout>) => void };
    if (typeof handle === 'object' && typeof handle.unref === 'function') {
        handle.unref();
    }
    return () => {
        host.clearTimeout?.(handle);
    };
}

export interface RateLimiter {
    /** Resolves when the caller may send its next request. */
    acquire(): Promise<void>;
    /** Holds every caller back for `ms`, e.g. after a 429, so concurrent workers back off together. */
    pause(ms: number): void;
}

/**
 * Evenly spaced slots, no burst: Clari counts requests per second, and spacing them is what lets a
 * run at the full rate see no 429 at all.
 */
export function createRateLimiter(requestsPerSecond: number, now: () => number = Date.now): RateLimiter {
    const intervalMs = 1000 / requestsPerSecond;
    let nextSlot = 0;
    return {
        async acquire() {
            const current = now();
            const slot = Math.max(current, nextSlot);
            nextSlot = slot + intervalMs;
            if (slot > current) {
                await sleep(slot - current);
            }
        },
        pause(ms) {
            nextSlot = Math.max(nextSlot, now() + ms);
        }
    };
}
