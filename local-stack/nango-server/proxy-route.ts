import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

import { sendError, zodErrorToHttp } from './http-errors.js';
import {
    baseUrlOverrideProblem,
    createClariProxy,
    ProxyNetworkError,
    type ClariProxy,
    type HttpMethod,
    type ProxyAttempt
} from './proxy.js';
import type { StoredConnection } from './connections.js';
import type { LocalStore } from './database.js';

export interface ProxyRouteOptions {
    store: LocalStore;
    clariBaseUrl: string;
    baseDelayMs?: number | undefined;
    timeoutMs?: number | undefined;
    onProxyAttempt?: ((attempt: ProxyAttempt & { connectionId: string }) => void) | undefined;
}

const HOP_BY_HOP = new Set([
    'connection',
    'keep-alive',
    'transfer-encoding',
    'proxy-authenticate',
    'proxy-authorization',
    'te',
    'trailer',
    'upgrade',
    'content-length'
]);
const CUSTOM_HEADER_PREFIX = 'nango-proxy-';

// The headers @nangohq/node's proxy() sends alongside the request.
const proxyHeadersSchema = z.object({
    'connection-id': z.string().min(1),
    'provider-config-key': z.string().min(1),
    retries: z.coerce.number().int().min(0).max(20).optional(),
    'retry-on': z
        .string()
        .transform((value) => value.split(',').filter((part) => part.trim() !== ''))
        .pipe(
            z.array(
                z
                    .string()
                    .regex(/^\s*\d{3}\s*$/)
                    .transform(Number)
            )
        )
        .optional(),
    // @nangohq/node sends an empty value when no override is set; the origin is checked per server below.
    'base-url-override': z
        .string()
        .transform((value) => value || undefined)
        .optional()
});

function bodyOf(body: unknown): Buffer | undefined {
    return Buffer.isBuffer(body) && body.length > 0 ? body : undefined;
}

/** Forwards `/proxy/<endpoint>` to the Clari API with the connection's credentials, retrying like Nango's proxy. */
export function registerProxyRoute(app: FastifyInstance, options: ProxyRouteOptions): void {
    const headersSchema = proxyHeadersSchema.check((ctx) => {
        const override = ctx.value['base-url-override'];
        const problem = override === undefined ? undefined : baseUrlOverrideProblem(options.clariBaseUrl, override);
        if (problem !== undefined) {
            ctx.issues.push({ code: 'custom', message: `Base-Url-Override ${problem}`, path: ['base-url-override'], input: override });
        }
    });
    // One proxy (and keep-alive pool) per credential set; a credential change gets a fresh one.
    const proxies = new Map<string, ClariProxy>();
    const proxyFor = (connection: StoredConnection): ClariProxy => {
        const key = JSON.stringify([connection.connectionId, connection.providerConfigKey, connection.apiKey, connection.apiPassword]);
        let proxy = proxies.get(key);
        if (!proxy) {
            proxy = createClariProxy({
                baseUrl: options.clariBaseUrl,
                credentials: { apiKey: connection.apiKey, apiPassword: connection.apiPassword },
                baseDelayMs: options.baseDelayMs,
                timeoutMs: options.timeoutMs
            });
            proxies.set(key, proxy);
        }
        return proxy;
    };
    app.addHook('onClose', () => {
        for (const proxy of proxies.values()) {
            proxy.close();
        }
    });

    void app.register((scope, _opts, done) => {
        // The body goes upstream byte for byte, whatever its content type.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 50 * 1024 * 1024 }, (_req, body, parsed) => {
            parsed(null, body);
        });

        scope.all('/proxy/*', async (request, reply) => {
            const headers = headersSchema.safeParse(request.headers);
            if (!headers.success) {
                return sendError(reply, 400, 'invalid_headers', { errors: zodErrorToHttp(headers.error) });
            }
            const connectionId = headers.data['connection-id'];
            const connection = await options.store.connections.getConnection(connectionId, headers.data['provider-config-key']);
            if (!connection) {
                return sendError(reply, 404, 'unknown_connection', { message: `Connection ${connectionId} does not exist` });
            }

            const forwarded: Record<string, string> = {};
            for (const [name, value] of Object.entries(request.headers)) {
                if (name.startsWith(CUSTOM_HEADER_PREFIX) && typeof value === 'string') {
                    forwarded[name.slice(CUSTOM_HEADER_PREFIX.length)] = value;
                }
            }
            const contentType = request.headers['content-type'];
            if (contentType !== undefined) {
                forwarded['content-type'] = contentType;
            }

            try {
                const result = await proxyFor(connection).request({
                    method: request.method as HttpMethod,
                    endpoint: request.url.slice('/proxy'.length),
                    headers: forwarded,
                    data: bodyOf(request.body),
                    retries: headers.data.retries,
                    retryOn: headers.data['retry-on'],
                    baseUrlOverride: headers.data['base-url-override'],
                    onAttempt: options.onProxyAttempt ? (attempt) => options.onProxyAttempt?.({ ...attempt, connectionId }) : undefined
                });
                for (const [name, value] of Object.entries(result.headers)) {
                    if (!HOP_BY_HOP.has(name)) {
                        void reply.header(name, value);
                    }
                }
                return await reply.code(result.status).send(result.body);
            } catch (err) {
                if (err instanceof ProxyNetworkError) {
                    return sendError(reply, 502, 'upstream_network_error', { message: err.message });
                }
                throw err;
            }
        });
        done();
    });
}
