import type { PGlite } from '@electric-sql/pglite';

/** The connections (an integration's credentials for one end customer) and their metadata. */

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

export interface ConnectionsStore {
    upsertConnection(input: ConnectionInput): Promise<StoredConnection>;
    getConnection(connectionId: string, providerConfigKey: string): Promise<StoredConnection | undefined>;
    getMetadata(connectionId: string, providerConfigKey: string): Promise<Record<string, unknown>>;
    /** Replaces the metadata. */
    setMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    /** Shallow-merges into the metadata, as Nango's PATCH /connections/metadata does. */
    updateMetadata(connectionId: string, providerConfigKey: string, metadata: Record<string, unknown>): Promise<void>;
    countConnections(providerConfigKey: string): Promise<number>;
    /** The connection ids of an integration, oldest first: whom a deployed sync runs for. */
    listConnectionIds(providerConfigKey: string): Promise<string[]>;
}

export class UnknownConnectionError extends Error {
    constructor(connectionId: string, providerConfigKey: string) {
        super(`unknown connection ${connectionId} (${providerConfigKey})`);
        this.name = 'UnknownConnectionError';
    }
}

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

export function createConnectionsStore(db: PGlite): ConnectionsStore {
    const connections: ConnectionsStore = {
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
            const connection = await connections.getConnection(connectionId, providerConfigKey);
            if (!connection) {
                throw new UnknownConnectionError(connectionId, providerConfigKey);
            }
            return connection.metadata ?? {};
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

        async countConnections(providerConfigKey) {
            const res = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM connections WHERE provider_config_key = $1`, [
                providerConfigKey
            ]);
            return res.rows[0]?.count ?? 0;
        },

        async listConnectionIds(providerConfigKey) {
            const res = await db.query<{ connection_id: string }>(
                `SELECT connection_id FROM connections WHERE provider_config_key = $1 ORDER BY created_at, id`,
                [providerConfigKey]
            );
            return res.rows.map((row) => row.connection_id);
        }
    };
    return connections;
}
