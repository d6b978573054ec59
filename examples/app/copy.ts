import { PGlite } from '@electric-sql/pglite';

/**
 * The app's own copy of the calls, in an embedded Postgres (PGlite, which the project already ships): real
 * transactions, so a page of changes and the cursor after it are saved together or not at all, and a folder on
 * disk, so the copy outlives the process. Nango prunes payloads after 30 days; this copy keeps them.
 */

/** Where the app is in one model's stream of changes. */
export interface StreamKey {
    providerConfigKey: string;
    connectionId: string;
    model: string;
}

/** A record as listRecords returns it: the payload (absent once pruned) beside `_nango_metadata`. */
export interface ListedRecord {
    [key: string]: unknown;
    id: string | number;
    _nango_metadata: { last_action: 'ADDED' | 'UPDATED' | 'DELETED'; pruned_at: string | null; cursor: string };
}

export interface PageOutcome {
    upserted: number;
    deleted: number;
    /** Pruned stubs: they carry no payload, so the copy the app has is kept. */
    keptOverStubs: number;
}

/** Another pull saved a cursor first; this page was not applied, and the pull starts again from the saved one. */
export class CursorMovedError extends Error {
    override name = 'CursorMovedError';
}

export interface StoredCall {
    id: string;
    data: Record<string, unknown>;
    savedAt: Date;
}

export class CallCopy {
    private constructor(private readonly db: PGlite) {}

    /** `dir` undefined keeps the copy in memory (tests); a folder keeps it across restarts. */
    static async open(dir?: string): Promise<CallCopy> {
        // Small shared memory: PGlite's defaults (128 MB of buffers, tables for 100 connections) stay resident for good,
        // and one connection writing a page of calls at a time needs a fraction of it.
        const settings = { postgresqlconf: ['shared_buffers = 8MB', 'wal_buffers = 1MB', 'max_connections = 5'] };
        const db = dir === undefined ? new PGlite(settings) : new PGlite(dir, settings);
        await db.exec(`
            CREATE TABLE IF NOT EXISTS calls (
                id text PRIMARY KEY,
                title text,
                data jsonb NOT NULL,
                saved_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE IF NOT EXISTS cursors (
                provider_config_key text NOT NULL,
                connection_id text NOT NULL,
                model text NOT NULL,
                cursor text NOT NULL,
                PRIMARY KEY (provider_config_key, connection_id, model)
            );
        `);
        return new CallCopy(db);
    }

    async cursor(key: StreamKey): Promise<string | null> {
        const res = await this.db.query<{ cursor: string }>(
            'SELECT cursor FROM cursors WHERE provider_config_key = $1 AND connection_id = $2 AND model = $3',
            [key.providerConfigKey, key.connectionId, key.model]
        );
        return res.rows[0]?.cursor ?? null;
    }

    /**
     * Applies one page and moves the cursor past it in one transaction, only if the cursor is still `from`: a
     * crash before the commit leaves both as they were (the page is pulled again), and two pulls can never both
     * apply the page after the same cursor.
     */
    async applyPage(key: StreamKey, from: string | null, records: readonly ListedRecord[]): Promise<PageOutcome> {
        const last = records[records.length - 1];
        if (!last) {
            return { upserted: 0, deleted: 0, keptOverStubs: 0 };
        }
        return this.db.transaction(async (tx) => {
            const moved = await tx.query(
                `INSERT INTO cursors AS c (provider_config_key, connection_id, model, cursor) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (provider_config_key, connection_id, model) DO UPDATE SET cursor = EXCLUDED.cursor
                 WHERE c.cursor IS NOT DISTINCT FROM $5`,
                [key.providerConfigKey, key.connectionId, key.model, last._nango_metadata.cursor, from]
            );
            if (moved.affectedRows !== 1) {
                throw new CursorMovedError(`the cursor of ${key.model} moved while this page was pulled`);
            }
            const outcome: PageOutcome = { upserted: 0, deleted: 0, keptOverStubs: 0 };
            for (const record of records) {
                const { _nango_metadata: meta, ...data } = record;
                const id = String(record.id);
                if (meta.last_action === 'DELETED') {
                    await tx.query('DELETE FROM calls WHERE id = $1', [id]);
                    outcome.deleted++;
                } else if (meta.pruned_at !== null) {
                    // A pruned stub is `{ id, _nango_metadata }`: writing it would empty the copy this app keeps.
                    outcome.keptOverStubs++;
                } else {
                    await tx.query(
                        `INSERT INTO calls (id, title, data) VALUES ($1, $2, $3::jsonb)
                         ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, data = EXCLUDED.data, saved_at = now()`,
                        [id, typeof data['title'] === 'string' ? data['title'] : null, JSON.stringify(data)]
                    );
                    outcome.upserted++;
                }
            }
            return outcome;
        });
    }

    async getCall(id: string): Promise<StoredCall | null> {
        const res = await this.db.query<{ id: string; data: Record<string, unknown>; saved_at: Date }>(
            'SELECT id, data, saved_at FROM calls WHERE id = $1',
            [id]
        );
        const row = res.rows[0];
        return row ? { id: row.id, data: row.data, savedAt: row.saved_at } : null;
    }

    /** Calls whose title holds `text` (any case), newest call first. */
    async search(text: string, limit: number): Promise<{ id: string; title: string | null; time: string | null }[]> {
        const pattern = `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
        const res = await this.db.query<{ id: string; title: string | null; time: string | null }>(
            `SELECT id, title, data->>'time' AS time FROM calls WHERE title ILIKE $1 ESCAPE '\\'
             ORDER BY data->>'time' DESC NULLS LAST, id LIMIT $2`,
            [pattern, limit]
        );
        return res.rows;
    }

    async count(): Promise<number> {
        const res = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls');
        return res.rows[0]?.n ?? 0;
    }

    /** Every call, for a test comparing the copy with the truth. */
    async allCalls(): Promise<Map<string, Record<string, unknown>>> {
        const res = await this.db.query<{ id: string; data: Record<string, unknown> }>('SELECT id, data FROM calls');
        return new Map(res.rows.map((row) => [row.id, row.data]));
    }

    async close(): Promise<void> {
        await this.db.close();
    }
}
