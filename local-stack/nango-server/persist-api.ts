import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

import { checkpointValueSchema } from './checkpoints.js';
import { sendError, zodErrorToHttp } from './http-errors.js';
import { PROVIDER } from './proxy.js';
import type { LocalStore } from './database.js';
import { RUN_TRIGGERS, SyncAlreadyRunningError } from './runs.js';
import { recordsScope } from './wire.js';

/**
 * The local counterpart of Nango's persist service: what a runner in another process writes through
 * (records, deletes, run bookkeeping, logs), so that the store has one owner, the server. Reads go
 * through the public records and connection APIs, as they do on Nango.
 */

export interface PersistApiOptions {
    store: LocalStore;
    /** Where the server's proxy forwards; a runner checks it matches the Clari it meant to sync. */
    clariBaseUrl: string;
}

/** A page of 100 calls with long transcripts runs to several MB; Clari caps one call near 6 MB. */
const RECORDS_BODY_LIMIT = 256 * 1024 * 1024;

const name = z.string().min(1).max(255);
const runIdParams = z.object({ runId: z.coerce.number().int().positive() });
const startRunBody = z.strictObject({
    connectionId: name,
    syncName: name,
    runner: z.strictObject({ pid: z.number().int().positive(), startTime: z.string().max(40).optional() }),
    trigger: z.enum(RUN_TRIGGERS).optional()
});
const checkpointOrNull = checkpointValueSchema.nullable();
const finishRunBody = z.strictObject({
    status: z.enum(['success', 'failed']),
    summary: z.string().max(1_000_000).optional(),
    interrupted: z.boolean().optional(),
    checkpoints: z.strictObject({ from: checkpointOrNull, to: checkpointOrNull }).optional(),
    initial: z.boolean().optional()
});
const logsBody = z.strictObject({
    lines: z.array(z.strictObject({ level: z.string().min(1).max(20), message: z.string(), createdAt: z.iso.datetime() })).max(10_000)
});
const scope = recordsScope;
const deleteBody = z.strictObject({ ...scope, ids: z.array(z.union([z.string().min(1), z.number()])).max(10_000) });
const deletePreviousBody = z.strictObject(scope);
const connectionParams = z.object({ connectionId: name });
const connectionBody = z.strictObject({ providerConfigKey: name, apiKey: z.string().min(1), apiPassword: z.string().min(1) });

function invalid(reply: FastifyReply, error: z.ZodError, where: 'invalid_body' | 'invalid_uri_params'): FastifyReply {
    return sendError(reply, 400, where, { errors: zodErrorToHttp(error) });
}

export function registerPersistApi(app: FastifyInstance, options: PersistApiOptions): void {
    const { store } = options;

    app.get('/persist/info', async (_request, reply) => reply.send({ storeDir: store.dir, clariBaseUrl: options.clariBaseUrl }));

    app.put('/persist/connections/:connectionId', async (request, reply) => {
        const params = connectionParams.safeParse(request.params);
        if (!params.success) {
            return invalid(reply, params.error, 'invalid_uri_params');
        }
        const body = connectionBody.safeParse(request.body);
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        await store.connections.upsertConnection({ connectionId: params.data.connectionId, provider: PROVIDER, ...body.data });
        return reply.code(204).send();
    });

    app.post('/persist/runs', async (request, reply) => {
        const body = startRunBody.safeParse(request.body);
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        try {
            const { connectionId, syncName, runner, trigger } = body.data;
            return await reply.code(201).send(await store.runs.startRun(connectionId, syncName, runner, trigger));
        } catch (error) {
            if (error instanceof SyncAlreadyRunningError) {
                return sendError(reply, 409, 'sync_already_running', { message: error.message });
            }
            throw error;
        }
    });

    app.post('/persist/runs/:runId/heartbeat', async (request, reply) => {
        const params = runIdParams.safeParse(request.params);
        if (!params.success) {
            return invalid(reply, params.error, 'invalid_uri_params');
        }
        return reply.send({ alive: await store.runs.heartbeatRun(params.data.runId) });
    });

    app.post('/persist/runs/:runId/finish', async (request, reply) => {
        const params = runIdParams.safeParse(request.params);
        const body = finishRunBody.safeParse(request.body);
        if (!params.success) {
            return invalid(reply, params.error, 'invalid_uri_params');
        }
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        try {
            const { status, summary, ...outcome } = body.data;
            await store.runs.finishRun(params.data.runId, status, summary, outcome);
        } catch (error) {
            return sendError(reply, 409, 'run_not_running', { message: error instanceof Error ? error.message : String(error) });
        }
        return reply.code(204).send();
    });

    app.post('/persist/runs/:runId/logs', async (request, reply) => {
        const params = runIdParams.safeParse(request.params);
        const body = logsBody.safeParse(request.body);
        if (!params.success) {
            return invalid(reply, params.error, 'invalid_uri_params');
        }
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        await store.runs.appendRunLogs(
            params.data.runId,
            body.data.lines.map((line) => ({ ...line, createdAt: new Date(line.createdAt) }))
        );
        return reply.code(204).send();
    });

    // The save body stays bytes here: the store decodes, parses and checks it where it runs (wire.ts).
    void app.register((scoped, _options, done) => {
        scoped.removeContentTypeParser('application/json');
        scoped.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: RECORDS_BODY_LIMIT }, (_request, body, parsed) => {
            parsed(null, body);
        });
        scoped.post('/persist/records/save', { bodyLimit: RECORDS_BODY_LIMIT }, async (request, reply) => {
            if (!(request.body instanceof Uint8Array)) {
                return sendError(reply, 400, 'invalid_body', { message: 'the body must be JSON (content-type: application/json)' });
            }
            const outcome = await store.wire.saveRecordsBody(request.body);
            if (!outcome.ok) {
                return sendError(reply, 400, 'invalid_body', {
                    ...(outcome.message === undefined ? {} : { message: outcome.message }),
                    ...(outcome.errors === undefined ? {} : { errors: outcome.errors })
                });
            }
            return reply.send(outcome.summary);
        });
        done();
    });

    app.post('/persist/records/delete', async (request, reply) => {
        const body = deleteBody.safeParse(request.body);
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        const { connectionId, model, executionId, ids } = body.data;
        return reply.send(await store.records.deleteRecords(connectionId, model, ids, executionId));
    });

    app.post('/persist/records/delete-previous', async (request, reply) => {
        const body = deletePreviousBody.safeParse(request.body);
        if (!body.success) {
            return invalid(reply, body.error, 'invalid_body');
        }
        const { connectionId, model, executionId } = body.data;
        return reply.send(await store.records.deleteRecordsFromPreviousExecutions(connectionId, model, executionId));
    });
}
