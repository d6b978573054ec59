import { z } from 'zod';
import type { NangoSync } from '../models.js';
import { CALL_MODEL } from './constants.js';
import { fetchCallDetails } from './details.js';
import { listCallsInWindow } from './listing.js';
import { toCallRecord } from './mapper.js';
import { canListRecords, type RecordLister } from './record-lister.js';
import { compareWithStored, readStoredCalls } from './stored-calls.js';
import { detailsConcurrency, reportInvalid, type SyncRun } from './sync-page.js';

/** Ids per batchDelete, the size of a records API page. */
const DELETE_BATCH = 100;
/** A reconciliation may delete up to this share of the stored calls it did not positively see leave... */
export const MAX_DELETE_SHARE = 0.1;
/** ...or this many, whichever is more, so that a small store can still lose a few calls in a day. */
export const MIN_DELETE_ALLOWANCE = 10;

const storedIdentitySchema = z
    .object({
        id: z.union([z.string().min(1), z.number()]),
        _nango_metadata: z.object({ deleted_at: z.string().nullish() }).nullish()
    })
    .loose();

/**
 * The delete half of a reconciliation. Clari has no deletion signal, so a call that is gone is one the
 * complete listing of the window no longer returns. A listing can mislead, though: a call rescheduled
 * while it was paged, a page Clari served short or empty. So nothing is deleted on absence alone:
 *
 * - stored calls found in the strip of times that just left the backfill window aged out, and go;
 * - every other unlisted call is asked for (`/call-details`): a 404 deletes it, an answer keeps it (and
 *   saves it if it changed), unless its time has left the window;
 * - and when those unconfirmed candidates are more than a tenth of the store, nothing is deleted at all.
 *
 * Where the runtime can list stored records (Nango's runner today), the pass compares ids and re-saves
 * nothing. Nango prunes the payload of records untouched for 30 days, so a pass that must re-save every
 * record (the fallback, for `nango dryrun` and older runners) cannot work once pruned records are in the way.
 */
export class VanishedCallsPass {
    private readonly listedIds = new Set<string>();

    private constructor(
        private readonly nango: NangoSync,
        private readonly lister: RecordLister | null
    ) {}

    static for(nango: NangoSync): VanishedCallsPass {
        return new VanishedCallsPass(nango, canListRecords(nango) ? nango : null);
    }

    /** Whether pages must re-save their unchanged stored calls, because Nango deletes whatever a run did not save. */
    get resavesStored(): boolean {
        return this.lister === null;
    }

    noteListed(ids: readonly string[]): void {
        if (this.lister !== null) {
            ids.forEach((id) => this.listedIds.add(id));
        }
    }

    async run(run: SyncRun): Promise<void> {
        const { stats } = run;
        if (stats.incompleteListings > 0) {
            stats.deleteMethod = 'skipped';
            await this.warn(`Deleting nothing this run: ${stats.incompleteListings} window(s) could not be listed whole.`);
            return;
        }
        if (this.lister !== null) {
            await this.deleteUnlisted(run, this.lister);
            return;
        }
        if (stats.prunedInTheWay > 0) {
            stats.deleteMethod = 'skipped';
            await this.warn(
                `Deleting nothing this run: ${stats.prunedInTheWay} listed call(s) have pruned payloads that cannot be re-saved, and ` +
                    `deleteRecordsFromPreviousExecutions would delete them. This runtime has no listRecords to compare ids instead.`
            );
            return;
        }
        if (stats.listed === 0) {
            // Without listRecords the store cannot be counted, but a listing that found nothing deletes everything.
            stats.deleteMethod = 'withheld';
            await this.warn(`Withholding deletes this run: Clari listed no calls at all, which would delete every stored call.`);
            return;
        }
        stats.deleteMethod = 'previousExecutions';
        const { deletedKeys } = await this.nango.deleteRecordsFromPreviousExecutions(CALL_MODEL);
        stats.deleted += deletedKeys.length;
    }

    private async deleteUnlisted(run: SyncRun, lister: RecordLister): Promise<void> {
        const { stats } = run;
        stats.deleteMethod = 'listRecords';
        const { candidates, live } = await this.unlistedStoredCalls(lister);
        if (candidates.length === 0) {
            return;
        }
        const agedOut = await this.agedOutAmong(run, new Set(candidates));
        const unconfirmed = candidates.filter((id) => !agedOut.has(id));
        const allowance = Math.max(MIN_DELETE_ALLOWANCE, Math.ceil(live * MAX_DELETE_SHARE));
        if (unconfirmed.length > allowance) {
            stats.deleteMethod = 'withheld';
            stats.withheld = candidates.length;
            await this.warn(
                `Withholding every delete this run: ${unconfirmed.length} of ${live} stored call(s) went unlisted, more than the ` +
                    `${allowance} a reconciliation may delete (${MAX_DELETE_SHARE * 100}%, at least ${MIN_DELETE_ALLOWANCE}). ` +
                    `Clari's listing may be incomplete; the next reconciliation looks again.`
            );
            return;
        }
        const confirmed = await this.confirmGone(run, unconfirmed);
        await this.deleteIds([...agedOut], 'their call time left the backfill window');
        await this.deleteIds(confirmed, 'Clari no longer has them');
        stats.deleted += agedOut.size + confirmed.length;
    }

    /** Live stored calls this run did not list, and how many live stored calls there are. */
    private async unlistedStoredCalls(lister: RecordLister): Promise<{ candidates: string[]; live: number }> {
        // Collected first: deleting while walking would move each record to the end of the walk's order.
        const candidates: string[] = [];
        let live = 0;
        let unreadable = 0;
        for await (const value of lister.listRecords(CALL_MODEL)) {
            const parsed = storedIdentitySchema.safeParse(value);
            if (!parsed.success) {
                unreadable++;
                continue;
            }
            if (parsed.data._nango_metadata?.deleted_at) {
                continue;
            }
            live++;
            const id = String(parsed.data.id);
            if (!this.listedIds.has(id)) {
                candidates.push(id);
            }
        }
        if (unreadable > 0) {
            await this.warn(`Left ${unreadable} stored record(s) without a usable id alone while looking for deleted calls.`);
        }
        return { candidates, live };
    }

    /** The candidates Clari lists just before the backfill window: they aged out of it. */
    private async agedOutAmong(run: SyncRun, candidates: ReadonlySet<string>): Promise<Set<string>> {
        const found = new Set<string>();
        const log = async (message: string, level: 'info' | 'warn'): Promise<void> => {
            await this.nango.log(message, { level });
        };
        for await (const page of listCallsInWindow(run.client, run.plan.agedOut, run.stats, log, false)) {
            page.calls.forEach((call) => candidates.has(call.id) && found.add(call.id));
        }
        return found;
    }

    /**
     * Asks Clari for each unlisted call. Returns those that are gone: a 404, or a call time now before the
     * backfill window. A call that is still there is kept, and saved when it changed; one that cannot be
     * loaded is kept too.
     */
    private async confirmGone(run: SyncRun, ids: readonly string[]): Promise<string[]> {
        const { stats, plan, options } = run;
        const gone: string[] = [];
        const outcomes = await fetchCallDetails(run.client, [...ids], {
            includeMedia: options.includeMedia,
            concurrency: detailsConcurrency(options)
        });
        const alive = outcomes.flatMap((outcome) => (outcome.kind === 'fetched' ? [outcome] : []));
        const stored = await readStoredCalls(
            this.nango,
            alive.map((outcome) => outcome.id)
        );
        const changed: { id: string }[] = [];
        stats.detailsAttempted += outcomes.length;
        for (const outcome of outcomes) {
            if (outcome.kind === 'gone') {
                gone.push(outcome.id);
            } else if (outcome.kind === 'invalid') {
                await reportInvalid(this.nango, [outcome], 'details', stats);
            } else if (outcome.kind === 'failed') {
                stats.failed++;
                run.memory.noteFailed(outcome.id);
                await this.nango.log(
                    `Kept call ${outcome.id}: it went unlisted, but Clari could not confirm it is gone: ${outcome.reason}`,
                    {
                        level: 'error'
                    }
                );
            } else if (outcome.kind === 'paused') {
                // Not asked: kept, and the next reconciliation asks again.
                continue;
            } else if (Date.parse(outcome.call.time) <= plan.backfill.timeAfter.getTime()) {
                gone.push(outcome.id);
            } else {
                stats.detailsFetched++;
                stats.confirmedAlive++;
                run.memory.noteDetails(outcome.call.last_modified_time, outcome.requestedAtMs);
                const verdict = compareWithStored(
                    stored.get(outcome.id),
                    outcome.call.last_modified_time ?? null,
                    run.memory.prunedAllowanceMs
                );
                if (verdict === 'changed') {
                    changed.push(toCallRecord(outcome.call));
                }
            }
        }
        if (changed.length > 0) {
            await this.nango.batchSave(changed, CALL_MODEL);
            stats.saved += changed.length;
        }
        if (stats.confirmedAlive > 0) {
            await this.nango.log(`Kept ${stats.confirmedAlive} unlisted call(s) that Clari still serves (rescheduled, or listed late).`);
        }
        return gone;
    }

    private async deleteIds(ids: readonly string[], why: string): Promise<void> {
        for (let start = 0; start < ids.length; start += DELETE_BATCH) {
            const batch = ids.slice(start, start + DELETE_BATCH);
            await this.nango.batchDelete(
                batch.map((id) => ({ id })),
                CALL_MODEL
            );
            await this.nango.log(`Deleted ${batch.length} call(s), ${why}: ${batch.join(', ')}`);
        }
    }

    private async warn(message: string): Promise<void> {
        await this.nango.log(message, { level: 'warn' });
    }
}
