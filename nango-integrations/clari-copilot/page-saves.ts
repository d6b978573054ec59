import type { NangoSync } from '../models.js';
import { CALL_MODEL } from './constants.js';

/**
 * Records per `batchSave` while a page's details come in. Saving a page in parts as its details arrive
 * leaves only the last part to save once the last detail is in. Saved whole, a page of 100 calls (about
 * 3 MB) took the store 0.3–0.7 s: the run's end waited for all of it, and so did the next page's read
 * of its stored copies, which queued behind it while Clari's rate idled.
 */
export const SAVE_PART_SIZE = 25;

/**
 * One page's saves: parts of `SAVE_PART_SIZE` records in the order they were added, one `batchSave` at a
 * time. A failed save stops the parts after it; `finish` throws its error.
 */
export class PageSaves {
    private waiting: { id: string }[] = [];
    private readonly added = new Set<string>();
    private inFlight: Promise<void> = Promise.resolve();
    private failure: { error: unknown } | null = null;
    private saved = 0;

    constructor(private readonly nango: NangoSync) {}

    add(record: { id: string }): void {
        this.added.add(record.id);
        this.waiting.push(record);
        if (this.waiting.length >= SAVE_PART_SIZE) {
            this.sendWaiting();
        }
    }

    has(id: string): boolean {
        return this.added.has(id);
    }

    /** Saves what is still waiting, waits for every part, and returns how many records were saved. */
    async finish(): Promise<number> {
        this.sendWaiting();
        await this.inFlight;
        if (this.failure) {
            throw this.failure.error;
        }
        return this.saved;
    }

    /** For a page that failed before it was done: sends nothing more and waits for the save in flight. */
    async abandon(): Promise<void> {
        this.waiting = [];
        await this.inFlight;
    }

    private sendWaiting(): void {
        const part = this.waiting;
        this.waiting = [];
        if (part.length === 0) {
            return;
        }
        this.inFlight = this.inFlight.then(async () => {
            if (this.failure) {
                return;
            }
            try {
                await this.nango.batchSave(part, CALL_MODEL);
                this.saved += part.length;
            } catch (error) {
                this.failure = { error };
            }
        });
    }
}
