import type { LocalStore } from './database.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

export interface AutoPruneOptions {
    /** Records not updated for this long lose their payload, as on Nango (30 days). */
    afterMs: number;
    /** Called after a check that pruned something, and after a check that failed. */
    onReport?: ((report: { pruned: number } | { error: unknown }) => void) | undefined;
}

export interface AutoPrune {
    stop(): Promise<void>;
}

/**
 * Nango's auto-pruning daemon, locally: a periodic check that prunes every stale record. It checks
 * every tenth of the threshold, between once a second and once an hour, so a tiny test threshold is
 * honoured promptly and the default costs one cheap query an hour.
 */
export function startAutoPrune(store: LocalStore, options: AutoPruneOptions): AutoPrune {
    const everyMs = Math.min(HOUR_MS, Math.max(1000, options.afterMs / 10));
    let running: Promise<void> = Promise.resolve();
    const check = (): void => {
        running = running.then(async () => {
            try {
                const pruned = await store.records.pruneStale(new Date(Date.now() - options.afterMs));
                if (pruned > 0) {
                    options.onReport?.({ pruned });
                }
            } catch (error) {
                options.onReport?.({ error });
            }
        });
    };
    check();
    const timer = setInterval(check, everyMs);
    timer.unref();
    return {
        async stop() {
            clearInterval(timer);
            await running;
        }
    };
}
