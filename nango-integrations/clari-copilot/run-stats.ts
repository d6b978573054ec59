import type { DeleteMethod } from './deletes.js';
import type { RunKind } from './plan.js';
import { formatSummary, type SummaryCounts } from './run-report.js';

/** Counters for one run, reported in a single summary line at the end. */
export class RunStats implements SummaryCounts {
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

    summary(run: RunKind, elapsedMs: number): string {
        return formatSummary({ run, elapsedMs, counts: this, deletes: this.deleteMethod });
    }
}
