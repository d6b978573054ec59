import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { PGlite, Transaction } from '@electric-sql/pglite';
import { z } from 'zod';

import { acquireDirLock } from './lock.js';
import { dataHash, decodeCursor, encodeCursor, toJsonObject, type JsonObject } from './record-codec.js';
import { migrate } from './schema.js';
import { explainOpenFailure, openDatabase, restrictToOwner } from './store-folder.js';

export { StoreInUseError } from './lock.js';

export const DEFAULT_STORE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.nango-local');

export type RecordAction = 'ADDED' | 'UPDATED' | 'DELETED';
export type RecordFilter = 'added' | 'updated' | 'deleted';
export type RunStatus = 'running' | 'success' | 'failed';

export interface NangoRecordMetadata {
    first_seen_at: string;
    last_modified_at: string;
    last_action: RecordAction;
    deleted_at: string | null;
    cursor: string;
}

/** A record as Nango's records API returns it: the stored data, `id` = external id, plus `_nango_metadata`. */
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

export interface ConnectionInput {
    connectionId: string;
    providerConfigKey: string;
    provider: string;
    apiKey: string;
    apiPassword: string;
    /** Omitted: keep the stored metadata (null for a new connection). */
    metadata?: Record<string, unknown> | null;
}

export interface StoredConnection {
    id: number;
    connectionId: string;
    providerConfigKey: string;
    provider: string;
    apiKey: string;
    apiPassword: string;
    metadata: Record<string, unknown> | null;
    createdAt: Date;
    updatedAt: Date;
}

export interface StartedRun {
    runId: number;
    /** Tags the records this run saves; what deleteRecordsFromPreviousExecutions compares against. */
    executionId: string;
    startedAt: Date;
}

export interface RecordStore {
    readonly dir: string;
    saveRecords(connectionId: string, model: string, records: readonly object[], executionId: string): Promise<SaveSummary>;
    deleteRecords(
        connectionId: string,
        model: string,
        ids: readonly (string | number)[],
        executionId: string
    ): Promise<{ deletedKeys: string[] }>;
    getRecordsByIds(connectionId: string, model: string, ids: readonly (string | number)[]): Promise<Map<string, JsonObject>>;
    deleteRecordsFromPreviousExecutions(connectionId: string, model: string, executionId: string): Promise<{ deletedKeys: string[] }>;
    listRecords(query: ListRecordsQuery): Promise<ListRecordsResult>;
    startRun(connectionId: string, syncName: string): Promise<StartedRun>;
    finishRun(runId: number, status: 'success' | 'failed', summary?: string): Promise<void>;
    /** The sync's lastSyncDate: start of the newest successful run, undefined before the first one. */
    lastSuccessfulRunStart(connectionId: string, syncName: string): Promise<Date | undefined>;
    upsertConnection(input: ConnectionInput): Promise<StoredConnection>;
    getConnection(connectionId: string, providerConfigKey: string): Promise<StoredConnection | undefined>;
    getMetadata(connectionId: string, providerConfigKey: string): Promise<Record<string, unknown>>;
    /** Replaces the metadata. */
    setMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    /** Shallow-merges into the metadata, as Nango's PATCH /connections/metadata does. */
    updateMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
}

export interface OpenStoreOptions {
    /** Folder holding the database and its lock; default `.nango-local/` at the repo root. */
    dir?: string;
    /** Rows per INSERT statement inside a batch transaction. */
    chunkSize?: number;
}

export class InvalidCursorError extends Error {
    constructor() {
        super('invalid cursor');
        this.name = 'InvalidCursorError';
    }
}

export class UnknownConnectionError extends Error {
    constructor(connectionId: string, providerConfigKey: string) {
        super(`unknown connection ${connectionId} (${providerConfigKey})`);
        this.name = 'UnknownConnectionError';
    }
}

export const MAX_LIMIT = 10_000;
export const DEFAULT_LIMIT = 100;

const recordIdSchema = z.union([z.string().min(1), z.number()]);
const recordInputSchema = z.looseObject({ id: recordIdSchema });

type Queryable = Pick<Transaction, 'query'>;

interface ConnectionRow {
    id: number;
    connection_id: string;
    provider_config_key: string;
    provider: string;
    api_key: string;
    api_password: string;
    metadata: Record<string, unknown> | null;
    created_at: Date;
    updated_at: Date;
}

interface RecordRow {
    row_id: string;
    external_id: string;
    data: JsonObject;
    first_seen_at: string;
    last_modified_at: string;
    deleted_at: string | null;
    last_action: RecordAction;
}

function toConnection(row: ConnectionRow): StoredConnection {
    return {
        id: row.id,
        connectionId: row.connection_id,
        providerConfigKey: row.provider_config_key,
        provider: row.provider,
        apiKey: row.api_key,
        apiPassword: row.api_password,
        metadata: row.metadata,
        createdAt: row.created_at,
        updatedAt: row.updated_at
    };
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
        byId.set(id, toJsonObject(record));
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

export async function openStore(options: OpenStoreOptions = {}): Promise<RecordStore> {
    const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
    const chunkSize = options.chunkSize ?? 500;
    const lock = acquireDirLock(dir);
    let db: PGlite;
    try {
        db = await openDatabase(dir, 'pgdata');
        await migrate(db);
        // The lock guarantees no other process uses this folder, so a run still "running" was cut short.
        await db.query(
            `UPDATE sync_runs SET status = 'failed', finished_at = now(), summary = 'interrupted: the process exited during the run' WHERE status = 'running'`
        );
        restrictToOwner(dir);
    } catch (err) {
        lock.release();
        throw explainOpenFailure(dir, err);
    }

    /** `executionId` null leaves last_execution_id alone (a record dropped for not being seen was not touched by this run). */
    async function softDelete(
        tx: Queryable,
        scope: { connectionId: string; model: string; executionId: string | null },
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
        return res.rows.map((r) => r.external_id);
    }

    async function requireConnection(connectionId: string, providerConfigKey: string): Promise<StoredConnection> {
        const connection = await store.getConnection(connectionId, providerConfigKey);
        if (!connection) {
            throw new UnknownConnectionError(connectionId, providerConfigKey);
        }
        return connection;
    }

    const store: RecordStore = {
        dir,

        async saveRecords(connectionId, model, records, executionId) {
            const summary: SaveSummary = { added: [], updated: [], unchanged: [], undeleted: [] };
            const byId = dedupeLastWins(records);
            if (byId.size === 0) {
                return summary;
            }
            // `ord` keeps the caller's order for the serial ids, which break ties between rows written together.
            const rows = [...byId].map(([externalId, data], ord) => ({ ord, external_id: externalId, data, data_hash: dataHash(data) }));
            await db.transaction(async (tx) => {
                const ts = await writeTimestamp(tx, connectionId, model);
                for (const part of chunk(rows, chunkSize)) {
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
                        [connectionId, model, JSON.stringify(part), ts, executionId]
                    );
                    for (const row of res.rows) {
                        summary[row.outcome].push(row.external_id);
                    }
                }
            });
            return summary;
        },

        async deleteRecords(connectionId, model, ids, executionId) {
            if (ids.length === 0) {
                return { deletedKeys: [] };
            }
            const deletedKeys = await db.transaction((tx) =>
                softDelete(tx, { connectionId, model, executionId }, 'external_id = ANY($5::text[])', [ids.map(String)])
            );
            return { deletedKeys };
        },

        async getRecordsByIds(connectionId, model, ids) {
            const result = new Map<string, JsonObject>();
            if (ids.length === 0) {
                return result;
            }
            const res = await db.query<{ external_id: string; data: JsonObject }>(
                `SELECT external_id, data FROM records
                 WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL AND external_id = ANY($3::text[])`,
                [connectionId, model, ids.map(String)]
            );
            for (const row of res.rows) {
                result.set(row.external_id, row.data);
            }
            return result;
        },

        async deleteRecordsFromPreviousExecutions(connectionId, model, executionId) {
            const deletedKeys = await db.transaction((tx) =>
                softDelete(tx, { connectionId, model, executionId: null }, 'last_execution_id <> $5', [executionId])
            );
            return { deletedKeys };
        },

        async listRecords(query) {
            const limit = query.limit ?? DEFAULT_LIMIT;
            if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
                throw new RangeError(`limit must be an integer in 1..${MAX_LIMIT}`);
            }
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
                `SELECT id::text AS row_id, external_id, data, last_action,
                        to_json(first_seen_at) AS first_seen_at, to_json(updated_at) AS last_modified_at, to_json(deleted_at) AS deleted_at
                 FROM records WHERE ${where.join(' AND ')}
                 ORDER BY updated_at ASC, id ASC
                 LIMIT ${param(limit + 1)}`,
                params
            );
            const rows = res.rows.slice(0, limit);
            const records = rows.map((row): NangoRecord => {
                const cursor = encodeCursor({ sort: row.last_modified_at, id: row.row_id });
                return {
                    ...row.data,
                    id: row.external_id,
                    _nango_metadata: {
                        first_seen_at: row.first_seen_at,
                        last_modified_at: row.last_modified_at,
                        last_action: row.last_action,
                        deleted_at: row.deleted_at,
                        cursor
                    }
                };
            });
            const last = records[records.length - 1];
            const nextCursor = res.rows.length > limit && last ? last._nango_metadata.cursor : null;
            return { records, next_cursor: nextCursor };
        },

        async startRun(connectionId, syncName) {
            const res = await db.query<{ id: number; started_at: Date }>(
                `INSERT INTO sync_runs (connection_id, sync_name, started_at, status) VALUES ($1, $2, now(), 'running') RETURNING id, started_at`,
                [connectionId, syncName]
            );
            const row = res.rows[0];
            if (!row) {
                throw new Error('could not record the run start');
            }
            return { runId: row.id, executionId: `run-${row.id}`, startedAt: row.started_at };
        },

        async finishRun(runId, status, summary) {
            const res = await db.query(
                `UPDATE sync_runs SET status = $2, finished_at = now(), summary = $3 WHERE id = $1 AND status = 'running'`,
                [runId, status, summary ?? null]
            );
            if (res.affectedRows !== 1) {
                throw new Error(`run ${runId} is not running`);
            }
        },

        async lastSuccessfulRunStart(connectionId, syncName) {
            const res = await db.query<{ started_at: Date }>(
                `SELECT started_at FROM sync_runs WHERE connection_id = $1 AND sync_name = $2 AND status = 'success'
                 ORDER BY started_at DESC, id DESC LIMIT 1`,
                [connectionId, syncName]
            );
            return res.rows[0]?.started_at;
        },

        async upsertConnection(input) {
            const keepMetadata = input.metadata === undefined;
            const res = await db.query<ConnectionRow>(
                `INSERT INTO connections (connection_id, provider_config_key, provider, api_key, api_password, metadata)
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb)
                 ON CONFLICT (connection_id, provider_config_key) DO UPDATE SET
                    provider = EXCLUDED.provider,
                    api_key = EXCLUDED.api_key,
                    api_password = EXCLUDED.api_password,
                    metadata = CASE WHEN $7 THEN connections.metadata ELSE EXCLUDED.metadata END,
                    updated_at = now()
                 RETURNING *`,
                [
                    input.connectionId,
                    input.providerConfigKey,
                    input.provider,
                    input.apiKey,
                    input.apiPassword,
                    input.metadata == null ? null : JSON.stringify(input.metadata),
                    keepMetadata
                ]
            );
            const row = res.rows[0];
            if (!row) {
                throw new Error('could not save the connection');
            }
            return toConnection(row);
        },

        async getConnection(connectionId, providerConfigKey) {
            const res = await db.query<ConnectionRow>(`SELECT * FROM connections WHERE connection_id = $1 AND provider_config_key = $2`, [
                connectionId,
                providerConfigKey
            ]);
            const row = res.rows[0];
            return row ? toConnection(row) : undefined;
        },

        async getMetadata(connectionId, providerConfigKey) {
            return (await requireConnection(connectionId, providerConfigKey)).metadata ?? {};
        },

        async setMetadata(connectionId, providerConfigKey, metadata) {
            const res = await db.query(
                `UPDATE connections SET metadata = $3::jsonb, updated_at = now() WHERE connection_id = $1 AND provider_config_key = $2`,
                [connectionId, providerConfigKey, JSON.stringify(metadata)]
            );
            if (res.affectedRows !== 1) {
                throw new UnknownConnectionError(connectionId, providerConfigKey);
            }
        },

        async updateMetadata(connectionId, providerConfigKey, metadata) {
            const res = await db.query(
                `UPDATE connections SET metadata = COALESCE(metadata, '{}'::jsonb) || $3::jsonb, updated_at = now()
                 WHERE connection_id = $1 AND provider_config_key = $2`,
                [connectionId, providerConfigKey, JSON.stringify(metadata)]
            );
            if (res.affectedRows !== 1) {
                throw new UnknownConnectionError(connectionId, providerConfigKey);
            }
        },

        async close() {
            try {
                if (!db.closed) {
                    await db.close();
                }
                restrictToOwner(dir);
            } finally {
                lock.release();
            }
        }
    };
    return store;
}
