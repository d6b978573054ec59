import { clariWeekStart } from '../../nango-integrations/clari-copilot/budget.js';
import type { RunningClariEmulator } from '../emulator/index.js';

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
/** A minute into the new week: a clock read a moment early must not still see the old one. */
const INTO_THE_WEEK_MS = 60_000;

/**
 * The clock of an `npm start` whose emulated workspace has a weekly quota. A backfill that pauses for the week
 * would wait days for Sunday; instead the emulator's clock and the sync's (inside its sandbox) move together to
 * the next Clari week, so that the resumed backfill can be watched at once. The store and the scheduler keep the
 * real clock, as they do on Nango.
 */
export class SimulatedWeeks {
    private offsetMs = 0;
    /** The Clari week the clocks are in, counted from 1 at start. */
    week = 1;

    constructor(private readonly emulator: RunningClariEmulator) {}

    /** The sync's clock. */
    readonly now = (): number => Date.now() + this.offsetMs;

    /** Moves both clocks to the start of the next Clari week; returns the time they now read. */
    advance(): Date {
        const next = clariWeekStart(this.now()) + WEEK_MS + INTO_THE_WEEK_MS;
        this.offsetMs = next - Date.now();
        this.emulator.state.clockOffsetMs = this.offsetMs;
        this.week++;
        return new Date(next);
    }
}

/**
 * The weekly budget that fits an emulated quota, in the default's proportion (half of Clari's week, leaving the
 * rest to the workspace's other tools); null when half the quota is below the sync's smallest budget, 100.
 */
export function budgetForQuota(quota: number): number | null {
    const half = Math.floor(quota / 2);
    return half >= 100 ? Math.min(half, 100_000) : null;
}
