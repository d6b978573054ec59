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

const isoTime = z
    .string()
    .refine((text) => !Number.isNaN(Date.parse(text)))
    .transform((text) => new Date(text));
const memorySchema = z
    .object({
        clariLeadMs: z.number().nullish(),
        failedDay: z.number().int().nullish(),
        failedCallIds: z.string().nullish(),
        budgetWeekStart: z.number().int().nullish(),
        budgetSpent: z.number().int().min(0).nullish(),
        changesCost: z.number().min(0).nullish(),
        changesListedUntil: isoTime.nullish(),
        backfillUntil: isoTime.nullish(),
        backfillCursor: isoTime.nullish(),
        backfillListed: z.number().int().min(0).nullish(),
        listingPages: z.number().int().min(0).nullish(),
        reconcileUntil: isoTime.nullish(),
        reconcileCursor: isoTime.nullish()
    })
    .loose();
/** The fields this module owns; any other field of the checkpoint is kept as it was. */
const OWN_FIELDS = Object.keys(memorySchema.shape);

/** A backfill that spans runs: every call whose time is in [cursor, until) is stored. */
export interface BackfillProgress {
    until: Date;
    cursor: Date;
}
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
 * - **The week's request budget**: what this Clari week has cost, counted ahead of the requests.
 * - **How far the backfill got**, newest first, and until when changes were listed: Nango moves
 *   `lastSyncDate` after an interrupted run, though the work it was doing is not done.
 *
 * Without checkpoints (the pinned CLI's `nango dryrun`) nothing is remembered: the lead is assumed to be
 * `DEFAULT_CLARI_LEAD_MS`, and a failing call is retried by whichever later run lists it as changed.
 */
export class SyncMemory {
    private runLeadMs = Number.NEGATIVE_INFINITY;
    private readonly failedToday: Set<string>;
    /** The backfill still to do, or null when there is none (or no checkpoint to keep one in). */
    backfill: BackfillProgress | null;
    /** A reconciliation still to finish, after an interruption or a pause cut it off. */
    reconciliation: BackfillProgress | null;
    /** Every change with a last_modified_time before this (less the overlap) was listed; null when unknown. */
    changesListedUntil: Date | null;
    /** What listing the changes cost a run lately (a moving average), for the backfill's reserve. */
    changesCost: number | null;
    /** Calls the backfill in progress has listed so far, over all its runs. */
    backfillListed: number | null;
    /** List pages of the last complete listing of the whole window, to size reconciliations to the budget. */
    listingPages: number | null;
    /** The week's spend as the checkpoint has it (counted ahead), and its week. */
    budgetSpent: { weekStartMs: number; spent: number } | null;
    private writing: Promise<void> = Promise.resolve();

    private constructor(
        private readonly checkpointing: Checkpointing | null,
        private readonly saved: CheckpointValue,
        private readonly knownLeadMs: number,
        private readonly today: number
    ) {
        const parsed = memorySchema.safeParse(saved);
        const data = parsed.success ? parsed.data : null;
        this.failedToday = new Set(data?.failedDay === today ? parseIds(data.failedCallIds) : []);
        this.backfill = data?.backfillUntil && data.backfillCursor ? { until: data.backfillUntil, cursor: data.backfillCursor } : null;
        this.reconciliation =
            data?.reconcileUntil && data.reconcileCursor ? { until: data.reconcileUntil, cursor: data.reconcileCursor } : null;
        this.changesListedUntil = data?.changesListedUntil ?? null;
        this.changesCost = data?.changesCost ?? null;
        this.backfillListed = data?.backfillListed ?? null;
        this.listingPages = data?.listingPages ?? null;
        this.budgetSpent =
            data?.budgetWeekStart != null && data.budgetSpent != null
                ? { weekStartMs: data.budgetWeekStart, spent: data.budgetSpent }
                : null;
    }

    /** Whether anything is remembered at all: without checkpoints every run plans from lastSyncDate alone. */
    get hasCheckpoints(): boolean {
        return this.checkpointing !== null;
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
     * Writes everything remembered so far, keeping every other field of the checkpoint. Writes go one at a
     * time, each with the state as it is when its turn comes. Nango's runner may end the run here (an
     * interruption, thrown after the checkpoint is saved): that error is left to reach the runner. Returns how
     * many of today's failed calls did not fit in the checkpoint (they may be asked for again today).
     */
    async save(): Promise<number> {
        const checkpointing = this.checkpointing;
        if (checkpointing === null) {
            return 0;
        }
        let dropped = 0;
        this.writing = this.writing.then(async () => {
            const { value, droppedFailures } = this.snapshot();
            dropped = droppedFailures;
            await checkpointing.saveCheckpoint(value);
        });
        await this.writing;
        return dropped;
    }

    private snapshot(): { value: CheckpointValue; droppedFailures: number } {
        const leadMs = Math.max(this.knownLeadMs, this.runLeadMs);
        const ids: string[] = [];
        let droppedFailures = 0;
        for (const id of this.failedToday) {
            if (JSON.stringify([...ids, id]).length <= MAX_CHECKPOINT_STRING) {
                ids.push(id);
            } else {
                droppedFailures++;
            }
        }
        const others = Object.fromEntries(Object.entries(this.saved).filter(([key]) => !OWN_FIELDS.includes(key)));
        const value: CheckpointValue = {
            ...others,
            ...(Number.isFinite(leadMs) ? { clariLeadMs: leadMs } : {}),
            failedDay: this.today,
            failedCallIds: JSON.stringify(ids),
            ...(this.budgetSpent ? { budgetWeekStart: this.budgetSpent.weekStartMs, budgetSpent: this.budgetSpent.spent } : {}),
            ...(this.changesCost === null ? {} : { changesCost: this.changesCost }),
            ...(this.changesListedUntil ? { changesListedUntil: this.changesListedUntil.toISOString() } : {}),
            ...(this.backfill
                ? { backfillUntil: this.backfill.until.toISOString(), backfillCursor: this.backfill.cursor.toISOString() }
                : {}),
            ...(this.backfill && this.backfillListed !== null ? { backfillListed: this.backfillListed } : {}),
            ...(this.listingPages === null ? {} : { listingPages: this.listingPages }),
            ...(this.reconciliation
                ? { reconcileUntil: this.reconciliation.until.toISOString(), reconcileCursor: this.reconciliation.cursor.toISOString() }
                : {})
        };
        return { value, droppedFailures };
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
