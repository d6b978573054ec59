import type { RunKind } from './plan.js';
import { formatSummary, type DeleteMethod, type LaterSummaryCounts, type PauseReason, type SummaryCounts } from './run-report.js';

/** Counters for one run, reported in a single summary line at the end. */
export class RunStats implements SummaryCounts, LaterSummaryCounts {
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
    /** Recent calls whose details were fetched for the daily refresh, though their last_modified_time did not move. */
    refreshed = 0;
    /** Changed calls not asked for because Clari already failed on them today. */
    deferred = 0;
    /** Stored calls a reconciliation no longer listed, which Clari confirmed are still there. */
    confirmedAlive = 0;
    /** Deletions a reconciliation withheld because they were too many to trust. */
    withheld = 0;
    /** `/call-details` requests attempted this run (retries not counted), to tell one bad call from a failing API. */
    detailsAttempted = 0;
    /** Windows that could not be listed whole; no delete may rely on such a run. */
    incompleteListings = 0;
    /** Requests this Clari week has cost the sync, this run included; set at the end of the run. */
    weekSpent = 0;
    paused: PauseReason | null = null;
    deleteMethod: DeleteMethod = 'none';

    summary(run: RunKind, elapsedMs: number): string {
        return formatSummary({ run, elapsedMs, counts: this, deletes: this.deleteMethod, paused: this.paused });
    }
}
