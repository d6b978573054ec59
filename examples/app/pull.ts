import type { Nango } from '@nangohq/node-current';

import { CursorMovedError, type CallCopy, type ListedRecord, type PageOutcome, type StreamKey } from './copy.js';

/**
 * Pulls a model's changes from the cursor the app saved, every page, into its copy. A webhook only says
 * "something changed": what changed is always read from the saved cursor, so a replayed or duplicated webhook
 * finds nothing new, and a webhook lost in transit is made up for by the next one.
 */

export interface PullReport extends PageOutcome {
    pages: number;
}

const PAGE_SIZE = 100;

export class ChangePuller {
    /** One pull at a time per stream; a webhook arriving meanwhile asks for one more pass after it. */
    private readonly streams = new Map<string, { running: Promise<PullReport>; requests: number }>();

    constructor(
        private readonly nango: Pick<Nango, 'listRecords'>,
        private readonly copy: CallCopy
    ) {}

    /** Resolves when the copy has caught up with every change Nango served up to now. */
    pull(key: StreamKey): Promise<PullReport> {
        const id = `${key.providerConfigKey}/${key.connectionId}/${key.model}`;
        const active = this.streams.get(id);
        if (active) {
            active.requests++;
            return active.running;
        }
        const state = { running: Promise.resolve(emptyReport()), requests: 1 };
        state.running = (async () => {
            const total = emptyReport();
            try {
                let served: number;
                do {
                    served = state.requests;
                    add(total, await this.pullOnce(key));
                } while (state.requests !== served);
            } finally {
                this.streams.delete(id);
            }
            return total;
        })();
        this.streams.set(id, state);
        return state.running;
    }

    private async pullOnce(key: StreamKey): Promise<PullReport> {
        const report = emptyReport();
        let cursor = await this.copy.cursor(key);
        for (;;) {
            const page = await this.nango.listRecords({ ...key, limit: PAGE_SIZE, ...(cursor === null ? {} : { cursor }) });
            const records = page.records as ListedRecord[];
            try {
                add(report, { ...(await this.copy.applyPage(key, cursor, records)), pages: 1 });
            } catch (error) {
                if (!(error instanceof CursorMovedError)) {
                    throw error;
                }
                // Another process applied this page first: carry on from where it left the cursor.
                cursor = await this.copy.cursor(key);
                continue;
            }
            const last = records[records.length - 1];
            if (!last || page.next_cursor === null) {
                return report;
            }
            cursor = last._nango_metadata.cursor;
        }
    }
}

function emptyReport(): PullReport {
    return { pages: 0, upserted: 0, deleted: 0, keptOverStubs: 0 };
}

function add(total: PullReport, part: PullReport): void {
    total.pages += part.pages;
    total.upserted += part.upserted;
    total.deleted += part.deleted;
    total.keptOverStubs += part.keptOverStubs;
}
