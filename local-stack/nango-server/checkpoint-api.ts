import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

import {
    CHECKPOINT_MAX_KEY,
    CheckpointConflictError,
    checkpointValueSchema,
    LOCAL_ENVIRONMENT,
    UnknownNangoConnectionError,
    type CheckpointsStore
} from './checkpoints.js';
import { sendError, zodErrorToHttp } from './http-errors.js';

/**
 * Nango's persist routes for checkpoints, which a runner in another process calls:
 * `GET ?key=`, `PUT { key, checkpoint, expectedVersion }` and `DELETE { key, expectedVersion }` at
 * `/environment/:environment/connection/:connectionId/checkpoint`, `:connectionId` being the connection's
 * numeric id (Nango's nangoConnectionId), as GET /connection/:id answers it.
 */

const paramsSchema = z.object({
    environment: z.string().min(1).max(255),
    connectionId: z.coerce.number().int().positive().max(2_147_483_647)
});
const keySchema = z.string().min(1).max(CHECKPOINT_MAX_KEY);
const versionSchema = z.number().int().min(1).max(2_147_483_646);
const getQuerySchema = z.strictObject({ key: keySchema });
const putBodySchema = z.strictObject({ key: keySchema, checkpoint: checkpointValueSchema, expectedVersion: versionSchema });
const deleteBodySchema = z.strictObject({ key: keySchema, expectedVersion: versionSchema });

const ROUTE = '/environment/:environment/connection/:connectionId/checkpoint';

function conflict(reply: FastifyReply, error: CheckpointConflictError): FastifyReply {
    return sendError(reply, 409, 'checkpoint_conflict', { message: error.message });
}

export function registerCheckpointApi(app: FastifyInstance, options: { checkpoints: CheckpointsStore }): void {
    const { checkpoints } = options;

    /** The numeric connection id, or undefined once the 400 or 404 is sent. */
    const connectionOf = (params: unknown, reply: FastifyReply): number | undefined => {
        const parsed = paramsSchema.safeParse(params);
        if (!parsed.success) {
            void sendError(reply, 400, 'invalid_uri_params', { errors: zodErrorToHttp(parsed.error) });
            return undefined;
        }
        if (parsed.data.environment !== LOCAL_ENVIRONMENT) {
            void sendError(reply, 404, 'unknown_environment', {
                message: `the local Nango has one environment, ${LOCAL_ENVIRONMENT}, not ${parsed.data.environment}`
            });
            return undefined;
        }
        return parsed.data.connectionId;
    };

    app.get(ROUTE, async (request, reply) => {
        const connectionId = connectionOf(request.params, reply);
        if (connectionId === undefined) {
            return reply;
        }
        const query = getQuerySchema.safeParse(request.query);
        if (!query.success) {
            return sendError(reply, 400, 'invalid_query_params', { errors: zodErrorToHttp(query.error) });
        }
        const stored = await checkpoints.getCheckpoint(connectionId, query.data.key);
        if (!stored) {
            return sendError(reply, 404, 'checkpoint_not_found', {
                message: `no checkpoint ${query.data.key} for connection ${connectionId}`
            });
        }
        return reply.send({ checkpoint: stored.checkpoint, version: stored.version, deletedAt: stored.deletedAt?.toISOString() ?? null });
    });

    app.put(ROUTE, async (request, reply) => {
        const connectionId = connectionOf(request.params, reply);
        if (connectionId === undefined) {
            return reply;
        }
        const body = putBodySchema.safeParse(request.body);
        if (!body.success) {
            return sendError(reply, 400, 'invalid_body', { errors: zodErrorToHttp(body.error) });
        }
        try {
            return await reply.send(
                await checkpoints.putCheckpoint(connectionId, body.data.key, body.data.checkpoint, body.data.expectedVersion)
            );
        } catch (error) {
            if (error instanceof CheckpointConflictError) {
                return conflict(reply, error);
            }
            if (error instanceof UnknownNangoConnectionError) {
                return sendError(reply, 404, 'unknown_connection', { message: error.message });
            }
            throw error;
        }
    });

    app.delete(ROUTE, async (request, reply) => {
        const connectionId = connectionOf(request.params, reply);
        if (connectionId === undefined) {
            return reply;
        }
        const body = deleteBodySchema.safeParse(request.body);
        if (!body.success) {
            return sendError(reply, 400, 'invalid_body', { errors: zodErrorToHttp(body.error) });
        }
        try {
            if (!(await checkpoints.deleteCheckpoint(connectionId, body.data.key, body.data.expectedVersion))) {
                return await sendError(reply, 404, 'checkpoint_not_found', {
                    message: `no checkpoint ${body.data.key} for connection ${connectionId}`
                });
            }
        } catch (error) {
            if (error instanceof CheckpointConflictError) {
                return conflict(reply, error);
            }
            throw error;
        }
        return reply.code(204).send();
    });
}
