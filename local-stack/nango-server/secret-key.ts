import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import { sendError } from './http-errors.js';

function digest(value: string): Buffer {
    return createHash('sha256').update(value).digest();
}

/**
 * Nango's bearer check on every request but the public ones: `Authorization: Bearer <secret key>`, with Nango's
 * 401 codes for a missing header, a malformed one and a wrong key.
 */
export function requireSecretKey(app: FastifyInstance, secretKey: string, isPublic: (request: FastifyRequest) => boolean): void {
    const expectedKey = digest(secretKey);
    app.addHook('onRequest', async (request, reply) => {
        if (isPublic(request)) {
            return undefined;
        }
        const header = request.headers.authorization;
        if (header === undefined) {
            return sendError(reply, 401, 'missing_auth_header', {
                message: 'Authentication failed. The request is missing the Authorization header.'
            });
        }
        const match = /^Bearer (.+)$/.exec(header);
        if (!match?.[1]) {
            return sendError(reply, 401, 'malformed_auth_header', {
                message: 'Authentication failed. The provided Authorization header is malformed.'
            });
        }
        // Compare digests so neither the length nor the content of the key leaks through timing.
        if (!timingSafeEqual(digest(match[1]), expectedKey)) {
            return sendError(reply, 401, 'unknown_account', { message: 'Authentication failed. The provided secret key is invalid.' });
        }
        return undefined;
    });
}
