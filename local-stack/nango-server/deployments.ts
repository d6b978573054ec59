import type { PGlite } from '@electric-sql/pglite';

import type { JsonObject } from './record-codec.js';

/** What `nango deploy` last sent: one row per script, the compiled JS the runner executes included. */

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

export interface DeploymentsStore {
    /**
     * Stores a deployment in one transaction: each flow replaces the one with the same (integration, type, name).
     * With `reconcile`, every stored flow the deployment does not list is removed too.
     */
    deployFlows(flows: readonly DeployFlowInput[], options: { reconcile: boolean }): Promise<DeployFlowsResult>;
    /** Every deployed flow, by integration, type and name. */
    listDeployedFlows(): Promise<DeployedFlow[]>;
    /** Without `type`, a sync wins over an action or on-event script of the same name. */
    getDeployedFlow(providerConfigKey: string, name: string, type?: DeployedFlowType): Promise<DeployedFlow | undefined>;
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

export function createDeploymentsStore(db: PGlite): DeploymentsStore {
    return {
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
        }
    };
}
