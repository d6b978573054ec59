import type { PGlite, Transaction } from '@electric-sql/pglite';
import { z } from 'zod';

import {
    asJsonObject,
    canonicalJson,
    checkLimit,
    decodeCursor,
    DEFAULT_LIMIT,
    encodeCursor,
    InvalidCursorError,
    type JsonObject
} from './record-codec.js';
import { BINARY_JSONB_PARAMS, binaryJsonb, JSONB_OID } from './pg-input.js';
import { createRecordPruning, type RecordPruning } from './record-prune.js';
import { createNewestFirstListing, type NewestFirstListing } from './records-newest-first.js';
import { addRunChanges, runChanges, type ModelChanges } from './run-changes.js';

export { InvalidCursorError } from './record-codec.js';
export type { PruneQuery, PruneResult } from './record-prune.js';
export type { NewestFirstPage, NewestFirstQuery } from './records-newest-first.js';

/**
 * The records of every connection and model, as Nango's records service keeps them: upsert with hash
 * change detection, soft delete, the (updated_at, id) cursor, and (record-prune.ts) the payload lifecycle.
 */

export type RecordAction = 'ADDED' | 'UPDATED' | 'DELETED';
export type RecordFilter = 'added' | 'updated' | 'deleted';

export interface NangoRecordMetadata {
    first_seen_at: string;
    last_modified_at: string;
    last_action: RecordAction;
    deleted_at: string | null;
    /** Set once the payload was pruned; the record is then served as `{ id, _nango_metadata }` alone. */
    pruned_at: string | null;
    cursor: string;
}

/**
 * A record as Nango's records API returns it: the stored data, `id` = external id, plus `_nango_metadata`.
 * A pruned record has no other field.
 */
export interface NangoRecord {
    [key: string]: unknown;
    id: string;
    _nango_metadata: NangoRecordMetadata;
}

export interface ListRecordsQuery {
    connectionId: string;
    model: string;
    cursor?: string | undefined;
    /** Records with updated_at >= this instant. */
    modifiedAfter?: string | Date | undefined;
    /** 1..10000, default 100. */
    limit?: number | undefined;
    /** Any of added/updated/deleted; records whose last action is one of them. */
    filter?: readonly RecordFilter[] | undefined;
    ids?: readonly string[] | undefined;
}

export interface ListRecordsResult {
    records: NangoRecord[];
    next_cursor: string | null;
}

/**
 * Disjoint outcome of one saveRecords call. Nango's own upsert summary counts `undeleted` as added;
 * its records API then reports those rows as UPDATED (first_seen_at is kept), and so does this store.
 */
export interface SaveSummary {
    added: string[];
    updated: string[];
    unchanged: string[];
    undeleted: string[];
}

export interface RecordsStore extends RecordPruning, NewestFirstListing {
    saveRecords(connectionId: string, model: string, records: readonly object[], executionId: string): Promise<SaveSummary>;
    deleteRecords(
        connectionId: string,
        model: string,
        ids: readonly (string | number)[],
        executionId: string
    ): Promise<{ deletedKeys: string[] }>;
    deleteRecordsFromPreviousExecutions(connectionId: string, model: string, executionId: string): Promise<{ deletedKeys: string[] }>;
    listRecords(query: ListRecordsQuery): Promise<ListRecordsResult>;
    /** Live (not deleted) records of a model, as Nango's sync status reports them. */
    countLiveRecords(connectionId: string, model: string): Promise<number>;
    /** What the execution's saves and deletes changed, per model (undeleted records count as added, as on Nango). */
    runChanges(executionId: string): Promise<Map<string, ModelChanges>>;
}

export { DEFAULT_LIMIT, MAX_LIMIT } from './record-codec.js';

const recordIdSchema = z.union([z.string().min(1), z.number()]);
const recordInputSchema = z.looseObject({ id: recordIdSchema });

type Queryable = Pick<Transaction, 'query'>;

interface RecordRow {
    row_id: string;
    external_id: string;
    /** The payload's JSON as Postgres prints it (not parsed); null once pruned. */
    data_text: string | null;
    first_seen_at: string;
    last_modified_at: string;
    deleted_at: string | null;
    pruned_at: string | null;
    last_action: RecordAction;
}

/**
 * The timestamp a write stamps on the rows it touches. It is strictly after every updated_at already
 * stored for the model, so a reader holding a cursor can never miss a later write that lands in the
 * same clock tick (the WASM clock only has millisecond resolution).
 */
async function writeTimestamp(tx: Queryable, connectionId: string, model: string): Promise<string> {
    const res = await tx.query<{ ts: string }>(
        `SELECT to_json(GREATEST(now(), COALESCE(max(updated_at) + interval '1 millisecond', now())))::text AS ts
         FROM records WHERE connection_id = $1 AND model = $2`,
        [connectionId, model]
    );
    const ts = res.rows[0]?.ts;
    if (ts === undefined) {
        throw new Error('could not compute write timestamp');
    }
    return JSON.parse(ts) as string;
}

function dedupeLastWins(records: readonly object[]): Map<string, JsonObject> {
    const byId = new Map<string, JsonObject>();
    records.forEach((record, index) => {
        const parsed = recordInputSchema.safeParse(record);
        if (!parsed.success) {
            throw new TypeError(`record at index ${index} has no usable id (string or number)`);
        }
        const id = String(parsed.data.id);
        // Re-inserting moves the id to its last position, matching the order the caller sent.
        byId.delete(id);
        byId.set(id, asJsonObject(record));
    });
    return byId;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) {
        out.push(items.slice(i, i + size));
    }
    return out;
}

/**
 * `executionId` null leaves last_execution_id alone (a record dropped for not being seen was not touched by this
 * run); the deletes still count for `countedFor`, the run that made them.
 */
async function softDelete(
    tx: Queryable,
    scope: { connectionId: string; model: string; executionId: string | null; countedFor: string },
    where: string,
    params: unknown[]
): Promise<string[]> {
    const ts = await writeTimestamp(tx, scope.connectionId, scope.model);
    const res = await tx.query<{ external_id: string }>(
        `UPDATE records SET deleted_at = $3::timestamptz, updated_at = $3::timestamptz, last_action = 'DELETED',
                last_execution_id = COALESCE($4, last_execution_id)
         WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL AND ${where}
         RETURNING external_id`,
        [scope.connectionId, scope.model, ts, scope.executionId, ...params]
    );
    await addRunChanges(tx, scope.countedFor, scope.model, { added: 0, updated: 0, deleted: res.rows.length });
    return res.rows.map((r) => r.external_id);
}

function metadataOf(row: RecordRow): NangoRecordMetadata {
    return {
        first_seen_at: row.first_seen_at,
        last_modified_at: row.last_modified_at,
        last_action: row.last_action,
        deleted_at: row.deleted_at,
        pruned_at: row.pruned_at,
        cursor: encodeCursor({ sort: row.last_modified_at, id: row.row_id })
    };
}

const METADATA_KEY = '"_nango_metadata"';

/**
 * A record as the records API serves it, as JSON text: the payload with `id` set to the external id and
 * `_nango_metadata` last. A page of 100 calls is megabytes, and parsing each payload only to serialize it again
 * was most of the store's work for a `GET /records`, garbage included. So when the stored payload already starts
 * with that `id` (Postgres prints the shortest keys first) and has no `_nango_metadata` of its own, its text is
 * used as Postgres printed it; any other payload is parsed and rebuilt, as every one once was.
 */
function recordJson(row: RecordRow): string {
    const metadataObject = metadataOf(row);
    const metadata = JSON.stringify(metadataObject);
    const id = JSON.stringify(row.external_id);
    const text = row.data_text;
    if (text === null) {
        return `{"id":${id},"_nango_metadata":${metadata}}`;
    }
    const idFirst = `{"id": ${id}`;
    const next = text.charAt(idFirst.length);
    if (text.startsWith(idFirst) && (next === ',' || next === '}') && !text.includes(METADATA_KEY)) {
        return `${text.slice(0, -1)}, ${METADATA_KEY}: ${metadata}}`;
    }
    return JSON.stringify({ ...(JSON.parse(text) as JsonObject), id: row.external_id, _nango_metadata: metadataObject });
}

/**
 * The UTF-8 bytes of `pieces` joined, in one buffer of their exact size. Node 20 encodes a long string to UTF-8 at a
 * few hundred MB/s but copies an ASCII one (as Latin-1, the same bytes) many times faster, so each piece takes the
 * fast path when it is all ASCII: its UTF-8 length equals its length only then.
 */
function utf8Bytes(pieces: readonly string[]): Buffer {
    const lengths = pieces.map((piece) => Buffer.byteLength(piece));
    const bytes = Buffer.allocUnsafeSlow(lengths.reduce((sum, length) => sum + length, 0));
    let offset = 0;
    pieces.forEach((piece, index) => {
        offset += bytes.write(piece, offset, lengths[index] === piece.length ? 'latin1' : 'utf8');
    });
    return bytes;
}

/** A page of listRecords' answer as the records API's JSON body, serialized and encoded. */
export interface RecordsJson {
    listRecordsJson(query: ListRecordsQuery): Promise<Uint8Array>;
}

/** `chunkSize`: rows per INSERT statement inside a batch transaction. */
export function createRecordsStore(db: PGlite, options: { chunkSize: number }): RecordsStore & RecordsJson {
    async function readPage(query: ListRecordsQuery): Promise<{ rows: RecordRow[]; nextCursor: string | null }> {
        const limit = query.limit ?? DEFAULT_LIMIT;
        checkLimit(limit);
        const params: unknown[] = [query.connectionId, query.model];
        const where = ['connection_id = $1', 'model = $2'];
        const param = (value: unknown): string => {
            params.push(value);
            return `$${params.length}`;
        };
        if (query.cursor !== undefined) {
            const cursor = decodeCursor(query.cursor);
            if (!cursor) {
                throw new InvalidCursorError();
            }
            where.push(`(updated_at, id) > (${param(cursor.sort)}::timestamptz, ${param(cursor.id)}::bigint)`);
        }
        if (query.modifiedAfter !== undefined) {
            const after = query.modifiedAfter instanceof Date ? query.modifiedAfter.toISOString() : query.modifiedAfter;
            where.push(`updated_at >= ${param(after)}::timestamptz`);
        }
        if (query.filter !== undefined && query.filter.length > 0) {
            where.push(`last_action = ANY(${param(query.filter.map((f) => f.toUpperCase()))}::text[])`);
        }
        if (query.ids !== undefined) {
            where.push(`external_id = ANY(${param([...query.ids])}::text[])`);
        }
        // One extra row tells whether another page exists without a second query.
        const res = await db.query<RecordRow>(
            `SELECT id::text AS row_id, external_id,
                    CASE WHEN pruned_at IS NULL THEN data END AS data_text, last_action,
                    to_json(first_seen_at) AS first_seen_at, to_json(updated_at) AS last_modified_at, to_json(deleted_at) AS deleted_at,
                    to_json(pruned_at) AS pruned_at
             FROM records WHERE ${where.join(' AND ')}
             ORDER BY updated_at ASC, id ASC
             LIMIT ${param(limit + 1)}`,
            params,
            { parsers: { [JSONB_OID]: (text: string) => text } }
        );
        const rows = res.rows.slice(0, limit);
        const last = rows[rows.length - 1];
        return { rows, nextCursor: res.rows.length > limit && last ? metadataOf(last).cursor : null };
    }

    const records: RecordsStore & RecordsJson = {
        ...createRecordPruning(db),
        ...createNewestFirstListing(db, (query) => records.listRecords(query)),

        async saveRecords(connectionId, model, input, executionId) {
            const summary: SaveSummary = { added: [], updated: [], unchanged: [], undeleted: [] };
            const byId = dedupeLastWins(input);
            if (byId.size === 0) {
                return summary;
            }
            // `ord` keeps the caller's order for the serial ids, which break ties between rows written together.
            // Each row is serialized once, before the first await: a caller that changes a record meanwhile cannot
            // change what is stored under its hash, and no deep copy of the page is made to serialize it again.
            const rows = [...byId].map(([externalId, data], ord) => {
                const { json, hash } = canonicalJson(data);
                return `{"ord":${ord},"external_id":${JSON.stringify(externalId)},"data_hash":"${hash}","data":${json}}`;
            });
            await db.transaction(async (tx) => {
                const ts = await writeTimestamp(tx, connectionId, model);
                for (const part of chunk(rows, options.chunkSize)) {
                    const res = await tx.query<{ external_id: string; outcome: keyof SaveSummary }>(
                        `WITH incoming AS (
                            SELECT * FROM jsonb_to_recordset($3::jsonb) AS t(ord int, external_id text, data jsonb, data_hash text)
                        ),
                        previous AS (
                            SELECT r.external_id, r.data_hash, r.deleted_at FROM records r
                            JOIN incoming i ON i.external_id = r.external_id
                            WHERE r.connection_id = $1 AND r.model = $2
                        ),
                        upserted AS (
                            INSERT INTO records AS r (connection_id, model, external_id, data, data_hash, first_seen_at, updated_at, deleted_at, last_action, last_execution_id)
                            SELECT $1, $2, external_id, data, data_hash, $4::timestamptz, $4::timestamptz, NULL, 'ADDED', $5 FROM incoming ORDER BY ord
                            ON CONFLICT (connection_id, model, external_id) DO UPDATE SET
                                data = EXCLUDED.data,
                                data_hash = EXCLUDED.data_hash,
                                updated_at = CASE WHEN r.deleted_at IS NOT NULL OR r.data_hash <> EXCLUDED.data_hash THEN EXCLUDED.updated_at ELSE r.updated_at END,
                                last_action = CASE WHEN r.deleted_at IS NOT NULL OR r.data_hash <> EXCLUDED.data_hash THEN 'UPDATED' ELSE r.last_action END,
                                deleted_at = NULL,
                                pruned_at = NULL,
                                last_execution_id = EXCLUDED.last_execution_id
                            RETURNING r.external_id
                        )
                        SELECT u.external_id,
                            CASE WHEN p.external_id IS NULL THEN 'added'
                                 WHEN p.deleted_at IS NOT NULL THEN 'undeleted'
                                 WHEN p.data_hash <> i.data_hash THEN 'updated'
                                 ELSE 'unchanged' END AS outcome
                        FROM upserted u
                        JOIN incoming i ON i.external_id = u.external_id
                        LEFT JOIN previous p ON p.external_id = u.external_id`,
                        [connectionId, model, binaryJsonb(`[${part.join(',')}]`), ts, executionId],
                        BINARY_JSONB_PARAMS
                    );
                    for (const row of res.rows) {
                        summary[row.outcome].push(row.external_id);
                    }
                }
                await addRunChanges(tx, executionId, model, {
                    added: summary.added.length + summary.undeleted.length,
                    updated: summary.updated.length,
                    deleted: 0
                });
            });
            return summary;
        },

        async deleteRecords(connectionId, model, ids, executionId) {
            if (ids.length === 0) {
                return { deletedKeys: [] };
            }
            const deletedKeys = await db.transaction((tx) =>
                softDelete(tx, { connectionId, model, executionId, countedFor: executionId }, 'external_id = ANY($5::text[])', [
                    ids.map(String)
                ])
            );
            return { deletedKeys };
        },

        async deleteRecordsFromPreviousExecutions(connectionId, model, executionId) {
            const deletedKeys = await db.transaction((tx) =>
                softDelete(tx, { connectionId, model, executionId: null, countedFor: executionId }, 'last_execution_id <> $5', [
                    executionId
                ])
            );
            return { deletedKeys };
        },

        async listRecords(query) {
            const { rows, nextCursor } = await readPage(query);
            return { records: rows.map((row) => JSON.parse(recordJson(row)) as NangoRecord), next_cursor: nextCursor };
        },

        async listRecordsJson(query) {
            const { rows, nextCursor } = await readPage(query);
            const pieces = rows.map((row, index) => (index === 0 ? recordJson(row) : `,${recordJson(row)}`));
            return utf8Bytes(['{"records":[', ...pieces, `],"next_cursor":${JSON.stringify(nextCursor)}}`]);
        },

        async countLiveRecords(connectionId, model) {
            const res = await db.query<{ count: number }>(
                `SELECT count(*)::int AS count FROM records WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL`,
                [connectionId, model]
            );
            return res.rows[0]?.count ?? 0;
        },

        runChanges: (executionId) => runChanges(db, executionId)
    };
    return records;
}
