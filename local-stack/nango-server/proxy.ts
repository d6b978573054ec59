import http from 'node:http';
import https from 'node:https';

import { getProvider } from '@nangohq/providers';

import { PROVIDER } from '../../nango-integrations/clari-copilot/constants.js';

export { PROVIDER };
/** Nango's proxy waits `3000 * 2^attempt` ms between retries unless a retry header says otherwise. */
export const NANGO_BASE_DELAY_MS = 3000;
const MAX_DELAY_MS = 10 * 60 * 1000;
/** The network error codes Nango's proxy retries; anything else (ECONNREFUSED, ENOTFOUND...) fails at once. */
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNABORTED']);

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface ClariCredentials {
    apiKey: string;
    apiPassword: string;
}

export interface ClariProxyOptions {
    /** Defaults to the provider's base_url from @nangohq/providers. */
    baseUrl?: string | undefined;
    credentials: ClariCredentials;
    /** First retry wait; doubles per attempt. Default 3000 like Nango. */
    baseDelayMs?: number | undefined;
    /** An attempt with no response after this long fails with ETIMEDOUT (retryable). Default 120 s. */
    timeoutMs?: number | undefined;
}

export interface RetryHeaderConfig {
    at?: string | undefined;
    after?: string | undefined;
}

export interface ProxyAttempt {
    /** 0 for the first try. */
    attempt: number;
    method: HttpMethod;
    endpoint: string;
    status?: number;
    errorCode?: string;
    durationMs: number;
    willRetry: boolean;
    /** How long the proxy sleeps before the next attempt (0 when not retrying). */
    waitMs: number;
}

export interface ProxyRequest {
    method?: HttpMethod | Lowercase<HttpMethod> | undefined;
    /** Path (and optionally query) appended to the base URL. */
    endpoint: string;
    params?: string | Record<string, string | number> | undefined;
    headers?: Record<string, string> | undefined;
    /** Buffers and strings are sent as-is, anything else as JSON. */
    data?: unknown;
    retries?: number | undefined;
    retryOn?: readonly number[] | null | undefined;
    retryHeader?: RetryHeaderConfig | undefined;
    baseUrlOverride?: string | undefined;
    onAttempt?: ((attempt: ProxyAttempt) => void) | undefined;
}

export interface ProxyResponse {
    status: number;
    /** Lower-case names; repeated headers joined with ", " (set-cookie too, harmless here). */
    headers: Record<string, string>;
    body: Buffer;
    attempts: number;
}

/** The request never got a response (after any retries). Carries the socket error code like axios does. */
export class ProxyNetworkError extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly attempts: number
    ) {
        super(message);
        this.name = 'ProxyNetworkError';
    }
}

/** The request's target is not a URL on the Clari API's origin, where alone the Clari credentials may go. */
export class ProxyTargetError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'ProxyTargetError';
    }
}

/**
 * Why `override` cannot stand in for `baseUrl`, or undefined when it can. The provider's auth headers go with
 * every request, so an override may change the path but never the origin (scheme, host and port).
 */
export function baseUrlOverrideProblem(baseUrl: string, override: string): string | undefined {
    if (!URL.canParse(override)) {
        return 'is not a URL';
    }
    const target = new URL(override);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        return 'must be an http or https URL';
    }
    const allowed = new URL(baseUrl).origin;
    if (target.origin !== allowed) {
        return `must stay on the Clari API origin ${allowed}: the connection's credentials are never sent to ${target.origin}`;
    }
    return undefined;
}

export interface ClariProxy {
    readonly baseUrl: string;
    request(req: ProxyRequest): Promise<ProxyResponse>;
    /** Drops idle keep-alive sockets. */
    close(): void;
}

/**
 * Nango's provider entry for Clari Copilot. The first lookup loads the whole provider catalogue (~60 ms of
 * synchronous work), so the server makes it when it starts instead of inside its first proxied request.
 */
export function clariProvider(): ReturnType<typeof getProvider> {
    return getProvider(PROVIDER);
}

/** Substitutes `${apiKey}` / `${connectionConfig.API_PASSWORD}` the way Nango interpolates provider templates. */
export function providerAuthHeaders(credentials: ClariCredentials): Record<string, string> {
    const templates = clariProvider()?.proxy?.headers ?? {};
    const values: Record<string, string> = { apiKey: credentials.apiKey, 'connectionConfig.API_PASSWORD': credentials.apiPassword };
    const headers: Record<string, string> = {};
    for (const [name, template] of Object.entries(templates)) {
        headers[name.toLowerCase()] = template.replace(/\$\{([^}]+)\}/g, (_match, key: string) => {
            const value = values[key];
            if (value === undefined) {
                // Only the placeholder name goes into the message, never a credential.
                throw new Error(`provider ${PROVIDER} header ${name} uses unknown placeholder \${${key}}`);
            }
            return value;
        });
    }
    return headers;
}

export function defaultClariBaseUrl(): string {
    const baseUrl = clariProvider()?.proxy?.base_url;
    if (!baseUrl) {
        throw new Error(`provider ${PROVIDER} has no proxy base_url`);
    }
    return baseUrl;
}

export function buildUrl(baseUrl: string, endpoint: string, params: ProxyRequest['params']): URL {
    const url = new URL(`${baseUrl.replace(/\/+$/, '')}${endpoint.startsWith('/') ? '' : '/'}${endpoint}`);
    if (typeof params === 'string') {
        const extra = new URLSearchParams(params.startsWith('?') ? params.slice(1) : params);
        extra.forEach((value, key) => {
            url.searchParams.append(key, value);
        });
    } else if (params) {
        for (const [key, value] of Object.entries(params)) {
            url.searchParams.set(key, String(value));
        }
    }
    return url;
}

function encodeBody(data: unknown, headers: Record<string, string>): Buffer | undefined {
    if (data === undefined || data === null) {
        return undefined;
    }
    if (Buffer.isBuffer(data) || data instanceof Uint8Array) {
        return Buffer.from(data);
    }
    if (typeof data === 'string') {
        return Buffer.from(data);
    }
    headers['content-type'] ??= 'application/json';
    return Buffer.from(JSON.stringify(data));
}

function flattenHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
        if (value !== undefined) {
            out[name] = Array.isArray(value) ? value.join(', ') : value;
        }
    }
    return out;
}

/** Wait requested by a configured retry header, as Nango reads it (seconds, or an epoch for `at`). */
function headerWaitMs(config: RetryHeaderConfig | undefined, headers: Record<string, string>): number | undefined {
    if (config?.at) {
        const at = Number(headers[config.at.toLowerCase()]);
        const now = Math.floor(Date.now() / 1000);
        return Number.isFinite(at) && at > now ? (at - now) * 1000 : undefined;
    }
    if (config?.after) {
        const raw = headers[config.after.toLowerCase()];
        const after = Number(raw);
        return raw !== undefined && raw !== '' && Number.isFinite(after) ? after * 1000 : undefined;
    }
    return undefined;
}

export interface SendResult {
    status: number;
    headers: Record<string, string>;
    body: Buffer;
}

/**
 * One HTTP exchange with node:http, the body read whole; `timeoutMs` is how long the socket may stay idle. The
 * local Nango's proxy sends Clari requests with it, and a runner in another process reaches the local Nango with it.
 */
export function send(
    url: URL,
    method: HttpMethod,
    headers: Record<string, string>,
    body: Buffer | undefined,
    agents: Agents,
    timeoutMs: number
): Promise<SendResult> {
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    return new Promise((resolve, reject) => {
        // Node sends a DELETE's body only with its length: it does not chunk a DELETE by default.
        const withLength = body === undefined ? headers : { ...headers, 'content-length': String(body.length) };
        const req = transport.request(url, { method, headers: withLength, agent: isHttps ? agents.https : agents.http }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
                resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks) });
            });
            res.on('error', reject);
        });
        req.setTimeout(timeoutMs, () => {
            req.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
        });
        req.on('error', reject);
        req.end(body);
    });
}

export interface Agents {
    http: http.Agent;
    https: https.Agent;
}

/** Keep-alive pools: sockets are reused across requests, and an idle one does not hold the process open. */
export function createAgents(): Agents {
    return { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
}

/** The socket error's code (ECONNREFUSED, ETIMEDOUT...), or ERR_NETWORK when it has none. */
export function errorCode(err: unknown): string {
    const code = (err as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : 'ERR_NETWORK';
}

export function createClariProxy(options: ClariProxyOptions): ClariProxy {
    const baseUrl = options.baseUrl ?? defaultClariBaseUrl();
    const baseOrigin = new URL(baseUrl).origin;
    const baseDelayMs = options.baseDelayMs ?? NANGO_BASE_DELAY_MS;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const authHeaders = providerAuthHeaders(options.credentials);
    const agents = createAgents();

    return {
        baseUrl,
        async request(req) {
            const method = (req.method ?? 'GET').toUpperCase() as HttpMethod;
            const retries = Math.max(0, req.retries ?? 0);
            const override = req.baseUrlOverride || undefined;
            const problem = override === undefined ? undefined : baseUrlOverrideProblem(baseUrl, override);
            if (problem !== undefined) {
                throw new ProxyTargetError(`baseUrlOverride ${problem}`);
            }
            const url = buildUrl(override ?? baseUrl, req.endpoint, req.params);
            if (url.origin !== baseOrigin) {
                throw new ProxyTargetError(`refusing to send the Clari credentials to ${url.origin} (endpoint ${req.endpoint})`);
            }
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(req.headers ?? {})) {
                headers[name.toLowerCase()] = value;
            }
            const body = encodeBody(req.data, headers);
            // Provider auth wins over caller headers, as in Nango.
            Object.assign(headers, authHeaders);

            for (let attempt = 0; ; attempt++) {
                const started = performance.now();
                let result: SendResult | undefined;
                let failure: unknown;
                try {
                    result = await send(url, method, headers, body, agents, timeoutMs);
                } catch (err) {
                    failure = err;
                }
                const durationMs = performance.now() - started;
                const status = result?.status;
                const code = result ? undefined : errorCode(failure);
                const retryable = result
                    ? result.status >= 500 || result.status === 429 || (req.retryOn ?? []).includes(result.status)
                    : RETRYABLE_NETWORK_CODES.has(code ?? '');
                const willRetry = retryable && attempt < retries;
                const waitMs = willRetry
                    ? Math.min((result && headerWaitMs(req.retryHeader, result.headers)) ?? baseDelayMs * 2 ** attempt, MAX_DELAY_MS)
                    : 0;
                req.onAttempt?.({
                    attempt,
                    method,
                    endpoint: req.endpoint,
                    durationMs,
                    willRetry,
                    waitMs,
                    ...(status !== undefined ? { status } : {}),
                    ...(code !== undefined ? { errorCode: code } : {})
                });
                if (willRetry) {
                    await new Promise((resolve) => setTimeout(resolve, waitMs));
                    continue;
                }
                if (result) {
                    return { ...result, attempts: attempt + 1 };
                }
                // The URL is safe to report (credentials travel in headers only); the headers are not.
                throw new ProxyNetworkError(
                    code ?? 'ERR_NETWORK',
                    `${method} ${url.origin}${url.pathname} failed: ${code ?? 'network error'}`,
                    attempt + 1
                );
            }
        },
        close() {
            agents.http.destroy();
            agents.https.destroy();
        }
    };
}
