import type { Clock } from '../rate-limiter.js';

interface Timer {
    at: number;
    order: number;
    fire: () => void;
}

/**
 * A Clock whose time moves only when a timer fires, so a test sees exact gaps and spends no wall-clock
 * time waiting. `run` fires timers in due order until the work under test settles.
 */
export class FakeClock implements Clock {
    /** Every delay passed to `sleep`, in call order. */
    readonly sleeps: number[] = [];
    private time: number;
    private timers: Timer[] = [];
    private created = 0;

    constructor(start = 0) {
        this.time = start;
    }

    now(): number {
        return this.time;
    }

    sleep(ms: number): Promise<void> {
        this.sleeps.push(ms);
        return new Promise((resolve) => {
            this.schedule(ms, resolve);
        });
    }

    startTimer(ms: number, onExpiry: () => void): () => void {
        const timer = this.schedule(ms, onExpiry);
        return () => {
            this.timers = this.timers.filter((pending) => pending !== timer);
        };
    }

    /** Moves time on without firing anything, as a blocked event loop would: timers due meanwhile fire late, together. */
    jump(ms: number): void {
        this.time += ms;
    }

    get pendingTimers(): number {
        return this.timers.length;
    }

    async run<T>(work: Promise<T>): Promise<T> {
        // Set from callbacks, which flow analysis does not see.
        let settled = false as boolean;
        work.then(
            () => (settled = true),
            () => (settled = true)
        );
        for (;;) {
            // Let every promise chain the last timer released run to its next wait.
            await new Promise((resolve) => setImmediate(resolve));
            if (settled) {
                return work;
            }
            const next = this.timers.reduce<Timer | undefined>(
                (earliest, timer) =>
                    earliest === undefined || timer.at < earliest.at || (timer.at === earliest.at && timer.order < earliest.order)
                        ? timer
                        : earliest,
                undefined
            );
            if (next === undefined) {
                throw new Error('FakeClock: the work waits on something other than this clock');
            }
            this.timers = this.timers.filter((timer) => timer !== next);
            this.time = Math.max(this.time, next.at);
            next.fire();
        }
    }

    private schedule(ms: number, fire: () => void): Timer {
        const timer = { at: this.time + Math.max(0, ms), order: this.created++, fire };
        this.timers.push(timer);
        return timer;
    }
}
