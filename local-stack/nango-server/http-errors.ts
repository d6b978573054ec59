import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/** Nango's ValidationError item: `{ code, message, path }` per zod issue. */
export interface ValidationError {
    code: string;
    message: string;
    path: (string | number)[];
}

export function zodErrorToHttp(error: z.ZodError): ValidationError[] {
    return error.issues.map((issue) => ({
        code: issue.code,
        message: issue.message,
        path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    }));
}

/** Nango's error envelope: `{ error: { code, message?, errors? } }`. */
export function sendError(
    reply: FastifyReply,
    status: number,
    code: string,
    details: { message?: string; errors?: ValidationError[] } = {}
): FastifyReply {
    return reply.code(status).send({ error: { code, ...details } });
}

/** Nango's answer to a query string on an endpoint that takes none; undefined when there is none. */
export function rejectQuery(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (Object.keys(request.query as object).length === 0) {
        return undefined;
    }
    return sendError(reply, 400, 'invalid_query_params', {
        errors: [{ code: 'unrecognized_keys', message: 'this endpoint takes no query parameters', path: [] }]
    });
}
