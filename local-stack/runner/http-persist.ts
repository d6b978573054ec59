import { z } from 'zod';

import {
    buildUrl,
    createAgents,
    errorCode,
    ProxyNetworkError,
    send,
    type ClariProxy,
    type HttpMethod,
    type ProxyRequest,
    type ProxyResponse,
    type SendResult
} from '../nango-server/proxy.js';
import type { ListRecordsResult, NangoRecord, SaveSummary } from '../nango-server/records.js';
import type { StartedRun } from '../nango-server/runs.js';
import { CheckpointConflictError, checkpointValueSchema, LOCAL_ENVIRONMENT } from '../nango-server/checkpoints.js';
import type { CheckpointRef, Persist } from './persist.js';

/**
 * A runner's view of a local Nango running in another process: its persist API for writes and run
 * bookkeeping, its records and connection APIs for reads, and its proxy for Clari, so this process
 * never opens the store and never needs the Clari credentials.
 */

export interface LocalNangoEndpoint {
    url: string;
    secretKey: string;
    providerConfigKey: string;
}

const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });
const startedRunSchema = z.object({
    runId: z.number(),
    executionId: z.string(),
    startedAt: z.coerce.date(),
    lastSyncDate: z.coerce.date().nullish()
});
const saveSummarySchema = z.object({
    added: z.array(z.string()),
    updated: z.array(z.string()),
    unchanged: z.array(z.string()),
    undeleted: z.array(z.string())
});
const deletedSchema = z.object({ deletedKeys: z.array(z.string()) });
const recordsPageSchema = z.object({ records: z.array(z.looseObject({})), next_cursor: z.string().nullable() });
const connectionSchema = z.looseObject({ metadata: z.record(z.string(), z.unknown()).nullish() });
const infoSchema = z.object({ storeDir: z.string(), clariBaseUrl: z.string() });
const nangoConnectionSchema = z.looseObject({ id: z.number().int().positive() });
const storedCheckpointSchema = z.object({
    checkpoint: checkpointValueSchema,
    version: z.number().int(),
    deletedAt: z.iso.datetime().nullable()
});
const savedCheckpointSchema = z.object({ checkpoint: checkpointValueSchema, version: z.number().int() });

export type LocalNangoInfo = z.infer<typeof infoSchema>;

/** The local Nango answered, but not with what was asked for; the message is the server's own. */
export class LocalNangoRequestError extends Error {
    override name = 'LocalNangoRequestError';
    constructor(
        readonly status: number,
        readonly code: string,
        message: string
    ) {
        super(message);
    }
}

/**
 * node:http rather than fetch: at `--speed 10` a sync sends ~100 requests a second through the local Nango, on the
 * same CPUs, and fetch spent about four times the CPU per request (0.44 ms against 0.11 for a 30 KB answer, in a
 * microbenchmark on this kind of machine). Idle sockets for up to this long, as fetch's default allowed.
 */
const LOCAL_NANGO_IDLE_TIMEOUT_MS = 300_000;
const agents = createAgents();

function sendToLocalNango(
    endpoint: Pick<LocalNangoEndpoint, 'url'>,
    route: string,
    request: { method: HttpMethod; headers: Record<string, string>; body?: Buffer | undefined; timeoutMs?: number }
): Promise<SendResult> {
    return send(
        new URL(`${endpoint.url}${route}`),
        request.method,
        request.headers,
        request.body,
        agents,
        request.timeoutMs ?? LOCAL_NANGO_IDLE_TIMEOUT_MS
    );
}

function isSuccess(response: SendResult): boolean {
    return response.status >= 200 && response.status <= 299;
}

async function call(endpoint: LocalNangoEndpoint, method: HttpMethod, route: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await sendToLocalNango(endpoint, route, {
        method,
        headers: {
            authorization: `Bearer ${endpoint.secretKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers
        },
        body: body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    });
    const text = response.body.toString('utf8');
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!isSuccess(response)) {
        const error = errorBodySchema.safeParse(parsed);
        const code = error.success ? error.data.error.code : 'unknown_error';
        const message =
            (error.success ? error.data.error.message : undefined) ?? `${method} ${route} answered ${response.status} (${code})`;
        throw new LocalNangoRequestError(response.status, code, message);
    }
    return parsed;
}

/** What the local Nango listening at `url` serves, or null when nothing answers there. */
export async function probeLocalNango(endpoint: Pick<LocalNangoEndpoint, 'url' | 'secretKey'>): Promise<LocalNangoInfo | null> {
    let response: SendResult;
    try {
        response = await sendToLocalNango(endpoint, '/persist/info', {
            method: 'GET',
            headers: { authorization: `Bearer ${endpoint.secretKey}` },
            timeoutMs: 5_000
        });
    } catch {
        return null;
    }
    if (response.status === 401) {
        throw new LocalNangoRequestError(401, 'unknown_account', `the local Nango at ${endpoint.url} rejects NANGO_SECRET_KEY_DEV`);
    }
    const info = infoSchema.safeParse(isSuccess(response) ? safeJson(response.body) : null);
    if (!info.success) {
        throw new LocalNangoRequestError(
            response.status,
            'not_local_nango',
            `something else answers at ${endpoint.url} (no local Nango there); stop it or change NANGO_LOCAL_PORT`
        );
    }
    return info.data;
}

export function createHttpPersist(endpoint: LocalNangoEndpoint): Persist {
    const connectionHeaders = (connectionId: string): Record<string, string> => ({
        'connection-id': connectionId,
        'provider-config-key': endpoint.providerConfigKey
    });
    const connectionRoute = (connectionId: string, providerConfigKey: string): string =>
        `/connection/${encodeURIComponent(connectionId)}?provider_config_key=${encodeURIComponent(providerConfigKey)}`;
    // Nango's persist addresses checkpoints by the connection's numeric id, which does not change: ask once.
    const nangoIds = new Map<string, Promise<number>>();
    const checkpointRoute = async (ref: CheckpointRef): Promise<string> => {
        const cacheKey = JSON.stringify([ref.connectionId, ref.providerConfigKey]);
        let id = nangoIds.get(cacheKey);
        if (!id) {
            id = call(endpoint, 'GET', connectionRoute(ref.connectionId, ref.providerConfigKey)).then(
                (body) => nangoConnectionSchema.parse(body).id
            );
            nangoIds.set(cacheKey, id);
            id.catch(() => nangoIds.delete(cacheKey));
        }
        return `/environment/${LOCAL_ENVIRONMENT}/connection/${await id}/checkpoint`;
    };
    const conflictOf = (error: unknown, ref: CheckpointRef, expectedVersion: number): unknown =>
        error instanceof LocalNangoRequestError && error.code === 'checkpoint_conflict'
            ? new CheckpointConflictError(ref.key, expectedVersion, undefined, error.message)
            : error;
    return {
        async getCheckpoint(ref) {
            try {
                const stored = storedCheckpointSchema.parse(
                    await call(endpoint, 'GET', `${await checkpointRoute(ref)}?key=${encodeURIComponent(ref.key)}`)
                );
                return { ...stored, deletedAt: stored.deletedAt === null ? null : new Date(stored.deletedAt) };
            } catch (error) {
                if (error instanceof LocalNangoRequestError && error.code === 'checkpoint_not_found') {
                    return undefined;
                }
                throw error;
            }
        },
        async putCheckpoint(ref, checkpoint, expectedVersion) {
            const route = await checkpointRoute(ref);
            try {
                return savedCheckpointSchema.parse(await call(endpoint, 'PUT', route, { key: ref.key, checkpoint, expectedVersion }));
            } catch (error) {
                throw conflictOf(error, ref, expectedVersion);
            }
        },
        async deleteCheckpoint(ref, expectedVersion) {
            const route = await checkpointRoute(ref);
            try {
                await call(endpoint, 'DELETE', route, { key: ref.key, expectedVersion });
                return true;
            } catch (error) {
                if (error instanceof LocalNangoRequestError && error.code === 'checkpoint_not_found') {
                    return false;
                }
                throw conflictOf(error, ref, expectedVersion);
            }
        },
        async startRun(connectionId, syncName, runner, trigger): Promise<StartedRun> {
            const run = startedRunSchema.parse(await call(endpoint, 'POST', '/persist/runs', { connectionId, syncName, runner, trigger }));
            return { ...run, lastSyncDate: run.lastSyncDate ?? undefined };
        },
        async heartbeatRun(runId) {
            return z.object({ alive: z.boolean() }).parse(await call(endpoint, 'POST', `/persist/runs/${runId}/heartbeat`, {})).alive;
        },
        async finishRun(runId, status, summary, outcome = {}) {
            await call(endpoint, 'POST', `/persist/runs/${runId}/finish`, {
                status,
                ...(summary === undefined ? {} : { summary }),
                ...(outcome.interrupted === undefined ? {} : { interrupted: outcome.interrupted }),
                ...(outcome.checkpoints === undefined ? {} : { checkpoints: outcome.checkpoints }),
                ...(outcome.initial === undefined ? {} : { initial: outcome.initial })
            });
        },
        async appendRunLogs(runId, lines) {
            if (lines.length > 0) {
                const body = { lines: lines.map((line) => ({ ...line, createdAt: line.createdAt.toISOString() })) };
                await call(endpoint, 'POST', `/persist/runs/${runId}/logs`, body);
            }
        },
        async saveRecords(connectionId, model, records, executionId): Promise<SaveSummary> {
            return saveSummarySchema.parse(
                await call(endpoint, 'POST', '/persist/records/save', { connectionId, model, executionId, records })
            );
        },
        async deleteRecords(connectionId, model, ids, executionId) {
            return deletedSchema.parse(await call(endpoint, 'POST', '/persist/records/delete', { connectionId, model, executionId, ids }));
        },
        async deleteRecordsFromPreviousExecutions(connectionId, model, executionId) {
            return deletedSchema.parse(
                await call(endpoint, 'POST', '/persist/records/delete-previous', { connectionId, model, executionId })
            );
        },
        async listRecords(query): Promise<ListRecordsResult> {
            const params = new URLSearchParams({ model: query.model });
            if (query.cursor !== undefined) params.set('cursor', query.cursor);
            if (query.limit !== undefined) params.set('limit', String(query.limit));
            if (query.modifiedAfter !== undefined) {
                params.set('modified_after', query.modifiedAfter instanceof Date ? query.modifiedAfter.toISOString() : query.modifiedAfter);
            }
            if (query.filter !== undefined && query.filter.length > 0) params.set('filter', query.filter.join(','));
            query.ids?.forEach((id) => {
                params.append('ids', id);
            });
            const page = recordsPageSchema.parse(
                await call(endpoint, 'GET', `/records?${params.toString()}`, undefined, connectionHeaders(query.connectionId))
            );
            // The records API is the store's listRecords over HTTP: its records keep the store's shape.
            return { records: page.records as NangoRecord[], next_cursor: page.next_cursor };
        },
        async getMetadata(connectionId, providerConfigKey) {
            return connectionSchema.parse(await call(endpoint, 'GET', connectionRoute(connectionId, providerConfigKey))).metadata ?? {};
        }
    };
}

/** Registers (or updates) the connection's Clari credentials on the local Nango, as creating a Nango connection does. */
export async function registerRemoteConnection(
    endpoint: LocalNangoEndpoint,
    connectionId: string,
    credentials: { apiKey: string; apiPassword: string }
): Promise<void> {
    await call(endpoint, 'PUT', `/persist/connections/${encodeURIComponent(connectionId)}`, {
        providerConfigKey: endpoint.providerConfigKey,
        apiKey: credentials.apiKey,
        apiPassword: credentials.apiPassword
    });
}

/**
 * Clari through the local Nango's `/proxy`, as a sync's requests go through Nango's proxy: the server
 * adds the connection's credentials. Each call is one attempt as the runner sees it; retries asked of
 * the server (the `Retries` header) happen there.
 */
export function createServerProxy(endpoint: LocalNangoEndpoint, connectionId: string, clariBaseUrl: string): ClariProxy {
    return {
        baseUrl: clariBaseUrl,
        close: () => undefined,
        async request(req: ProxyRequest): Promise<ProxyResponse> {
            const method = (req.method ?? 'GET').toUpperCase() as HttpMethod;
            const target = buildUrl(`${endpoint.url}/proxy`, req.endpoint, req.params);
            const headers: Record<string, string> = {
                authorization: `Bearer ${endpoint.secretKey}`,
                'connection-id': connectionId,
                'provider-config-key': endpoint.providerConfigKey,
                retries: String(req.retries ?? 0)
            };
            if (req.retryOn && req.retryOn.length > 0) headers['retry-on'] = req.retryOn.join(',');
            if (req.baseUrlOverride) headers['base-url-override'] = req.baseUrlOverride;
            for (const [name, value] of Object.entries(req.headers ?? {})) {
                headers[`nango-proxy-${name.toLowerCase()}`] = value;
            }
            let body: Buffer | undefined;
            if (req.data !== undefined && req.data !== null) {
                body = Buffer.isBuffer(req.data)
                    ? req.data
                    : Buffer.from(typeof req.data === 'string' ? req.data : JSON.stringify(req.data));
                headers['content-type'] ??= 'application/json';
            }
            const started = performance.now();
            let response: SendResult;
            try {
                response = await send(target, method, headers, body, agents, LOCAL_NANGO_IDLE_TIMEOUT_MS);
            } catch (error) {
                const code = errorCode(error);
                req.onAttempt?.({
                    attempt: 0,
                    method,
                    endpoint: req.endpoint,
                    errorCode: code,
                    durationMs: performance.now() - started,
                    willRetry: false,
                    waitMs: 0
                });
                throw new ProxyNetworkError(code, `the local Nango at ${endpoint.url} did not answer: ${code}`, 1);
            }
            const responseBody = response.body;
            const durationMs = performance.now() - started;
            if (
                response.status === 502 &&
                errorBodySchema.safeParse(safeJson(responseBody)).data?.error.code === 'upstream_network_error'
            ) {
                req.onAttempt?.({
                    attempt: 0,
                    method,
                    endpoint: req.endpoint,
                    errorCode: 'EUPSTREAM',
                    durationMs,
                    willRetry: false,
                    waitMs: 0
                });
                throw new ProxyNetworkError(
                    'EUPSTREAM',
                    `Clari did not answer the local Nango's proxy: ${responseBody.toString('utf8')}`,
                    1
                );
            }
            req.onAttempt?.({
                attempt: 0,
                method,
                endpoint: req.endpoint,
                status: response.status,
                durationMs,
                willRetry: false,
                waitMs: 0
            });
            return { status: response.status, headers: response.headers, body: responseBody, attempts: 1 };
        }
    };
}

function safeJson(body: Buffer): unknown {
    try {
        return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
        return undefined;
    }
}
