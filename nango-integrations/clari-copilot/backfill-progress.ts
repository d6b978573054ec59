/**
 * Where a backfill may record that it got to. Two pages are in progress at once and may finish in either
 * order, so the cursor moves only over pages done in the order they were listed: whatever the checkpoint
 * says is stored, is.
 */
export class BackfillProgressTracker {
    private listed = 0;
    private settledUpTo = 0;
    private readonly finished = new Map<number, Date | null>();

    /** A page was listed; its number, in listing order. */
    listedPage(): number {
        return this.listed++;
    }

    /**
     * Page `number` is done: `downTo` when every call it listed is stored, null when some were not (the run
     * paused). Returns the new cursor when the run of done pages from the first one grew, null otherwise.
     */
    finishedPage(number: number, downTo: Date | null): Date | null {
        this.finished.set(number, downTo);
        let cursor: Date | null = null;
        for (;;) {
            const next = this.finished.get(this.settledUpTo);
            if (next === undefined || next === null) {
                return cursor;
            }
            cursor = next;
            this.finished.delete(this.settledUpTo);
            this.settledUpTo++;
        }
    }
}
