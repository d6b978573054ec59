import type { DeleteMethod } from './deletes.js';

/** Counters for one run, reported in a single summary line at the end. */
export class RunStats {
    listed = 0;
    detailsFetched = 0;
    unchangedSkipped = 0;
    /** Calls whose stored payload Nango pruned, judged current from the record's metadata. */
    prunedSkipped = 0;
    /** Listed calls with a pruned payload that a re-saving reconciliation could not re-save. */
    prunedInTheWay = 0;
    saved = 0;
    invalid = 0;
    deleted = 0;
    failed = 0;
    requests = 0;
    retries = 0;
    throttled = 0;
    deleteMethod: DeleteMethod = 'none';

    summary(kind: string, elapsedMs: number): string {
        return (
            `Clari Copilot calls sync (${kind}) finished in ${(elapsedMs / 1000).toFixed(1)}s: ` +
            `listed=${this.listed} detailsFetched=${this.detailsFetched} unchangedSkipped=${this.unchangedSkipped} ` +
            `prunedSkipped=${this.prunedSkipped} saved=${this.saved} invalid=${this.invalid} deleted=${this.deleted} ` +
            `failed=${this.failed} requests=${this.requests} retries=${this.retries} 429s=${this.throttled} deletes=${this.deleteMethod}`
        );
    }
}
