import { z } from 'zod';

import { zodErrorToHttp, type ValidationError } from './http-errors.js';
import type { ListRecordsQuery, RecordsJson, RecordsStore, SaveSummary } from './records.js';

/**
 * The two record routes that carry megabytes, with their bodies as UTF-8 bytes in and out: a page of 100 calls
 * with transcripts is several MB, and decoding, parsing, checking, serializing and encoding it is tens of
 * milliseconds of synchronous work. Done where the store runs (its own thread, behind `openStoreInThread`), it
 * never stalls the thread that serves the API and proxies Clari, which only copies the bytes across.
 */
export interface WireStore {
    /** POST /persist/records/save: the body as the runner sent it. */
    saveRecordsBody(body: Uint8Array): Promise<SaveBodyOutcome>;
    /** GET /records: the answer, serialized and encoded. */
    listRecordsJson(query: ListRecordsQuery): Promise<Uint8Array>;
}

export type SaveBodyOutcome =
    { ok: true; summary: SaveSummary } | { ok: false; message?: string | undefined; errors?: ValidationError[] | undefined };

const name = z.string().min(1).max(255);
export const recordsScope = { connectionId: name, model: name, executionId: name };
const saveBody = z.strictObject({ ...recordsScope, records: z.array(z.looseObject({})).max(10_000) });

/** Not fatal: a malformed sequence becomes U+FFFD, as when the body was decoded as a string before. */
const utf8 = new TextDecoder();

export function createWireStore(records: RecordsStore & RecordsJson): WireStore {
    return {
        async saveRecordsBody(body) {
            let parsed: unknown;
            try {
                parsed = JSON.parse(utf8.decode(body));
            } catch (err) {
                return { ok: false, message: `the body is not JSON: ${err instanceof Error ? err.message : String(err)}` };
            }
            const checked = saveBody.safeParse(parsed);
            if (!checked.success) {
                return { ok: false, errors: zodErrorToHttp(checked.error) };
            }
            const { connectionId, model, executionId } = checked.data;
            try {
                return { ok: true, summary: await records.saveRecords(connectionId, model, checked.data.records, executionId) };
            } catch (err) {
                // saveRecords' own check of each record (an id, JSON values only).
                if (err instanceof TypeError) {
                    return { ok: false, message: err.message };
                }
                throw err;
            }
        },
        listRecordsJson: (query) => records.listRecordsJson(query)
    };
}
