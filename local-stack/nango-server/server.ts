import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';

import { PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import { startAutoPrune, type AutoPruneOptions } from './auto-prune.js';
import { registerCheckpointApi } from './checkpoint-api.js';
import { registerDeployApi } from './deploy-api.js';
import { listeningUrl } from './listening-url.js';
import { SyncScheduler, type RunJob, type SyncJob } from './scheduler.js';
import { registerSyncApi } from './sync-api.js';
import { sendError, zodErrorToHttp } from './http-errors.js';
import { jsonHasNul, NUL_MESSAGE, pgText } from './pg-input.js';
import { PROVIDER, clariProvider, defaultClariBaseUrl, type ProxyAttempt } from './proxy.js';
import { registerPersistApi } from './persist-api.js';
import { registerProxyRoute } from './proxy-route.js';
import { registerRecordsApi } from './records-api.js';
import { requireSecretKey } from './secret-key.js';
import { replyWithNangoErrors } from './server-log.js';
import { attachSyncWebhooks, type WebhookSettings } from './sync-webhooks.js';
import type { StoredConnection } from './connections.js';
import type { LocalStore } from './database.js';

export const DEFAULT_PROVIDER_CONFIG_KEY = PROVIDER_CONFIG_KEY;
export const DEFAULT_PORT = 3003;

/** What the server hands an add-on when it mounts it. */
export interface AddOnContext {
    store: LocalStore;
    /** Null when the server runs no syncs. */
    scheduler: SyncScheduler | null;
    providerConfigKey: string;
}

/**
 * Something an entry point mounts beside the API (the dashboard): the server knows only this shape, so the
 * API never depends on what is built on top of it.
 */
export interface ServerAddOn {
    /** Requests it serves without the API's bearer token (browsers cannot send one); it must guard them itself. */
    isPublicRequest(request: FastifyRequest): boolean;
    register(app: FastifyInstance, context: AddOnContext): void;
}

export interface NangoServerOptions {
    store: LocalStore;
    /** Clients must send `Authorization: Bearer <secretKey>` (NANGO_SECRET_KEY_DEV for the CLI). */
    secretKey: string;
    /** Where /proxy/* forwards; defaults to the provider's real base URL. */
    clariBaseUrl?: string | undefined;
    providerConfigKey?: string | undefined;
    /** First proxy retry wait, doubling per attempt (Nango: 3000). */
    proxyBaseDelayMs?: number | undefined;
    proxyTimeoutMs?: number | undefined;
    /** nango.yaml sync endpoint path => model, served as GET /v1<path>. */
    syncEndpoints?: Readonly<Record<string, string>> | undefined;
    logger?: boolean | undefined;
    /**
     * Runs one deployed sync for one connection. With it, the server schedules deployed syncs (their `runs`)
     * and serves POST /sync/trigger and GET /sync/status; without it, it runs no syncs.
     */
    runJob?: RunJob | undefined;
    onJobError?: ((job: SyncJob | null, error: unknown) => void) | undefined;
    onProxyAttempt?: ((attempt: ProxyAttempt & { connectionId: string }) => void) | undefined;
    addOns?: readonly ServerAddOn[] | undefined;
    /** Nango's sync webhooks after every run this store records; none when omitted or without a URL. */
    webhooks?: WebhookSettings | undefined;
}

export interface StartNangoServerOptions extends NangoServerOptions {
    port?: number | undefined;
    host?: string | undefined;
    /** Prune stale record payloads in the background, as Nango does; off when omitted. */
    autoPrune?: AutoPruneOptions | undefined;
}

export interface RunningNangoServer {
    url: string;
    close(): Promise<void>;
}

const connectionQuerySchema = z.strictObject({
    provider_config_key: pgText().min(1),
    force_refresh: z.enum(['true', 'false']).optional(),
    refresh_token: z.enum(['true', 'false']).optional(),
    refresh_github_app_jwt_token: z.enum(['true', 'false']).optional()
});

const integrationQuerySchema = z.strictObject({
    include: z.union([z.enum(['webhook', 'credentials']), z.array(z.enum(['webhook', 'credentials']))]).optional()
});

const connectionParamsSchema = z.object({ id: pgText().min(1) });

const metadataBodySchema = z.strictObject({
    connection_id: z.union([pgText().min(1), z.array(pgText().min(1)).min(1)]),
    provider_config_key: pgText().min(1),
    metadata: z.record(z.string(), z.unknown()).refine((value) => !jsonHasNul(value), { message: NUL_MESSAGE })
});

/** Connection as GET /connection(s)/:id returns it for an API_KEY provider. */
function connectionBody(connection: StoredConnection): Record<string, unknown> {
    return {
        id: connection.id,
        connection_id: connection.connectionId,
        provider_config_key: connection.providerConfigKey,
        provider: connection.provider,
        errors: [],
        end_user: null,
        metadata: connection.metadata,
        connection_config: { API_PASSWORD: connection.apiPassword },
        created_at: connection.createdAt.toISOString(),
        updated_at: connection.updatedAt.toISOString(),
        last_fetched_at: new Date().toISOString(),
        credentials: { type: 'API_KEY', apiKey: connection.apiKey }
    };
}

export function createNangoServer(options: NangoServerOptions): FastifyInstance {
    const { store } = options;
    const providerConfigKey = options.providerConfigKey ?? DEFAULT_PROVIDER_CONFIG_KEY;
    const createdAt = new Date().toISOString();
    const app = Fastify({ logger: options.logger ?? false });
    clariProvider();
    const addOns = options.addOns ?? [];

    requireSecretKey(app, options.secretKey, (request) => addOns.some((addOn) => addOn.isPublicRequest(request)));

    app.setNotFoundHandler((request, reply) =>
        sendError(reply, 404, 'not_found', { message: `No route ${request.method} ${request.url.split('?')[0] ?? ''}` })
    );
    replyWithNangoErrors(app, { storeDir: store.dir, secrets: [options.secretKey] });

    const getConnection = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
        const query = connectionQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const params = connectionParamsSchema.safeParse(request.params);
        if (!params.success) {
            return sendError(reply, 400, 'invalid_uri_params', { errors: zodErrorToHttp(params.error) });
        }
        const { id } = params.data;
        const connection = await store.connections.getConnection(id, query.data.provider_config_key);
        if (!connection) {
            return sendError(reply, 404, 'unknown_connection', {
                message: `Connection ${id} does not exist for ${query.data.provider_config_key}`
            });
        }
        return reply.send(connectionBody(connection));
    };
    // The CLI uses the legacy singular path, @nangohq/node (getConnection/getMetadata) the plural one.
    app.get('/connection/:id', getConnection);
    app.get('/connections/:id', getConnection);

    app.get('/integrations/:key', async (request, reply) => {
        const query = integrationQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const { key } = request.params as { key: string };
        if (key !== providerConfigKey) {
            return sendError(reply, 404, 'not_found', { message: `Integration ${key} does not exist` });
        }
        return reply.send({
            data: {
                unique_key: key,
                display_name: 'Clari Copilot',
                provider: PROVIDER,
                logo: '',
                created_at: createdAt,
                updated_at: createdAt,
                webhook_url: null
            }
        });
    });

    app.get('/environment-variables', async (_request, reply) => reply.send([]));

    const writeMetadata =
        (mode: 'set' | 'update') =>
        async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
            const body = metadataBodySchema.safeParse(request.body);
            if (!body.success) {
                return sendError(reply, 400, 'invalid_body', { errors: zodErrorToHttp(body.error) });
            }
            const { connection_id: ids, provider_config_key: key, metadata } = body.data;
            for (const id of Array.isArray(ids) ? ids : [ids]) {
                await (mode === 'set'
                    ? store.connections.setMetadata(id, key, metadata)
                    : store.connections.updateMetadata(id, key, metadata));
            }
            return reply.send({ connection_id: ids, provider_config_key: key, metadata });
        };
    app.post('/connections/metadata', writeMetadata('set'));
    app.patch('/connections/metadata', writeMetadata('update'));

    const clariBaseUrl = options.clariBaseUrl ?? defaultClariBaseUrl();
    registerRecordsApi(app, { store, syncEndpoints: options.syncEndpoints ?? { '/calls': 'Call' } });
    registerPersistApi(app, { store, clariBaseUrl });
    registerCheckpointApi(app, { checkpoints: store.checkpoints });
    registerDeployApi(app, { store, providerConfigKey });
    const scheduler = options.runJob ? new SyncScheduler({ store, runJob: options.runJob, onJobError: options.onJobError }) : null;
    if (scheduler) {
        app.addHook('onReady', (done) => {
            scheduler.start();
            done();
        });
        app.addHook('onClose', async () => {
            await scheduler.stop();
        });
    }
    if (options.webhooks && (options.webhooks.primaryUrl ?? options.webhooks.secondaryUrl) !== undefined) {
        const webhooks = attachSyncWebhooks(store, options.webhooks, (error) => {
            console.error(`sync webhooks: ${error instanceof Error ? error.message : String(error)}`);
        });
        app.addHook('onClose', async () => {
            // The last run finishes (stop waits for it, whichever hook runs first) and its webhooks go out before the store closes.
            await scheduler?.stop();
            webhooks.detach();
            await webhooks.settle();
        });
    }
    registerSyncApi(app, { store, scheduler });
    for (const addOn of addOns) {
        addOn.register(app, { store, scheduler, providerConfigKey });
    }
    registerProxyRoute(app, {
        store,
        clariBaseUrl,
        baseDelayMs: options.proxyBaseDelayMs,
        timeoutMs: options.proxyTimeoutMs,
        onProxyAttempt: options.onProxyAttempt
    });
    return app;
}

export async function startNangoServer(options: StartNangoServerOptions): Promise<RunningNangoServer> {
    const app = createNangoServer(options);
    const host = options.host ?? '127.0.0.1';
    await app.listen({ port: options.port ?? DEFAULT_PORT, host });
    const autoPrune = options.autoPrune ? startAutoPrune(options.store, options.autoPrune) : null;
    return {
        url: listeningUrl(app, host),
        close: async () => {
            await autoPrune?.stop();
            await app.close();
        }
    };
}
