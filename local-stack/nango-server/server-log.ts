import fs from 'node:fs';

import type { FastifyError, FastifyInstance } from 'fastify';

import { UnknownConnectionError } from './connections.js';
import { sendError } from './http-errors.js';

export interface ServerErrorContext {
    /** The store folder, to tell a store deleted under the running server from other failures. */
    storeDir: string;
    /** Values that must never reach the console (the server's secret key). */
    secrets: readonly string[];
}

interface RequestLine {
    method: string;
    url: string;
}

function summary(err: unknown): string {
    if (err instanceof Error) {
        return `${err.name}: ${err.message}`;
    }
    // PGlite's file system layer throws plain objects (ErrnoError with an errno and no message).
    const { name, errno } = (err ?? {}) as { name?: unknown; errno?: unknown };
    if (typeof name === 'string') {
        return typeof errno === 'number' ? `${name} ${errno}` : name;
    }
    return String(err);
}

function redact(text: string, secrets: readonly string[]): string {
    return secrets.filter((secret) => secret !== '').reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

/**
 * The console line for a request that failed with a 500. The query string is left out (a proxied call may carry
 * tokens in it), known secrets are masked, and the message is kept on one line so each failure is one log entry.
 */
export function describeServerError(request: RequestLine, err: unknown, context: ServerErrorContext): string {
    const path = request.url.split('?')[0] ?? '';
    let line = `nango-local: ${request.method} ${path} failed with a 500: ${summary(err)}`;
    if (!fs.existsSync(context.storeDir)) {
        line += ` (the store folder ${context.storeDir} was deleted while the server was running: stop the server and start it again)`;
    }
    return redact(line, context.secrets).replace(/\s*[\r\n]+\s*/g, ' | ');
}

export function logServerError(request: RequestLine, err: unknown, context: ServerErrorContext): void {
    console.error(describeServerError(request, err, context));
    // Same switch as the CLI's errors: a stack trace only when asked for.
    if (process.env['DEBUG'] && err instanceof Error && err.stack) {
        console.error(redact(err.stack, context.secrets));
    }
}

/**
 * Nango's error envelope for whatever a route throws: an unknown connection is a 404, a request Fastify refuses
 * (bad JSON, a body too large) keeps its 4xx, and anything else is a 500 with one line on the console.
 */
export function replyWithNangoErrors(app: FastifyInstance, context: ServerErrorContext): void {
    app.setErrorHandler((err: FastifyError, request, reply) => {
        if (err instanceof UnknownConnectionError) {
            return sendError(reply, 404, 'unknown_connection', { message: err.message });
        }
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
            return sendError(reply, err.statusCode, 'invalid_body', { message: err.message });
        }
        // Fastify's logger is off by default, so request.log would drop this: the console always gets it.
        logServerError(request, err, context);
        return sendError(reply, 500, 'server_error', { message: 'Internal error in the local Nango server' });
    });
}
