import type { FastifyReply } from 'fastify';
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
