import type { PGlite } from '@electric-sql/pglite';

interface Migration {
    version: number;
    name: string;
    sql: string;
}

/** Append-only: an applied migration is never edited, a change is a new entry. */
export const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        name: 'initial',
        sql: `
            CREATE TABLE connections (
                id serial PRIMARY KEY,
                connection_id text NOT NULL,
                provider_config_key text NOT NULL,
                provider text NOT NULL,
                api_key text NOT NULL,
                api_password text NOT NULL,
                metadata jsonb,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (connection_id, provider_config_key)
            );

            CREATE TABLE records (
                id bigserial PRIMARY KEY,
                connection_id text NOT NULL,
                model text NOT NULL,
                external_id text NOT NULL,
                data jsonb NOT NULL,
                data_hash text NOT NULL,
                first_seen_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                deleted_at timestamptz,
                last_action text NOT NULL CHECK (last_action IN ('ADDED', 'UPDATED', 'DELETED')),
                last_execution_id text NOT NULL,
                UNIQUE (connection_id, model, external_id)
            );
            CREATE INDEX records_paging ON records (connection_id, model, updated_at, id);

            CREATE TABLE sync_runs (
                id serial PRIMARY KEY,
                connection_id text NOT NULL,
                sync_name text NOT NULL,
                started_at timestamptz NOT NULL,
                finished_at timestamptz,
                status text NOT NULL CHECK (status IN ('running', 'success', 'failed')),
                summary text
            );
            CREATE INDEX sync_runs_last ON sync_runs (connection_id, sync_name, status, started_at);
        `
    },
    {
        version: 2,
        name: 'records_pruned_at',
        // A pruned record keeps its row, hash and cursor; only the payload goes (Nango's record lifecycle).
        sql: `
            ALTER TABLE records ADD COLUMN pruned_at timestamptz;
            CREATE INDEX records_not_pruned ON records (updated_at, id) WHERE pruned_at IS NULL;
        `
    },
    {
        version: 3,
        name: 'deployed_flows',
        // What `nango deploy` last sent, one row per script. raw_config is the flow config as received
        // minus fileBody, which lives once in js/ts; json_schema holds only the definitions this flow uses.
        sql: `
            CREATE TABLE deployed_flows (
                provider_config_key text NOT NULL,
                type text NOT NULL CHECK (type IN ('sync', 'action', 'on-event')),
                name text NOT NULL,
                version text NOT NULL,
                runs text,
                models jsonb NOT NULL,
                endpoints jsonb NOT NULL,
                sync_type text CHECK (sync_type IN ('incremental', 'full')),
                track_deletes boolean NOT NULL,
                auto_start boolean NOT NULL,
                input_model text,
                description text,
                scopes jsonb NOT NULL,
                js text NOT NULL CHECK (js <> ''),
                ts text NOT NULL,
                json_schema jsonb,
                raw_config jsonb NOT NULL,
                sdk_version text,
                deployed_at timestamptz NOT NULL,
                PRIMARY KEY (provider_config_key, type, name)
            );
        `
    },
    {
        version: 4,
        name: 'run_heartbeats_and_logs',
        // A runner may be another process talking HTTP: its heartbeat tells a live run from an abandoned one.
        sql: `
            ALTER TABLE sync_runs ADD COLUMN heartbeat_at timestamptz;
            ALTER TABLE sync_runs ADD COLUMN runner jsonb;
            UPDATE sync_runs SET heartbeat_at = COALESCE(finished_at, started_at);
            ALTER TABLE sync_runs ALTER COLUMN heartbeat_at SET NOT NULL;
            CREATE TABLE sync_run_logs (
                id bigserial PRIMARY KEY,
                run_id integer NOT NULL REFERENCES sync_runs (id),
                level text NOT NULL,
                message text NOT NULL,
                created_at timestamptz NOT NULL
            );
            CREATE INDEX sync_run_logs_run ON sync_run_logs (run_id, id);
        `
    },
    {
        version: 5,
        name: 'checkpoints',
        // Nango's checkpoints: one versioned object per connection and key, soft-deleted. A run records whether
        // it ended interrupted (a success that hands over to the next execution) and the checkpoints it went through.
        sql: `
            CREATE TABLE checkpoints (
                id serial PRIMARY KEY,
                connection_id integer NOT NULL REFERENCES connections (id),
                key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
                checkpoint jsonb NOT NULL,
                version integer NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                deleted_at timestamptz,
                UNIQUE (connection_id, key)
            );
            ALTER TABLE sync_runs ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
            ALTER TABLE sync_runs ADD COLUMN checkpoint_range jsonb;
        `
    },
    {
        version: 6,
        name: 'sync_webhooks',
        // Nango's sync webhooks report each model's added/updated/deleted for the run, as the store counted them
        // (per model, which the runner's totals are not), say INITIAL when the run had no lastSyncDate, and each
        // delivery attempt is kept with its run for the dashboard.
        sql: `
            ALTER TABLE sync_runs ADD COLUMN initial boolean;
            CREATE TABLE run_record_changes (
                execution_id text NOT NULL,
                model text NOT NULL,
                added integer NOT NULL DEFAULT 0,
                updated integer NOT NULL DEFAULT 0,
                deleted integer NOT NULL DEFAULT 0,
                PRIMARY KEY (execution_id, model)
            );
            CREATE TABLE webhook_attempts (
                id bigserial PRIMARY KEY,
                run_id integer NOT NULL REFERENCES sync_runs (id),
                url text NOT NULL,
                model text NOT NULL,
                success boolean NOT NULL,
                attempt integer NOT NULL,
                status integer,
                error text,
                duration_ms integer NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX webhook_attempts_run ON webhook_attempts (run_id, id);
        `
    },
    {
        version: 7,
        name: 'run_started_by',
        // What started each run (its schedule, a trigger, Run now, npm run sync), for the dashboard. Runs recorded
        // before this keep NULL: nobody wrote down what started them.
        sql: `
            ALTER TABLE sync_runs ADD COLUMN started_by text;
        `
    },
    {
        version: 8,
        name: 'records_by_time',
        // The dashboard lists calls newest first by the call's own time, a page at a time: this index lets a page
        // read its 25 rows instead of every record's payload. The sync writes that time as toISOString(), so in
        // the C collation text order is time order; a record without one (a pruned payload) sorts last.
        sql: `
            CREATE INDEX records_by_time ON records (connection_id, model, (COALESCE(data->>'time', '') COLLATE "C") DESC, id DESC);
        `
    },
    {
        version: 9,
        name: 'records_uncompressed',
        // A call's payload is tens of KB, which Postgres compresses by default: in PGlite's WebAssembly that took
        // ~40% of the store's time to save a part of 25 calls, for disk a laptop has. Rows written before keep
        // their compressed copy until they are written again.
        sql: `
            ALTER TABLE records ALTER COLUMN data SET STORAGE EXTERNAL;
        `
    }
];

export async function migrate(db: PGlite): Promise<void> {
    await db.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
    );
    const applied = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(applied.rows.map((r) => r.version));
    for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) {
            continue;
        }
        await db.transaction(async (tx) => {
            await tx.exec(migration.sql);
            await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        });
    }
}
