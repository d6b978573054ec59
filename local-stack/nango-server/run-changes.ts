import type { PGlite, Transaction } from '@electric-sql/pglite';

/**
 * What each run changed, per model, counted by the store as it writes: the `responseResults` of Nango's sync
 * webhook. Counted inside the write's own transaction, so a batch that rolls back counts nothing, and per model,
 * which the runner's running totals are not.
 */

export interface ModelChanges {
    added: number;
    updated: number;
    deleted: number;
}

type Queryable = Pick<Transaction, 'query'>;

export async function addRunChanges(tx: Queryable, executionId: string, model: string, changes: ModelChanges): Promise<void> {
    if (changes.added === 0 && changes.updated === 0 && changes.deleted === 0) {
        return;
    }
    await tx.query(
        `INSERT INTO run_record_changes AS c (execution_id, model, added, updated, deleted) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (execution_id, model) DO UPDATE SET
             added = c.added + EXCLUDED.added, updated = c.updated + EXCLUDED.updated, deleted = c.deleted + EXCLUDED.deleted`,
        [executionId, model, changes.added, changes.updated, changes.deleted]
    );
}

/** The models the execution changed, with its counts; a model it did not change is absent. */
export async function runChanges(db: Pick<PGlite, 'query'>, executionId: string): Promise<Map<string, ModelChanges>> {
    const res = await db.query<{ model: string } & ModelChanges>(
        `SELECT model, added, updated, deleted FROM run_record_changes WHERE execution_id = $1 ORDER BY model`,
        [executionId]
    );
    return new Map(res.rows.map((row) => [row.model, { added: row.added, updated: row.updated, deleted: row.deleted }]));
}
