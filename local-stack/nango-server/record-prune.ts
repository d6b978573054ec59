import type { PGlite } from '@electric-sql/pglite';

import { decodeCursor, encodeCursor, InvalidCursorError } from './record-codec.js';

/**
 * Nango's record lifecycle: a pruned record keeps its row, hash, updated_at, last_action and cursor, and
 * loses its payload, so readers holding a cursor never see it move and a later save restores it.
 */

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

export interface RecordPruning {
    /** Empties the payloads of one model's records up to a cursor (PATCH /records/prune). */
    pruneRecords(query: PruneQuery): Promise<PruneResult>;
    /** Empties the payload of every record, of any connection and model, not updated since `olderThan`; returns how many. */
    pruneStale(olderThan: Date): Promise<number>;
}

const PRUNE_BATCH = 1000;

export function createRecordPruning(db: PGlite): RecordPruning {
    return {
        async pruneRecords(query) {
            const limit = query.limit ?? PRUNE_BATCH;
            const until = decodeCursor(query.untilCursor);
            if (!until) {
                throw new InvalidCursorError();
            }
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
        }
    };
}
