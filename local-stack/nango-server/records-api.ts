import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { rejectQuery, sendError, zodErrorToHttp } from './http-errors.js';
import { isPgTimestamp, pgText } from './pg-input.js';
import type { LocalStore } from './database.js';
import { InvalidCursorError, MAX_LIMIT } from './records.js';

const LOOKBACK_MS = 365 * 24 * 60 * 60 * 1000;

/** A day ago to the second, as a value the parameter accepts: an example that works when pasted. */
function aDayAgo(): string {
    return `${new Date(Date.now() - 86_400_000).toISOString().slice(0, 19)}Z`;
}

// Each check stops the next (abort): a word such as `yesterday` gets one error saying what is accepted, not also
// a misleading one about the 12 months.
const withinLookback = z.iso
    .datetime({
        offset: true,
        abort: true,
        error: () => `must be an ISO 8601 date and time with a UTC offset, such as ${aDayAgo()} (a day ago) or 2026-06-01T09:00:00+02:00`
    })
    .refine(isPgTimestamp, { message: 'must be a valid date and time with a UTC offset within ±15:59', abort: true })
    .refine((value) => Date.parse(value) >= Date.now() - LOOKBACK_MS, {
        error: () => `must be within the last 12 months, such as ${aDayAgo()}; leave it out to read every record`
    });

const externalId = pgText().min(1).max(256);

// The query parameters Nango's GET /records accepts (model aside); anything else is rejected.
const recordsParams = {
    variant: pgText().min(1).max(255).optional(),
    delta: withinLookback.optional(),
    modified_after: withinLookback.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional(),
    filter: z
        .string()
        .transform((value) => value.split(',').map((part) => part.trim().toLowerCase()))
        .pipe(z.array(z.enum(['added', 'updated', 'deleted'])).min(1))
        .optional(),
    cursor: z.string().min(1).max(1000).optional(),
    // A single `ids=x` arrives as a string, repeated ones as an array.
    ids: z
        .union([z.string(), z.array(z.string()).max(100)])
        .transform((value) => (Array.isArray(value) ? value : [value]))
        .pipe(z.array(externalId))
        .optional()
};

export const recordsQuerySchema = z.strictObject({ model: pgText().min(1).max(255), ...recordsParams });
const syncEndpointQuerySchema = z.strictObject(recordsParams);

const recordsHeadersSchema = z.object({
    'connection-id': z.string().min(1).max(255),
    'provider-config-key': z.string().min(1).max(255)
});

// PATCH /records/prune: Nango's strict body; `limit` defaults to 1000 records per call.
const pruneBodySchema = z.strictObject({
    model: z.string().min(1).max(255),
    variant: z.string().min(1).max(255).optional(),
    until_cursor: z.string().min(1).max(1000),
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional()
});

type RecordsParams = z.infer<typeof syncEndpointQuerySchema>;

function modelName(model: string, variant: string | undefined): string {
    return variant && variant !== 'base' ? `${model}::${variant}` : model;
}

/** The connection the `Connection-Id` and `Provider-Config-Key` headers name, or the 400 Nango sends instead. */
async function connectionFromHeaders(store: LocalStore, request: FastifyRequest, reply: FastifyReply): Promise<string | FastifyReply> {
    const headers = recordsHeadersSchema.safeParse(request.headers);
    if (!headers.success) {
        return sendError(reply, 400, 'invalid_headers', { errors: zodErrorToHttp(headers.error) });
    }
    const connectionId = headers.data['connection-id'];
    const connection = await store.connections.getConnection(connectionId, headers.data['provider-config-key']);
    if (!connection) {
        return sendError(reply, 400, 'unknown_connection', {
            message: 'Provided ConnectionId and ProviderConfigKey does not match a valid connection'
        });
    }
    return connectionId;
}

export interface RecordsApiOptions {
    store: LocalStore;
    /** Sync endpoint path (as declared in nango.yaml, without /v1) => model it serves. */
    syncEndpoints: Readonly<Record<string, string>>;
}

async function serveRecords(
    store: LocalStore,
    request: FastifyRequest,
    reply: FastifyReply,
    model: string,
    query: RecordsParams
): Promise<FastifyReply> {
    const connectionId = await connectionFromHeaders(store, request, reply);
    if (typeof connectionId !== 'string') {
        return connectionId;
    }
    try {
        const json = await store.wire.listRecordsJson({
            connectionId,
            model: modelName(model, query.variant),
            modifiedAfter: query.modified_after ?? query.delta,
            limit: query.limit,
            filter: query.filter,
            cursor: query.cursor,
            ids: query.ids
        });
        // A Buffer over the bytes the store thread sent, not a copy of them.
        return await reply.type('application/json; charset=utf-8').send(Buffer.from(json.buffer, json.byteOffset, json.byteLength));
    } catch (err) {
        if (err instanceof InvalidCursorError) {
            // Nango answers a garbled cursor with a 500; a 400 on the parameter is more useful to a client.
            return sendError(reply, 400, 'invalid_query_params', {
                errors: [{ code: 'invalid_cursor', message: err.message, path: ['cursor'] }]
            });
        }
        throw err;
    }
}

export function registerRecordsApi(app: FastifyInstance, options: RecordsApiOptions): void {
    const records = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
        const query = recordsQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const { model, ...rest } = query.data;
        return serveRecords(options.store, request, reply, model, rest);
    };
    app.get('/records', records);
    app.get('/records/', records);

    app.patch('/records/prune', async (request, reply) => {
        const withQuery = rejectQuery(request, reply);
        if (withQuery) {
            return withQuery;
        }
        const body = pruneBodySchema.safeParse(request.body);
        if (!body.success) {
            return sendError(reply, 400, 'invalid_body', { errors: zodErrorToHttp(body.error) });
        }
        const connectionId = await connectionFromHeaders(options.store, request, reply);
        if (typeof connectionId !== 'string') {
            return connectionId;
        }
        try {
            const result = await options.store.records.pruneRecords({
                connectionId,
                model: modelName(body.data.model, body.data.variant),
                untilCursor: body.data.until_cursor,
                limit: body.data.limit
            });
            return await reply.send(result);
        } catch (err) {
            if (err instanceof InvalidCursorError) {
                return sendError(reply, 400, 'invalid_body', {
                    errors: [{ code: 'invalid_cursor', message: err.message, path: ['until_cursor'] }]
                });
            }
            throw err;
        }
    });

    // nango.yaml declares the endpoint as GET /calls, so that is the path a newcomer tries first; Nango serves it
    // only under /v1, and a 404 that says so saves a search.
    for (const [path, model] of Object.entries(options.syncEndpoints)) {
        app.get(path, async (_request, reply) =>
            sendError(reply, 404, 'not_found', {
                message: `No route GET ${path}. As on Nango, the sync's endpoint GET ${path} (nango.yaml) is served at GET /v1${path}; GET /records?model=${model} serves the same records.`
            })
        );
    }

    // A sync's declared endpoint (GET /calls) is served by Nango as GET /v1/calls.
    app.get('/v1/*', async (request, reply) => {
        const path = request.url.slice('/v1'.length).split('?')[0] ?? '';
        const model = options.syncEndpoints[path];
        if (model === undefined) {
            return sendError(reply, 404, 'not_found', { message: `No sync endpoint GET ${path}` });
        }
        const query = syncEndpointQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        return serveRecords(options.store, request, reply, model, query.data);
    });
}
