import net from 'node:net';
import type { AddressInfo } from 'node:net';

import { Nango } from '@nangohq/node';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createClariProxy, ProxyTargetError, ProxyNetworkError, type ProxyAttempt } from './proxy.js';
import { startNangoServer, type RunningNangoServer } from './server.js';
import { openStore, type LocalStore } from './database.js';
import { makeTempDir } from './test-helpers.js';

const SECRET = 'proxy-test-secret';
const KEY = 'clari-copilot';
const CONN = 'conn-proxy';

interface Seen {
    method: string;
    url: string;
    headers: Record<string, unknown>;
    body: unknown;
}

/** Stand-in for the Clari API: records what it receives and answers per path. */
async function startFakeUpstream(): Promise<{ url: string; seen: Seen[]; app: FastifyInstance }> {
    const seen: Seen[] = [];
    const app = Fastify();
    app.addHook('onRequest', (request, _reply, done) => {
        seen.push({ method: request.method, url: request.url, headers: request.headers, body: undefined });
        done();
    });
    app.addHook('preHandler', (request, _reply, done) => {
        const last = seen[seen.length - 1];
        if (last) {
            last.body = request.body;
        }
        done();
    });
    app.all('/echo', (request, reply) => reply.send({ query: request.query, body: request.body }));
    app.get('/flaky', async (_request, reply) => {
        const hits = seen.filter((s) => s.url.startsWith('/flaky')).length;
        return hits <= 2 ? reply.code(503).send({ message: 'busy' }) : reply.send({ ok: true, hits });
    });
    app.get('/down', async (_request, reply) => reply.code(500).send({ message: 'down' }));
    app.get('/limited', async (_request, reply) =>
        reply.code(429).header('retry-after', '7').header('x-ratelimit-remaining', '0').send({ message: 'slow down' })
    );
    app.get('/limited-briefly', async (_request, reply) => reply.code(429).header('retry-after', '0.05').send({ message: 'slow down' }));
    app.get('/missing', async (_request, reply) => reply.code(404).send({ message: 'no such call' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, seen, app };
}

describe('Clari proxy', () => {
    const tmp = makeTempDir('proxy-test');
    let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
    let store: LocalStore;
    let server: RunningNangoServer;
    let nango: Nango;

    beforeAll(async () => {
        upstream = await startFakeUpstream();
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: CONN,
            providerConfigKey: KEY,
            provider: 'clari-copilot',
            apiKey: 'the-key',
            apiPassword: 'the-password'
        });
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: upstream.url, proxyBaseDelayMs: 5 });
        nango = new Nango({ secretKey: SECRET, host: server.url, connectionId: CONN, providerConfigKey: KEY });
    });

    beforeEach(() => {
        upstream.seen.length = 0;
    });

    afterAll(async () => {
        await server.close();
        await upstream.app.close();
        await store.close();
        tmp.cleanup();
    });

    describe('over HTTP, as nango dryrun calls it', () => {
        it('adds the provider auth headers and forwards path, query, custom headers and body', async () => {
            const res = await nango.proxy({
                method: 'POST',
                endpoint: '/echo',
                params: { limit: 5, filterTimeGt: '2024-01-01T00:00:00Z' },
                headers: { 'X-Custom': 'yes' },
                data: { hello: 'world' }
            });
            expect(res.status).toBe(200);
            expect(res.data).toEqual({ query: { limit: '5', filterTimeGt: '2024-01-01T00:00:00Z' }, body: { hello: 'world' } });
            const [request] = upstream.seen;
            expect(request?.headers).toMatchObject({ 'x-api-key': 'the-key', 'x-api-password': 'the-password', 'x-custom': 'yes' });
            // Nango's own headers stay on this side.
            expect(request?.headers).not.toHaveProperty('authorization');
            expect(request?.headers).not.toHaveProperty('connection-id');
        });

        it('retries 5xx per the Retries header and returns the eventual success', async () => {
            const res = await nango.get({ endpoint: '/flaky', retries: 3 });
            expect(res.data).toEqual({ ok: true, hits: 3 });
            expect(upstream.seen).toHaveLength(3);
        });

        it('passes the final error status through once retries are spent', async () => {
            await expect(nango.get({ endpoint: '/down', retries: 2 })).rejects.toMatchObject({
                response: { status: 500, data: { message: 'down' } }
            });
            expect(upstream.seen).toHaveLength(3);
        });

        it('does not retry without a Retries header, and passes retry-after through on 429', async () => {
            await expect(nango.get({ endpoint: '/limited' })).rejects.toMatchObject({
                response: { status: 429, headers: { 'retry-after': '7', 'x-ratelimit-remaining': '0' } }
            });
            expect(upstream.seen).toHaveLength(1);
        });

        it('retries 429 like a 5xx', async () => {
            await expect(nango.get({ endpoint: '/limited', retries: 1 })).rejects.toMatchObject({ response: { status: 429 } });
            expect(upstream.seen).toHaveLength(2);
        });

        it('does not retry other 4xx', async () => {
            await expect(nango.get({ endpoint: '/missing', retries: 3 })).rejects.toMatchObject({ response: { status: 404 } });
            expect(upstream.seen).toHaveLength(1);
        });

        it('answers 404 for an unknown connection without calling upstream', async () => {
            const other = new Nango({ secretKey: SECRET, host: server.url, connectionId: 'nobody', providerConfigKey: KEY });
            await expect(other.get({ endpoint: '/echo' })).rejects.toMatchObject({
                response: { status: 404, data: { error: { code: 'unknown_connection' } } }
            });
            expect(upstream.seen).toHaveLength(0);
        });

        describe('Base-Url-Override', () => {
            const proxyWithOverride = (override: string) =>
                fetch(`${server.url}/proxy/echo`, {
                    headers: {
                        Authorization: `Bearer ${SECRET}`,
                        'Connection-Id': CONN,
                        'Provider-Config-Key': KEY,
                        'Base-Url-Override': override
                    }
                });
            const issues = async (res: Response) =>
                ((await res.json()) as { error: { code: string; errors: { message: string; path: string[] }[] } }).error;

            it.each(['not a url', 'http//127.0.0.1', 'file:///etc/passwd'])('answers %s with a 400', async (override) => {
                const res = await proxyWithOverride(override);
                expect(res.status).toBe(400);
                const error = await issues(res);
                expect(error.code).toBe('invalid_headers');
                expect(error.errors).toEqual([expect.objectContaining({ path: ['base-url-override'] })]);
                expect(upstream.seen).toHaveLength(0);
            });

            it('never sends the credentials to another origin, and answers 400 saying so', async () => {
                const foreign = await startFakeUpstream();
                try {
                    const samePortOtherScheme = upstream.url.replace('http:', 'https:');
                    for (const override of [
                        foreign.url,
                        `${foreign.url}/v2`,
                        samePortOtherScheme,
                        `${upstream.url}@${foreign.url.slice('http://'.length)}`
                    ]) {
                        const res = await proxyWithOverride(override);
                        expect(res.status).toBe(400);
                        const [issue] = (await issues(res)).errors;
                        expect(issue?.message).toContain(`must stay on the Clari API origin ${upstream.url}`);
                        expect(issue?.message).toContain('credentials are never sent to');
                    }
                    await expect(nango.get({ endpoint: '/echo', baseUrlOverride: foreign.url })).rejects.toMatchObject({
                        response: { status: 400 }
                    });
                    expect(foreign.seen).toHaveLength(0);
                    expect(upstream.seen).toHaveLength(0);
                } finally {
                    await foreign.app.close();
                }
            });

            it('follows an override on the Clari origin', async () => {
                const res = await nango.get({ endpoint: '/echo', baseUrlOverride: `${upstream.url}/` });
                expect(res.status).toBe(200);
                expect(upstream.seen).toHaveLength(1);
            });
        });
    });

    describe('in-process module', () => {
        const credentials = { apiKey: 'k', apiPassword: 'p' };

        it('refuses to send the credentials to another origin', async () => {
            const foreign = await startFakeUpstream();
            const proxy = createClariProxy({ baseUrl: upstream.url, credentials });
            try {
                await expect(proxy.request({ endpoint: '/echo', baseUrlOverride: foreign.url })).rejects.toBeInstanceOf(ProxyTargetError);
                await expect(proxy.request({ endpoint: '/echo', baseUrlOverride: 'nope' })).rejects.toThrow('baseUrlOverride is not a URL');
                expect(foreign.seen).toHaveLength(0);
                expect((await proxy.request({ endpoint: '/echo', baseUrlOverride: `${upstream.url}/` })).status).toBe(200);
            } finally {
                proxy.close();
                await foreign.app.close();
            }
        });

        it('waits baseDelayMs * 2^attempt between retries', async () => {
            const attempts: ProxyAttempt[] = [];
            const proxy = createClariProxy({ baseUrl: upstream.url, credentials, baseDelayMs: 20 });
            const res = await proxy.request({ endpoint: '/down', retries: 2, onAttempt: (a) => attempts.push(a) });
            proxy.close();
            expect(res.status).toBe(500);
            expect(res.attempts).toBe(3);
            expect(attempts.map((a) => [a.attempt, a.status, a.willRetry, a.waitMs])).toEqual([
                [0, 500, true, 20],
                [1, 500, true, 40],
                [2, 500, false, 0]
            ]);
        });

        it('uses a configured retry header for the wait', async () => {
            const attempts: ProxyAttempt[] = [];
            const proxy = createClariProxy({ baseUrl: upstream.url, credentials, baseDelayMs: 1 });
            await proxy.request({
                endpoint: '/limited-briefly',
                retries: 1,
                retryHeader: { after: 'Retry-After' },
                onAttempt: (a) => attempts.push(a)
            });
            proxy.close();
            expect(attempts.map((a) => a.waitMs)).toEqual([50, 0]);
        });

        it('fails a refused connection at once with its code', async () => {
            const closed = net.createServer();
            await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
            const { port } = closed.address() as AddressInfo;
            await new Promise((resolve) => closed.close(resolve));

            const proxy = createClariProxy({ baseUrl: `http://127.0.0.1:${port}`, credentials, baseDelayMs: 1 });
            const failure = proxy.request({ endpoint: '/calls', retries: 3 });
            await expect(failure).rejects.toBeInstanceOf(ProxyNetworkError);
            await expect(failure).rejects.toMatchObject({ code: 'ECONNREFUSED', attempts: 1 });
            proxy.close();
        });

        it('retries a reset connection, then reports ECONNRESET', async () => {
            let connections = 0;
            const resetting = net.createServer((socket) => {
                connections++;
                socket.once('data', () => socket.resetAndDestroy());
            });
            await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
            const { port } = resetting.address() as AddressInfo;
            const proxy = createClariProxy({ baseUrl: `http://127.0.0.1:${port}`, credentials, baseDelayMs: 1 });
            try {
                await expect(proxy.request({ endpoint: '/calls', retries: 2 })).rejects.toMatchObject({ code: 'ECONNRESET', attempts: 3 });
                expect(connections).toBe(3);
            } finally {
                proxy.close();
                await new Promise((resolve) => resetting.close(resolve));
            }
        });
    });
});
