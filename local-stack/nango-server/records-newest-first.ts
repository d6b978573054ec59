import type { PGlite } from '@electric-sql/pglite';
import { z } from 'zod';

import { isBigintId } from './pg-input.js';
import { checkLimit, DEFAULT_LIMIT, InvalidCursorError } from './record-codec.js';
import type { ListRecordsQuery, ListRecordsResult } from './records.js';

/**
 * The dashboard's calls list: one model's records newest first by the record's own time, with a title search and
 * the count of what matches. Paged by (time, row id) rather than the records API's (updated_at, id), so a call
 * saved again while someone pages keeps its place.
 */

/**
 * One model's records newest first by their own `time` field (the Call model's call time), optionally only those
 * whose title contains a text: what the dashboard lists. Records without a time (a pruned payload) come last.
 */
export interface NewestFirstQuery {
    connectionId: string;
    model: string;
    /** Matched case-insensitively anywhere in the record's `title`; `%` and `_` are plain characters. */
    titleContains?: string | undefined;
    /** From a page of this same listing; the records API's cursors are refused. */
    cursor?: string | undefined;
    /** 1..10000, default 100. */
    limit?: number | undefined;
}

export interface NewestFirstPage extends ListRecordsResult {
    /** Every record the query matches, on all pages. */
    total: number;
}

export interface NewestFirstListing {
    /** Shaped as listRecords shapes them; paged by (time, row id), so re-saving a record does not move it. */
    listNewestFirst(query: NewestFirstQuery): Promise<NewestFirstPage>;
}

/** listNewestFirst's sort key, exactly as the records_by_time index (schema.ts) has it. */
const TIME_KEY = `(COALESCE(data->>'time', '') COLLATE "C")`;

/** Where a newest-first page ended: the last record's time ('' for none) and row id. */
interface TimeCursor {
    time: string;
    id: string;
}

// Its own prefix, so that a records API cursor given to listNewestFirst is refused rather than misread.
const TIME_CURSOR_PREFIX = 'time:';

function encodeTimeCursor(cursor: TimeCursor): string {
    return Buffer.from(`${TIME_CURSOR_PREFIX}${JSON.stringify([cursor.time, cursor.id])}`).toString('base64url');
}

function decodeTimeCursor(encoded: string): TimeCursor | undefined {
    const text = Buffer.from(encoded, 'base64url').toString('utf8');
    if (!text.startsWith(TIME_CURSOR_PREFIX)) {
        return undefined;
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text.slice(TIME_CURSOR_PREFIX.length));
    } catch {
        return undefined;
    }
    const shape = z
        .tuple([
            z
                .string()
                .max(100)
                .refine((time) => !time.includes('\0')),
            z.string().refine(isBigintId)
        ])
        .safeParse(parsed);
    return shape.success ? { time: shape.data[0], id: shape.data[1] } : undefined;
}

/** `listRecords` shapes the records found, so a record found here looks exactly like a listed one. */
export function createNewestFirstListing(
    db: PGlite,
    listRecords: (query: ListRecordsQuery) => Promise<ListRecordsResult>
): NewestFirstListing {
    return {
        async listNewestFirst(query) {
            const limit = query.limit ?? DEFAULT_LIMIT;
            checkLimit(limit);
            const after = query.cursor === undefined ? null : (decodeTimeCursor(query.cursor) ?? 'invalid');
            if (after === 'invalid') {
                throw new InvalidCursorError();
            }
            const pattern = query.titleContains === undefined ? null : `%${query.titleContains.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
            const matching = `connection_id = $1 AND model = $2 AND ($3::text IS NULL OR data->>'title' ILIKE $3 ESCAPE '\\')`;
            // The sort key is spelled as the records_by_time index spells it, so that a page reads the index, not every payload.
            const res = await db.query<{ external_id: string; row_id: string; time: string }>(
                `SELECT external_id, id::text AS row_id, ${TIME_KEY} AS time FROM records
                 WHERE ${matching} AND ($4::text IS NULL OR (${TIME_KEY}, id) < ($4::text COLLATE "C", $5::bigint))
                 ORDER BY ${TIME_KEY} DESC, id DESC
                 LIMIT $6`,
                [query.connectionId, query.model, pattern, after?.time ?? null, after?.id ?? null, limit + 1]
            );
            const count = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM records WHERE ${matching}`, [
                query.connectionId,
                query.model,
                pattern
            ]);
            const total = count.rows[0]?.total ?? 0;
            const rows = res.rows.slice(0, limit);
            const last = rows[rows.length - 1];
            if (!last) {
                return { records: [], next_cursor: null, total };
            }
            // listRecords returns them in its own order.
            const shaped = await listRecords({
                connectionId: query.connectionId,
                model: query.model,
                ids: rows.map((row) => row.external_id),
                limit: rows.length
            });
            const byId = new Map(shaped.records.map((record) => [record.id, record]));
            return {
                records: rows.flatMap((row) => byId.get(row.external_id) ?? []),
                next_cursor: res.rows.length > limit ? encodeTimeCursor({ time: last.time, id: last.row_id }) : null,
                total
            };
        }
    };
}
