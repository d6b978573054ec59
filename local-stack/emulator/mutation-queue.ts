import { BadRequestError } from './query.js';
import type { CallStore, MutationRequest, MutationResult } from './state.js';

/**
 * Mutations that fall due in the middle of a sync's listing: each waits for a number of /calls requests, then
 * applies just before the last of them is answered. Counting requests rather than time keeps a test
 * deterministic whatever the machine's speed.
 */

export type ScheduledMutationStatus = 'pending' | 'applied' | 'failed';

export interface ScheduledMutation {
    /** "m1", "m2", … in the order they were queued. */
    id: string;
    request: MutationRequest;
    afterListRequests: number;
    /** /calls requests still to come before it applies; 0 once applied or failed. */
    remaining: number;
    status: ScheduledMutationStatus;
    queuedAt: string;
    appliedAt?: string;
    /** The ids each op touched, once applied. */
    result?: MutationResult;
    /** Why it could not apply, e.g. a call it names was deleted in the meantime. */
    error?: string;
}

export class MutationQueue {
    private entries: ScheduledMutation[] = [];
    private nextId = 1;

    constructor(private readonly store: CallStore) {}

    /** Refuses a request that could not apply now, so a typo fails the test at once rather than mid-listing. */
    schedule(request: MutationRequest, afterListRequests: number): ScheduledMutation {
        this.store.check(request);
        const entry: ScheduledMutation = {
            id: `m${this.nextId++}`,
            request,
            afterListRequests,
            remaining: afterListRequests,
            status: 'pending',
            queuedAt: new Date().toISOString()
        };
        this.entries.push(entry);
        return structuredClone(entry);
    }

    /** Called once for every /calls request about to be answered; applies what falls due, in queue order. */
    beforeListRequest(): void {
        for (const entry of this.entries) {
            if (entry.status !== 'pending') {
                continue;
            }
            entry.remaining -= 1;
            if (entry.remaining > 0) {
                continue;
            }
            entry.appliedAt = new Date().toISOString();
            try {
                entry.result = this.store.mutate(entry.request);
                entry.status = 'applied';
            } catch (error) {
                if (!(error instanceof BadRequestError)) {
                    throw error;
                }
                entry.status = 'failed';
                entry.error = error.message;
            }
        }
    }

    list(): ScheduledMutation[] {
        return structuredClone(this.entries);
    }

    find(id: string): ScheduledMutation | undefined {
        const entry = this.entries.find((candidate) => candidate.id === id);
        return entry && structuredClone(entry);
    }

    clear(): void {
        this.entries = [];
        this.nextId = 1;
    }
}
