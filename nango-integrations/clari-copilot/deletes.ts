import { z } from 'zod';
import type { NangoSync } from '../models.js';
import { CALL_MODEL } from './constants.js';
import { canListRecords, type RecordLister } from './record-lister.js';
import type { RunStats } from './run-stats.js';

/** Ids per batchDelete, the size of a records API page. */
const DELETE_BATCH = 100;

const storedIdentitySchema = z
    .object({
        id: z.union([z.string().min(1), z.number()]),
        _nango_metadata: z.object({ deleted_at: z.string().nullish() }).nullish()
    })
    .loose();

export const DELETE_METHODS = ['listRecords', 'previousExecutions', 'skipped', 'none'] as const;
export type DeleteMethod = (typeof DELETE_METHODS)[number];

/**
 * The delete half of a reconciliation: Clari has no deletion signal, so a call that is gone is one the
 * complete listing of the window no longer returns.
 *
 * Where the runtime can list stored records (Nango's runner today), the pass compares ids: it deletes
 * exactly the live stored calls that were not listed, and nothing is re-saved. Nango prunes the payload
 * of records untouched for 30 days, so a pass that must re-save every record (the fallback, for
 * `nango dryrun` and older runners) cannot work once pruned records are in the way.
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

    async run(stats: RunStats): Promise<void> {
        if (stats.failed > 0) {
            // Deleting after an incomplete pass would remove calls that merely failed to load.
            stats.deleteMethod = 'skipped';
            await this.nango.log(`Deleting nothing this run: ${stats.failed} call(s) failed to load, so the listing is incomplete.`, {
                level: 'warn'
            });
            return;
        }
        if (this.lister !== null) {
            stats.deleteMethod = 'listRecords';
            stats.deleted += await this.deleteUnlisted(this.lister);
            return;
        }
        if (stats.prunedInTheWay > 0) {
            stats.deleteMethod = 'skipped';
            await this.nango.log(
                `Deleting nothing this run: ${stats.prunedInTheWay} listed call(s) have pruned payloads that cannot be re-saved, and ` +
                    `deleteRecordsFromPreviousExecutions would delete them. This runtime has no listRecords to compare ids instead.`,
                { level: 'warn' }
            );
            return;
        }
        stats.deleteMethod = 'previousExecutions';
        const { deletedKeys } = await this.nango.deleteRecordsFromPreviousExecutions(CALL_MODEL);
        stats.deleted += deletedKeys.length;
    }

    private async deleteUnlisted(lister: RecordLister): Promise<number> {
        // Collected first: deleting while walking would move each record to the end of the walk's order.
        const vanished: string[] = [];
        let unreadable = 0;
        for await (const value of lister.listRecords(CALL_MODEL)) {
            const parsed = storedIdentitySchema.safeParse(value);
            if (!parsed.success) {
                unreadable++;
                continue;
            }
            const id = String(parsed.data.id);
            if (!parsed.data._nango_metadata?.deleted_at && !this.listedIds.has(id)) {
                vanished.push(id);
            }
        }
        if (unreadable > 0) {
            await this.nango.log(`Left ${unreadable} stored record(s) without a usable id alone while looking for deleted calls.`, {
                level: 'warn'
            });
        }
        for (let start = 0; start < vanished.length; start += DELETE_BATCH) {
            const batch = vanished.slice(start, start + DELETE_BATCH);
            await this.nango.batchDelete(
                batch.map((id) => ({ id })),
                CALL_MODEL
            );
            await this.nango.log(`Deleted ${batch.length} call(s) Clari no longer lists in the window: ${batch.join(', ')}`);
        }
        return vanished.length;
    }
}
