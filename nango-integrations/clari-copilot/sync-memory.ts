import { z } from 'zod';
import type { NangoSync } from '../models.js';
import { canCheckpoint, type CheckpointValue, type Checkpointing } from './checkpoint.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Nango's checkpoint strings hold at most this many characters. */
const MAX_CHECKPOINT_STRING = 4000;
/**
 * Assumed lead of Clari's clock when none has been measured (a runtime without checkpoints, or a store
 * written by an older version of this sync): a call may look up to this much newer than Nango's record of it.
 */
export const DEFAULT_CLARI_LEAD_MS = 10 * 60 * 1000;

const memorySchema = z
    .object({
        clariLeadMs: z.number().nullish(),
        failedDay: z.number().int().nullish(),
        failedCallIds: z.string().nullish()
    })
    .loose();
const failedIdsSchema = z.array(z.string());

/**
 * What the sync remembers from one run to the next, in Nango's checkpoint when the runtime has one:
 *
 * - **Clari's clock lead**: the most that a call's `last_modified_time` has been found ahead of this
 *   runner's clock when its details were requested. A stored call is saved after its details are
 *   requested, so an unchanged call's `last_modified_time` is never more than this after the moment Nango
 *   stored it. That bound survives Nango pruning the payload, and makes a pruned record comparable with
 *   the listing whatever the skew between Clari's clock and Nango's.
 * - **Calls that failed today**, so that a call Clari keeps failing on is asked for at most once a day.
 *
 * Without checkpoints (the pinned CLI's `nango dryrun`) nothing is remembered: the lead is assumed to be
 * `DEFAULT_CLARI_LEAD_MS`, and a failing call is retried by whichever later run lists it as changed.
 */
export class SyncMemory {
    private runLeadMs = Number.NEGATIVE_INFINITY;
    private readonly failedToday: Set<string>;

    private constructor(
        private readonly checkpointing: Checkpointing | null,
        private readonly saved: CheckpointValue,
        private readonly knownLeadMs: number,
        private readonly today: number
    ) {
        const parsed = memorySchema.safeParse(saved);
        const ids = parsed.success && parsed.data.failedDay === today ? parseIds(parsed.data.failedCallIds) : [];
        this.failedToday = new Set(ids);
    }

    /**
     * Reads the checkpoint. On a first run (no `lastSyncDate`, a full refresh included) nothing about stored
     * records is known, so a pruned record counts as changed until this run has measured the lead.
     */
    static async load(nango: NangoSync, options: { firstRun: boolean; nowMs: number }): Promise<SyncMemory> {
        const today = Math.floor(options.nowMs / DAY_MS);
        const fallbackLeadMs = options.firstRun ? Number.NEGATIVE_INFINITY : DEFAULT_CLARI_LEAD_MS;
        if (!canCheckpoint(nango)) {
            return new SyncMemory(null, {}, fallbackLeadMs, today);
        }
        const saved = (await nango.getCheckpoint()) ?? {};
        const parsed = memorySchema.safeParse(saved);
        const leadMs = parsed.success ? parsed.data.clariLeadMs : null;
        return new SyncMemory(nango, saved, leadMs ?? fallbackLeadMs, today);
    }

    /**
     * How far past Nango's `last_modified_at` an unchanged call's `last_modified_time` may lie; -Infinity when
     * unknown. No margin is added for Nango's runner and record store keeping different time: the store writes
     * a record at least a Clari round trip and a persist call after the runner asked for its details, which
     * covers clocks that NTP keeps within milliseconds. A margin would instead hide real changes made within
     * it after the call was stored.
     */
    get prunedAllowanceMs(): number {
        return Math.max(this.knownLeadMs, this.runLeadMs);
    }

    /** Call details arrived for a request sent at `requestedAtMs` on this runner's clock. */
    noteDetails(lastModifiedTime: string | null | undefined, requestedAtMs: number): void {
        const modifiedMs = lastModifiedTime ? Date.parse(lastModifiedTime) : Number.NaN;
        if (!Number.isNaN(modifiedMs)) {
            this.runLeadMs = Math.max(this.runLeadMs, modifiedMs - requestedAtMs);
        }
    }

    hasFailedToday(id: string): boolean {
        return this.failedToday.has(id);
    }

    noteFailed(id: string): void {
        this.failedToday.add(id);
    }

    /**
     * Writes what this run learned, keeping every other field of the checkpoint. Returns how many of
     * today's failed calls did not fit in it (they may be asked for again today).
     */
    async save(): Promise<number> {
        if (this.checkpointing === null) {
            return 0;
        }
        const leadMs = Math.max(this.knownLeadMs, this.runLeadMs);
        const ids: string[] = [];
        let dropped = 0;
        for (const id of this.failedToday) {
            if (JSON.stringify([...ids, id]).length <= MAX_CHECKPOINT_STRING) {
                ids.push(id);
            } else {
                dropped++;
            }
        }
        const { clariLeadMs: _lead, failedDay: _day, failedCallIds: _ids, ...others } = this.saved;
        await this.checkpointing.saveCheckpoint({
            ...others,
            ...(Number.isFinite(leadMs) ? { clariLeadMs: leadMs } : {}),
            failedDay: this.today,
            failedCallIds: JSON.stringify(ids)
        });
        return dropped;
    }
}

function parseIds(text: string | null | undefined): string[] {
    if (!text) {
        return [];
    }
    try {
        const parsed = failedIdsSchema.safeParse(JSON.parse(text));
        return parsed.success ? parsed.data : [];
    } catch {
        return [];
    }
}
