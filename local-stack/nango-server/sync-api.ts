import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { rejectQuery, sendError, zodErrorToHttp } from './http-errors.js';
import { UnknownSyncError, type SyncScheduler } from './scheduler.js';
import type { LocalStore } from './database.js';

/** `POST /sync/trigger` and `GET /sync/status`, with Nango's shapes, as `@nangohq/node` calls them. */

const syncName = z.union([
    z.string().min(1).max(255),
    z.object({ name: z.string().min(1).max(255), variant: z.string().min(1).max(255) }).strict()
]);

const triggerBodySchema = z.strictObject({
    syncs: z.array(syncName).max(100),
    provider_config_key: z.string().min(1).max(255).optional(),
    connection_id: z.string().min(1).max(255).optional(),
    sync_mode: z.enum(['incremental', 'full_refresh', 'full_refresh_and_clear_cache']).optional(),
    full_resync: z.boolean().optional(),
    // What @nangohq/node 0.71 sends instead of sync_mode (and nothing at all for a plain incremental trigger).
    opts: z.strictObject({ reset: z.boolean().optional(), emptyCache: z.boolean().optional() }).optional()
});

const triggerHeadersSchema = z.object({
    'provider-config-key': z.string().min(1).max(255).optional(),
    'connection-id': z.string().min(1).max(255).optional()
});

const statusQuerySchema = z.strictObject({
    syncs: z.string().min(1).max(10_000),
    provider_config_key: z.string().min(1).max(255),
    connection_id: z.string().min(1).max(255).optional()
});

export interface SyncApiOptions {
    store: LocalStore;
    /** Null when this server was started without a runner: it then runs no syncs. */
    scheduler: SyncScheduler | null;
}

/** Plain sync names; a variant other than `base` names a sync this local Nango cannot have. */
function syncNames(syncs: readonly z.infer<typeof syncName>[]): string[] {
    return syncs.map((sync) => (typeof sync === 'string' ? sync : sync.variant === 'base' ? sync.name : `${sync.name}::${sync.variant}`));
}

async function knownConnection(store: LocalStore, reply: FastifyReply, connectionId: string, providerConfigKey: string): Promise<boolean> {
    if (await store.connections.getConnection(connectionId, providerConfigKey)) {
        return true;
    }
    await sendError(reply, 400, 'unknown_connection', {
        message: `Connection ${connectionId} does not exist for ${providerConfigKey}`
    });
    return false;
}

/** As Nango reads a trigger: `opts` wins when present (reset is a full refresh, emptyCache deletes the records too). */
function triggerMode(body: z.infer<typeof triggerBodySchema>): 'incremental' | 'full_refresh' | 'full_refresh_and_clear_cache' {
    if (body.opts) {
        if (body.opts.emptyCache === true) {
            return 'full_refresh_and_clear_cache';
        }
        return body.opts.reset === true ? 'full_refresh' : 'incremental';
    }
    return body.sync_mode ?? (body.full_resync ? 'full_refresh' : 'incremental');
}

export function registerSyncApi(app: FastifyInstance, options: SyncApiOptions): void {
    const { store } = options;
    const needScheduler = (reply: FastifyReply): SyncScheduler | null => {
        if (!options.scheduler) {
            void sendError(reply, 501, 'no_runner', { message: 'this local Nango was started without a runner and runs no syncs' });
        }
        return options.scheduler;
    };

    app.post('/sync/trigger', async (request: FastifyRequest, reply: FastifyReply) => {
        const withQuery = rejectQuery(request, reply);
        if (withQuery) {
            return withQuery;
        }
        const body = triggerBodySchema.safeParse(request.body);
        if (!body.success) {
            return sendError(reply, 400, 'invalid_body', { errors: zodErrorToHttp(body.error) });
        }
        const headers = triggerHeadersSchema.safeParse(request.headers);
        if (!headers.success) {
            return sendError(reply, 400, 'invalid_headers', { errors: zodErrorToHttp(headers.error) });
        }
        const providerConfigKey = body.data.provider_config_key ?? headers.data['provider-config-key'];
        if (providerConfigKey === undefined) {
            return sendError(reply, 400, 'missing_provider_config_key', {
                message: 'Missing provider_config_key. Provide it in the body or headers.'
            });
        }
        const mode = triggerMode(body.data);
        if (mode === 'full_refresh_and_clear_cache') {
            return sendError(reply, 400, 'invalid_body', {
                message:
                    'emptying the records (sync_mode full_refresh_and_clear_cache, opts.emptyCache) is not supported by the local Nango; use a full refresh'
            });
        }
        const connectionId = body.data.connection_id ?? headers.data['connection-id'];
        if (connectionId !== undefined && !(await knownConnection(store, reply, connectionId, providerConfigKey))) {
            return reply;
        }
        const scheduler = needScheduler(reply);
        if (!scheduler) {
            return reply;
        }
        try {
            await scheduler.trigger(providerConfigKey, syncNames(body.data.syncs), connectionId, mode, 'api');
        } catch (error) {
            if (error instanceof UnknownSyncError) {
                return sendError(reply, 400, 'unknown_sync', { message: error.message });
            }
            throw error;
        }
        return reply.send({ success: true });
    });

    app.get('/sync/status', async (request: FastifyRequest, reply: FastifyReply) => {
        const query = statusQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const { provider_config_key: providerConfigKey, connection_id: connectionId } = query.data;
        if (connectionId !== undefined && !(await knownConnection(store, reply, connectionId, providerConfigKey))) {
            return reply;
        }
        const scheduler = needScheduler(reply);
        if (!scheduler) {
            return reply;
        }
        const names = query.data.syncs === '*' ? [] : query.data.syncs.split(',').map((name) => name.trim());
        try {
            return await reply.send({ syncs: await scheduler.status(providerConfigKey, names, connectionId) });
        } catch (error) {
            if (error instanceof UnknownSyncError) {
                return sendError(reply, 400, 'unknown_sync', { message: error.message });
            }
            throw error;
        }
    });
}
