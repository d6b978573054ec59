import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { PGlite, Transaction } from '@electric-sql/pglite';
import { z } from 'zod';

import { acquireDirLock, isProcessAlive, type Holder } from './lock.js';
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

/** A title search over one model's records, in the records API's order and with its cursors. */
export interface SearchRecordsQuery {
    connectionId: string;
    model: string;
    /** Matched case-insensitively anywhere in the record's `title`; `%` and `_` are plain characters. */
    text: string;
    cursor?: string | undefined;
    /** 1..10000, default 100. */
    limit?: number | undefined;
}

export interface ListRecordsResult {
    records: NangoRecord[];
    next_cursor: string | null;
}

export interface PruneQuery {
    connectionId: string;
    model: string;
    /** Prunes up to and including the record this cursor points at, in (updated_at, id) order. */
    untilCursor: string;
    /** At most this many records (Nango: 1..10000, default 1000). */
    limit?: number | undefined;
}

export interface PruneResult {
    count: number;
    /** Nango's rule: more may remain unless the last record pruned is the one `untilCursor` names. */
    has_more: boolean;
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
    /** The sync's lastSyncDate for this run: start of the newest successful run, undefined before the first one. */
    lastSyncDate: Date | undefined;
}

export interface RunLogLine {
    level: string;
    message: string;
    createdAt: Date;
}

export interface SyncRun {
    runId: number;
    connectionId: string;
    syncName: string;
    status: RunStatus;
    startedAt: Date;
    finishedAt: Date | null;
    /** On success the run's counts as JSON; on failure the error. */
    summary: string | null;
}

/** A runner that has not sent a heartbeat for this long is taken for dead, and its run for abandoned. */
export const RUN_STALE_AFTER_MS = 30_000;

/** The process running a sync; runners and the local Nango share one machine, so its liveness can be checked. */
export type RunnerIdentity = Holder;

/** Two runs of one sync for one connection never overlap, whichever process starts them. */
export class SyncAlreadyRunningError extends Error {
    override name = 'SyncAlreadyRunningError';
    constructor(
        readonly connectionId: string,
        readonly syncName: string,
        readonly runningSince: Date
    ) {
        super(
            `the ${syncName} sync of connection ${connectionId} is already running (since ${runningSince.toISOString()}); ` +
                'this run was not started, try again when that one has finished'
        );
    }
}

export type DeployedFlowType = 'sync' | 'action' | 'on-event';
export type DeployedFlowMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface DeployedFlowEndpoint {
    method: DeployedFlowMethod;
    path: string;
    group?: string | undefined;
}

/** One script as `nango deploy` sends it, validated and flattened. */
export interface DeployFlowInput {
    providerConfigKey: string;
    type: DeployedFlowType;
    name: string;
    version: string;
    /** The schedule, e.g. 'every hour'; null for actions and on-event scripts. */
    runs: string | null;
    models: string[];
    endpoints: DeployedFlowEndpoint[];
    syncType: 'incremental' | 'full' | null;
    trackDeletes: boolean;
    autoStart: boolean;
    inputModel: string | null;
    description: string | null;
    scopes: string[];
    /** The compiled CommonJS module the runner executes. */
    js: string;
    /** The TypeScript source, kept for reference. */
    ts: string;
    /** JSON Schema of the models this flow uses; null when the deploy carried none. */
    jsonSchema: JsonObject | null;
    /** The flow config as the CLI sent it, without fileBody. */
    rawConfig: JsonObject;
    sdkVersion: string | null;
}

export interface DeployedFlow extends DeployFlowInput {
    deployedAt: Date;
}

export interface DeployedFlowKey {
    providerConfigKey: string;
    type: DeployedFlowType;
    name: string;
}

export interface DeployFlowsResult {
    deployed: DeployedFlow[];
    /** Flows a reconciling deploy removed because it no longer listed them. */
    removed: DeployedFlowKey[];
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
    deleteRecordsFromPreviousExecutions(connectionId: string, model: string, executionId: string): Promise<{ deletedKeys: string[] }>;
    listRecords(query: ListRecordsQuery): Promise<ListRecordsResult>;
    /** The records whose title contains `text`, shaped and paged as listRecords pages them. */
    searchRecords(query: SearchRecordsQuery): Promise<ListRecordsResult>;
    /** Empties the payloads of one model's records up to a cursor (PATCH /records/prune). */
    pruneRecords(query: PruneQuery): Promise<PruneResult>;
    /** Empties the payload of every record, of any connection and model, not updated since `olderThan`; returns how many. */
    pruneStale(olderThan: Date): Promise<number>;
    /**
     * Throws SyncAlreadyRunningError while another run of the sync for the connection is alive: its runner
     * process exists and has sent a heartbeat within RUN_STALE_AFTER_MS. Other running runs are abandoned.
     */
    startRun(connectionId: string, syncName: string, runner: RunnerIdentity): Promise<StartedRun>;
    /** Keeps a run alive; false when the run is no longer running (finished, or given up as abandoned). */
    heartbeatRun(runId: number): Promise<boolean>;
    finishRun(runId: number, status: 'success' | 'failed', summary?: string): Promise<void>;
    appendRunLogs(runId: number, lines: readonly RunLogLine[]): Promise<void>;
    runLogs(runId: number): Promise<RunLogLine[]>;
    /** Newest first. */
    listRuns(query: { connectionId?: string | undefined; syncName?: string | undefined; limit: number }): Promise<SyncRun[]>;
    /** The sync's lastSyncDate: start of the newest successful run, undefined before the first one. */
    lastSuccessfulRunStart(connectionId: string, syncName: string): Promise<Date | undefined>;
    upsertConnection(input: ConnectionInput): Promise<StoredConnection>;
    getConnection(connectionId: string, providerConfigKey: string): Promise<StoredConnection | undefined>;
    getMetadata(connectionId: string, providerConfigKey: string): Promise<Record<string, unknown>>;
    /** Replaces the metadata. */
    setMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    /** Shallow-merges into the metadata, as Nango's PATCH /connections/metadata does. */
    updateMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    /**
     * Stores a deployment in one transaction: each flow replaces the one with the same (integration, type, name).
     * With `reconcile`, every stored flow the deployment does not list is removed too.
     */
    deployFlows(flows: readonly DeployFlowInput[], options: { reconcile: boolean }): Promise<DeployFlowsResult>;
    /** Every deployed flow, by integration, type and name. */
    listDeployedFlows(): Promise<DeployedFlow[]>;
    /** Without `type`, a sync wins over an action or on-event script of the same name. */
    getDeployedFlow(providerConfigKey: string, name: string, type?: DeployedFlowType): Promise<DeployedFlow | undefined>;
    countConnections(providerConfigKey: string): Promise<number>;
    /** The connection ids of an integration, oldest first: whom a deployed sync runs for. */
    listConnectionIds(providerConfigKey: string): Promise<string[]>;
    /** Live (not deleted) records of a model, as Nango's sync status reports them. */
    countLiveRecords(connectionId: string, model: string): Promise<number>;
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
    pruned_at: string | null;
    last_action: RecordAction;
}

const PRUNE_BATCH = 1000;

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

interface DeployedFlowRow {
    provider_config_key: string;
    type: DeployedFlowType;
    name: string;
    version: string;
    runs: string | null;
    models: string[];
    endpoints: DeployedFlowEndpoint[];
    sync_type: 'incremental' | 'full' | null;
    track_deletes: boolean;
    auto_start: boolean;
    input_model: string | null;
    description: string | null;
    scopes: string[];
    js: string;
    ts: string;
    json_schema: JsonObject | null;
    raw_config: JsonObject;
    sdk_version: string | null;
    deployed_at: Date;
}

function toDeployedFlow(row: DeployedFlowRow): DeployedFlow {
    return {
        providerConfigKey: row.provider_config_key,
        type: row.type,
        name: row.name,
        version: row.version,
        runs: row.runs,
        models: row.models,
        endpoints: row.endpoints,
        syncType: row.sync_type,
        trackDeletes: row.track_deletes,
        autoStart: row.auto_start,
        inputModel: row.input_model,
        description: row.description,
        scopes: row.scopes,
        js: row.js,
        ts: row.ts,
        jsonSchema: row.json_schema,
        rawConfig: row.raw_config,
        sdkVersion: row.sdk_version,
        deployedAt: row.deployed_at
    };
}

const FLOW_TYPE_ORDER = `CASE type WHEN 'sync' THEN 0 WHEN 'action' THEN 1 ELSE 2 END`;

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
                        to_json(first_seen_at) AS first_seen_at, to_json(updated_at) AS last_modified_at, to_json(deleted_at) AS deleted_at,
                        to_json(pruned_at) AS pruned_at
                 FROM records WHERE ${where.join(' AND ')}
                 ORDER BY updated_at ASC, id ASC
                 LIMIT ${param(limit + 1)}`,
                params
            );
            const rows = res.rows.slice(0, limit);
            const records = rows.map((row): NangoRecord => {
                const cursor = encodeCursor({ sort: row.last_modified_at, id: row.row_id });
                return {
                    ...(row.pruned_at === null ? row.data : {}),
                    id: row.external_id,
                    _nango_metadata: {
                        first_seen_at: row.first_seen_at,
                        last_modified_at: row.last_modified_at,
                        last_action: row.last_action,
                        deleted_at: row.deleted_at,
                        pruned_at: row.pruned_at,
                        cursor
                    }
                };
            });
            const last = records[records.length - 1];
            const nextCursor = res.rows.length > limit && last ? last._nango_metadata.cursor : null;
            return { records, next_cursor: nextCursor };
        },

        async searchRecords(query) {
            const limit = query.limit ?? DEFAULT_LIMIT;
            if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
                throw new RangeError(`limit must be an integer in 1..${MAX_LIMIT}`);
            }
            const cursor = query.cursor === undefined ? null : (decodeCursor(query.cursor) ?? 'invalid');
            if (cursor === 'invalid') {
                throw new InvalidCursorError();
            }
            const pattern = `%${query.text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
            // Only the matching ids are found here; listRecords shapes them, so a found record looks exactly like a listed one.
            const res = await db.query<{ external_id: string; row_id: string; sort: string }>(
                `SELECT external_id, id::text AS row_id, to_json(updated_at) AS sort FROM records
                 WHERE connection_id = $1 AND model = $2 AND data->>'title' ILIKE $3 ESCAPE '\\'
                   AND ($4::timestamptz IS NULL OR (updated_at, id) > ($4::timestamptz, $5::bigint))
                 ORDER BY updated_at ASC, id ASC
                 LIMIT $6`,
                [query.connectionId, query.model, pattern, cursor?.sort ?? null, cursor?.id ?? null, limit + 1]
            );
            const rows = res.rows.slice(0, limit);
            const last = rows[rows.length - 1];
            if (!last) {
                return { records: [], next_cursor: null };
            }
            const page = await store.listRecords({
                connectionId: query.connectionId,
                model: query.model,
                ids: rows.map((row) => row.external_id),
                limit: rows.length
            });
            // The next page starts after this search's last row as it was found: a record re-saved in between
            // moves to the end of listRecords' order, and a cursor taken from it would skip the rows before it.
            const nextCursor = res.rows.length > limit ? encodeCursor({ sort: last.sort, id: last.row_id }) : null;
            return { records: page.records, next_cursor: nextCursor };
        },

        async pruneRecords(query) {
            const limit = query.limit ?? PRUNE_BATCH;
            const until = decodeCursor(query.untilCursor);
            if (!until) {
                throw new InvalidCursorError();
            }
            // updated_at, last_action and the cursor stay: readers holding a cursor must not see the record move.
            const res = await db.query<{ count: number; row_id: string | null; updated_at: string | null }>(
                `WITH target AS (
                    SELECT id FROM records
                    WHERE connection_id = $1 AND model = $2 AND pruned_at IS NULL
                      AND (updated_at, id) <= ($3::timestamptz, $4::bigint)
                    ORDER BY updated_at, id LIMIT $5
                 ),
                 pruned AS (
                    UPDATE records r SET data = '{}'::jsonb, pruned_at = now() FROM target WHERE r.id = target.id
                    RETURNING r.id, r.updated_at
                 )
                 SELECT count(*)::int AS count,
                        (array_agg(id::text ORDER BY updated_at DESC, id DESC))[1] AS row_id,
                        (array_agg(to_json(updated_at) ORDER BY updated_at DESC, id DESC))[1] AS updated_at
                 FROM pruned`,
                [query.connectionId, query.model, until.sort, until.id, limit]
            );
            const row = res.rows[0];
            const count = row?.count ?? 0;
            const lastCursor = row?.row_id && row.updated_at ? encodeCursor({ sort: row.updated_at, id: row.row_id }) : null;
            return { count, has_more: count > 0 && lastCursor !== query.untilCursor };
        },

        async pruneStale(olderThan) {
            let total = 0;
            for (;;) {
                // Batches keep each transaction short, so the records API and running syncs are never held up long.
                const res = await db.query(
                    `UPDATE records SET data = '{}'::jsonb, pruned_at = now()
                     WHERE id IN (SELECT id FROM records WHERE pruned_at IS NULL AND updated_at < $1::timestamptz LIMIT ${PRUNE_BATCH})`,
                    [olderThan.toISOString()]
                );
                total += res.affectedRows ?? 0;
                if ((res.affectedRows ?? 0) < PRUNE_BATCH) {
                    return total;
                }
            }
        },

        async startRun(connectionId, syncName, runner) {
            return db.transaction(async (tx) => {
                const runningRows = await tx.query<{ id: number; started_at: Date; stale: boolean; runner: RunnerIdentity | null }>(
                    `SELECT id, started_at, heartbeat_at < now() - $3::interval AS stale, runner FROM sync_runs
                     WHERE connection_id = $1 AND sync_name = $2 AND status = 'running'`,
                    [connectionId, syncName, `${RUN_STALE_AFTER_MS} milliseconds`]
                );
                for (const row of runningRows.rows) {
                    const dead = row.runner !== null && !isProcessAlive(row.runner);
                    if (!row.stale && !dead) {
                        throw new SyncAlreadyRunningError(connectionId, syncName, row.started_at);
                    }
                    await tx.query(`UPDATE sync_runs SET status = 'failed', finished_at = now(), summary = $2 WHERE id = $1`, [
                        row.id,
                        dead
                            ? `abandoned: its runner (process ${row.runner?.pid ?? '?'}) exited during the run`
                            : 'abandoned: its runner stopped sending heartbeats (the process hung or lost the local Nango)'
                    ]);
                }
                const last = await tx.query<{ started_at: Date }>(
                    `SELECT started_at FROM sync_runs WHERE connection_id = $1 AND sync_name = $2 AND status = 'success'
                     ORDER BY started_at DESC, id DESC LIMIT 1`,
                    [connectionId, syncName]
                );
                const res = await tx.query<{ id: number; started_at: Date }>(
                    `INSERT INTO sync_runs (connection_id, sync_name, started_at, heartbeat_at, status, runner)
                     VALUES ($1, $2, now(), now(), 'running', $3::jsonb) RETURNING id, started_at`,
                    [connectionId, syncName, JSON.stringify(runner)]
                );
                const row = res.rows[0];
                if (!row) {
                    throw new Error('could not record the run start');
                }
                return { runId: row.id, executionId: `run-${row.id}`, startedAt: row.started_at, lastSyncDate: last.rows[0]?.started_at };
            });
        },

        async heartbeatRun(runId) {
            const res = await db.query(`UPDATE sync_runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [runId]);
            return res.affectedRows === 1;
        },

        async appendRunLogs(runId, lines) {
            if (lines.length === 0) {
                return;
            }
            await db.query(
                `INSERT INTO sync_run_logs (run_id, level, message, created_at)
                 SELECT $1, level, message, created_at FROM jsonb_to_recordset($2::jsonb) AS t(level text, message text, created_at timestamptz)`,
                [
                    runId,
                    JSON.stringify(
                        lines.map((line) => ({ level: line.level, message: line.message, created_at: line.createdAt.toISOString() }))
                    )
                ]
            );
        },

        async runLogs(runId) {
            const res = await db.query<{ level: string; message: string; created_at: Date }>(
                `SELECT level, message, created_at FROM sync_run_logs WHERE run_id = $1 ORDER BY id`,
                [runId]
            );
            return res.rows.map((row) => ({ level: row.level, message: row.message, createdAt: row.created_at }));
        },

        async listRuns(query) {
            const res = await db.query<{
                id: number;
                connection_id: string;
                sync_name: string;
                status: RunStatus;
                started_at: Date;
                finished_at: Date | null;
                summary: string | null;
            }>(
                `SELECT id, connection_id, sync_name, status, started_at, finished_at, summary FROM sync_runs
                 WHERE ($1::text IS NULL OR connection_id = $1) AND ($2::text IS NULL OR sync_name = $2)
                 ORDER BY started_at DESC, id DESC LIMIT $3`,
                [query.connectionId ?? null, query.syncName ?? null, query.limit]
            );
            return res.rows.map((row) => ({
                runId: row.id,
                connectionId: row.connection_id,
                syncName: row.sync_name,
                status: row.status,
                startedAt: row.started_at,
                finishedAt: row.finished_at,
                summary: row.summary
            }));
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

        async deployFlows(flows, { reconcile }) {
            const keys = flows.map((flow) => JSON.stringify([flow.providerConfigKey, flow.type, flow.name]));
            const duplicate = keys.find((key, index) => keys.indexOf(key) !== index);
            if (duplicate !== undefined) {
                throw new TypeError(`a deployment lists the flow ${duplicate} twice`);
            }
            return db.transaction(async (tx) => {
                // Later than the previous deployment even within one clock tick, so a redeploy always shows.
                const stamp = await tx.query<{ ts: Date }>(
                    `SELECT GREATEST(now(), COALESCE(max(deployed_at) + interval '1 millisecond', now())) AS ts FROM deployed_flows`
                );
                const deployedAt = stamp.rows[0]?.ts;
                if (deployedAt === undefined) {
                    throw new Error('could not compute the deployment timestamp');
                }
                let removed: DeployedFlowKey[] = [];
                if (reconcile) {
                    const kept = flows.map((flow) => ({ provider_config_key: flow.providerConfigKey, type: flow.type, name: flow.name }));
                    const res = await tx.query<{ provider_config_key: string; type: DeployedFlowType; name: string }>(
                        `DELETE FROM deployed_flows
                         WHERE (provider_config_key, type, name) NOT IN (
                            SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(provider_config_key text, type text, name text)
                         )
                         RETURNING provider_config_key, type, name`,
                        [JSON.stringify(kept)]
                    );
                    removed = res.rows.map((row) => ({ providerConfigKey: row.provider_config_key, type: row.type, name: row.name }));
                }
                const deployed: DeployedFlow[] = [];
                for (const flow of flows) {
                    const res = await tx.query<DeployedFlowRow>(
                        `INSERT INTO deployed_flows (provider_config_key, type, name, version, runs, models, endpoints, sync_type, track_deletes,
                                auto_start, input_model, description, scopes, js, ts, json_schema, raw_config, sdk_version, deployed_at)
                         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16::jsonb, $17::jsonb, $18, $19)
                         ON CONFLICT (provider_config_key, type, name) DO UPDATE SET
                            version = EXCLUDED.version, runs = EXCLUDED.runs, models = EXCLUDED.models, endpoints = EXCLUDED.endpoints,
                            sync_type = EXCLUDED.sync_type, track_deletes = EXCLUDED.track_deletes, auto_start = EXCLUDED.auto_start,
                            input_model = EXCLUDED.input_model, description = EXCLUDED.description, scopes = EXCLUDED.scopes,
                            js = EXCLUDED.js, ts = EXCLUDED.ts, json_schema = EXCLUDED.json_schema, raw_config = EXCLUDED.raw_config,
                            sdk_version = EXCLUDED.sdk_version, deployed_at = EXCLUDED.deployed_at
                         RETURNING *`,
                        [
                            flow.providerConfigKey,
                            flow.type,
                            flow.name,
                            flow.version,
                            flow.runs,
                            JSON.stringify(flow.models),
                            JSON.stringify(flow.endpoints),
                            flow.syncType,
                            flow.trackDeletes,
                            flow.autoStart,
                            flow.inputModel,
                            flow.description,
                            JSON.stringify(flow.scopes),
                            flow.js,
                            flow.ts,
                            flow.jsonSchema === null ? null : JSON.stringify(flow.jsonSchema),
                            JSON.stringify(flow.rawConfig),
                            flow.sdkVersion,
                            deployedAt
                        ]
                    );
                    const row = res.rows[0];
                    if (!row) {
                        throw new Error(`could not store the flow ${flow.name}`);
                    }
                    deployed.push(toDeployedFlow(row));
                }
                return { deployed, removed };
            });
        },

        async listDeployedFlows() {
            const res = await db.query<DeployedFlowRow>(
                `SELECT * FROM deployed_flows ORDER BY provider_config_key, ${FLOW_TYPE_ORDER}, name`
            );
            return res.rows.map(toDeployedFlow);
        },

        async getDeployedFlow(providerConfigKey, name, type) {
            const res = await db.query<DeployedFlowRow>(
                `SELECT * FROM deployed_flows WHERE provider_config_key = $1 AND name = $2 AND ($3::text IS NULL OR type = $3)
                 ORDER BY ${FLOW_TYPE_ORDER} LIMIT 1`,
                [providerConfigKey, name, type ?? null]
            );
            const row = res.rows[0];
            return row ? toDeployedFlow(row) : undefined;
        },

        async listConnectionIds(providerConfigKey) {
            const res = await db.query<{ connection_id: string }>(
                `SELECT connection_id FROM connections WHERE provider_config_key = $1 ORDER BY created_at, id`,
                [providerConfigKey]
            );
            return res.rows.map((row) => row.connection_id);
        },

        async countLiveRecords(connectionId, model) {
            const res = await db.query<{ count: number }>(
                `SELECT count(*)::int AS count FROM records WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL`,
                [connectionId, model]
            );
            return res.rows[0]?.count ?? 0;
        },

        async countConnections(providerConfigKey) {
            const res = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM connections WHERE provider_config_key = $1`, [
                providerConfigKey
            ]);
            return res.rows[0]?.count ?? 0;
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
