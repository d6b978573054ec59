import type { PGlite } from '@electric-sql/pglite';
import { z } from 'zod';

/**
 * Nango's checkpoints: per connection and key (`sync:<sync name>`), one flat object with a version for
 * optimistic locking. A key never written counts as version 1, and every successful write or delete moves the
 * version from `expectedVersion` to the next one, so of two writers holding the same version exactly one wins.
 * A delete is soft (the version stays, and a later write brings the key back); a full refresh removes the rows.
 */

/** The one environment of the local Nango, the `dev` that `nango deploy dev` names. */
export const LOCAL_ENVIRONMENT = 'dev';
export const CHECKPOINT_MAX_FIELDS = 16;
export const CHECKPOINT_MAX_STRING = 4000;
export const CHECKPOINT_MAX_KEY = 255;

export type CheckpointValue = Record<string, string | number | boolean>;

export const checkpointValueSchema = z
    .record(z.string(), z.union([z.string().max(CHECKPOINT_MAX_STRING), z.number(), z.boolean()]))
    .refine((value) => Object.keys(value).length <= CHECKPOINT_MAX_FIELDS, {
        message: `a checkpoint has at most ${CHECKPOINT_MAX_FIELDS} fields`
    });

export interface StoredCheckpoint {
    checkpoint: CheckpointValue;
    version: number;
    /** Set once cleared: the script then reads null, and the next write must still name this version. */
    deletedAt: Date | null;
}

export interface SavedCheckpoint {
    checkpoint: CheckpointValue;
    version: number;
}

/** The key of a sync's checkpoint, as Nango names it. */
export function syncCheckpointKey(syncName: string): string {
    return `sync:${syncName}`;
}

export class CheckpointConflictError extends Error {
    override name = 'CheckpointConflictError';
    constructor(
        readonly key: string,
        readonly expectedVersion: number,
        /** Undefined when the conflict came back over HTTP, which says it in the message only. */
        readonly currentVersion: number | undefined,
        message = `checkpoint ${key} is at version ${currentVersion ?? '?'}, not ${expectedVersion}: another writer saved it first`
    ) {
        super(message);
    }
}

export class UnknownNangoConnectionError extends Error {
    override name = 'UnknownNangoConnectionError';
    constructor(readonly nangoConnectionId: number) {
        super(`no connection has the id ${nangoConnectionId}`);
    }
}

export interface CheckpointsStore {
    /** Undefined when the key was never written (or a full refresh removed it); a cleared one has `deletedAt`. */
    getCheckpoint(nangoConnectionId: number, key: string): Promise<StoredCheckpoint | undefined>;
    /** Throws CheckpointConflictError when the stored version is not `expectedVersion`. */
    putCheckpoint(nangoConnectionId: number, key: string, checkpoint: CheckpointValue, expectedVersion: number): Promise<SavedCheckpoint>;
    /** Soft delete; false when there is nothing live to delete. Throws CheckpointConflictError on a stale version. */
    deleteCheckpoint(nangoConnectionId: number, key: string, expectedVersion: number): Promise<boolean>;
    /** Removes every checkpoint of the sync for the connection (its own key and the `<key>:...` ones); returns how many. */
    clearSyncCheckpoints(nangoConnectionId: number, syncName: string): Promise<number>;
}

interface CheckpointRow {
    checkpoint: CheckpointValue;
    version: number;
    deleted_at: Date | null;
}

export function createCheckpointsStore(db: PGlite): CheckpointsStore {
    return {
        async getCheckpoint(nangoConnectionId, key) {
            const res = await db.query<CheckpointRow>(
                `SELECT checkpoint, version, deleted_at FROM checkpoints WHERE connection_id = $1 AND key = $2`,
                [nangoConnectionId, key]
            );
            const row = res.rows[0];
            return row ? { checkpoint: row.checkpoint, version: row.version, deletedAt: row.deleted_at } : undefined;
        },

        async putCheckpoint(nangoConnectionId, key, checkpoint, expectedVersion) {
            return db.transaction(async (tx) => {
                const connection = await tx.query(`SELECT 1 FROM connections WHERE id = $1`, [nangoConnectionId]);
                if (connection.rows.length === 0) {
                    throw new UnknownNangoConnectionError(nangoConnectionId);
                }
                const current = await tx.query<{ version: number }>(
                    `SELECT version FROM checkpoints WHERE connection_id = $1 AND key = $2`,
                    [nangoConnectionId, key]
                );
                const currentVersion = current.rows[0]?.version ?? 1;
                if (currentVersion !== expectedVersion) {
                    throw new CheckpointConflictError(key, expectedVersion, currentVersion);
                }
                const res = await tx.query<SavedCheckpoint>(
                    `INSERT INTO checkpoints (connection_id, key, checkpoint, version) VALUES ($1, $2, $3::jsonb, $4 + 1)
                     ON CONFLICT (connection_id, key) DO UPDATE SET
                        checkpoint = EXCLUDED.checkpoint, version = EXCLUDED.version, deleted_at = NULL, updated_at = now()
                     WHERE checkpoints.version = $4
                     RETURNING checkpoint, version`,
                    [nangoConnectionId, key, JSON.stringify(checkpoint), expectedVersion]
                );
                const row = res.rows[0];
                if (!row) {
                    throw new CheckpointConflictError(key, expectedVersion, currentVersion);
                }
                return row;
            });
        },

        async deleteCheckpoint(nangoConnectionId, key, expectedVersion) {
            return db.transaction(async (tx) => {
                const current = await tx.query<{ version: number; deleted_at: Date | null }>(
                    `SELECT version, deleted_at FROM checkpoints WHERE connection_id = $1 AND key = $2`,
                    [nangoConnectionId, key]
                );
                const row = current.rows[0];
                if (!row || row.deleted_at !== null) {
                    return false;
                }
                if (row.version !== expectedVersion) {
                    throw new CheckpointConflictError(key, expectedVersion, row.version);
                }
                await tx.query(
                    `UPDATE checkpoints SET deleted_at = now(), updated_at = now(), version = version + 1
                     WHERE connection_id = $1 AND key = $2 AND version = $3`,
                    [nangoConnectionId, key, expectedVersion]
                );
                return true;
            });
        },

        async clearSyncCheckpoints(nangoConnectionId, syncName) {
            const key = syncCheckpointKey(syncName);
            const res = await db.query(
                `DELETE FROM checkpoints WHERE connection_id = $1 AND (key = $2 OR left(key, length($2) + 1) = $2 || ':')`,
                [nangoConnectionId, key]
            );
            return res.affectedRows ?? 0;
        }
    };
}
