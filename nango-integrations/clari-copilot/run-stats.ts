/** Counters for one run, reported in a single summary line at the end. */
export class RunStats {
    listed = 0;
    detailsFetched = 0;
    unchangedSkipped = 0;
    saved = 0;
    invalid = 0;
    deleted = 0;
    failed = 0;
    requests = 0;
    retries = 0;
    throttled = 0;

    summary(kind: string, elapsedMs: number): string {
        return (
            `Clari Copilot calls sync (${kind}) finished in ${(elapsedMs / 1000).toFixed(1)}s: ` +
            `listed=${this.listed} detailsFetched=${this.detailsFetched} unchangedSkipped=${this.unchangedSkipped} ` +
            `saved=${this.saved} invalid=${this.invalid} deleted=${this.deleted} failed=${this.failed} ` +
            `requests=${this.requests} retries=${this.retries} 429s=${this.throttled}`
        );
    }
}
