import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MediaOptions } from './payloads.js';
import { parseDetailsQuery, parseListQuery } from './query.js';
import type { EmulatorRuntime } from './runtime.js';
import type { CallPayload } from './types.js';

/** The Clari Copilot endpoints: auth, then rate limit, then injected faults, then the handler. */

type Endpoint = 'calls' | 'call-details';

interface CallsResponse {
    calls: CallPayload[];
    pagination?: { matched: number; hasMore: boolean; nextPageSkip?: number };
}

function searchParams(request: FastifyRequest): URLSearchParams {
    return new URL(request.url, 'http://emulator').searchParams;
}

function sameSecret(given: string, expected: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
}

function mediaOptions(request: FastifyRequest, includeAudio: boolean, includeVideo: boolean): MediaOptions {
    return { includeAudio, includeVideo, baseUrl: `${request.protocol}://${request.host}`, nowMs: Date.now() };
}

/** Bodies as the gateway in front of Clari would send them. */
const FAULT_BODIES: Record<number, object> = {
    429: { message: 'Too Many Requests' },
    500: { errorMessage: 'Internal server error' },
    502: { message: 'Bad Gateway' },
    503: { message: 'Service Unavailable' }
};

/** Returns true when it answered (or hijacked) the request, so the handler must not run. */
async function gate(runtime: EmulatorRuntime, endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    runtime.stats.arrival(endpoint);
    const key = request.headers['x-api-key'];
    const password = request.headers['x-api-password'];
    if (typeof key !== 'string' || typeof password !== 'string' || key === '' || password === '') {
        runtime.stats.unauthorized();
        void reply.code(401).send({ errorMessage: 'Credentials not provided!, pass the X-Api-Key and X-Api-Password headers' });
        return true;
    }
    if (!sameSecret(key, runtime.credentials.apiKey) || !sameSecret(password, runtime.credentials.apiPassword)) {
        runtime.stats.unauthorized();
        void reply.code(401).send({ errorMessage: 'Invalid credentials!, check the X-Api-Key and X-Api-Password headers' });
        return true;
    }
    const rate = runtime.limiter.take();
    if (!rate.allowed) {
        runtime.stats.rateLimited();
        if (runtime.limiter.settings.retryAfter) {
            void reply.header('retry-after', String(rate.retryAfterSec));
        }
        void reply.code(429).send(FAULT_BODIES[429]);
        return true;
    }
    const limit = Number(searchParams(request).get('limit') ?? undefined);
    const fault = runtime.faults.decide(endpoint, Number.isFinite(limit) ? limit : undefined);
    if (fault.kind === 'status') {
        runtime.stats.fault(fault.fault);
        if (fault.retryAfter) {
            void reply.header('retry-after', '1');
        }
        void reply.code(fault.status).send(FAULT_BODIES[fault.status]);
        return true;
    }
    if (fault.kind === 'stall') {
        runtime.stats.fault('stall');
        if (fault.ms === 'forever') {
            // Never answer: the client has to time out. The socket is released when the client gives up or we close.
            reply.hijack();
            await Promise.race([new Promise((resolve) => request.raw.once('close', resolve)), runtime.untilClosed()]);
            request.raw.destroy();
            return true;
        }
        await runtime.sleep(fault.ms);
    }
    return false;
}

export function registerClariRoutes(app: FastifyInstance, runtime: EmulatorRuntime): void {
    void app.register((scope, _options, done) => {
        scope.addHook('onRequest', async (request, reply) => {
            const endpoint: Endpoint = request.routeOptions.url === '/calls' ? 'calls' : 'call-details';
            if (await gate(runtime, endpoint, request, reply)) {
                return reply;
            }
            return undefined;
        });
        scope.addHook('onResponse', async (_request, reply) => {
            runtime.stats.response(reply.statusCode);
        });

        scope.get('/calls', async (request): Promise<CallsResponse> => {
            const query = parseListQuery(searchParams(request));
            await runtime.delay('list');
            const matched = runtime.state.list(query);
            const page = matched.slice(query.skip, query.skip + query.limit);
            const media = mediaOptions(request, query.includeAudio, query.includeVideo);
            const body: CallsResponse = { calls: page.map((record) => runtime.state.listPayload(record, media)) };
            if (query.includePagination) {
                const hasMore = query.skip + page.length < matched.length;
                // Real responses leave nextPageSkip out on the last page.
                body.pagination = { matched: matched.length, hasMore, ...(hasMore ? { nextPageSkip: query.skip + page.length } : {}) };
            }
            return body;
        });

        scope.get('/call-details', async (request, reply) => {
            const query = parseDetailsQuery(searchParams(request));
            await runtime.delay('details');
            const record = runtime.state.findVisible(query.id);
            if (!record) {
                return reply.code(404).send({ errorMessage: 'Call not found' });
            }
            return { call: runtime.state.detailsPayload(record, mediaOptions(request, query.includeAudio, query.includeVideo)) };
        });
        done();
    });

    // Signed media URLs point here. No Clari headers: the signature is the credential, valid for 4 hours.
    app.get<{ Params: { id: string; file: string } }>('/media/:id/:file', async (request, reply) => {
        const expires = Number(searchParams(request).get('expires'));
        if (!runtime.state.find(request.params.id) || !Number.isFinite(expires) || expires * 1000 < Date.now()) {
            return reply.code(403).send({ message: 'Request has expired or is not signed' });
        }
        const type = request.params.file.endsWith('.mp4') ? 'video/mp4' : 'audio/mpeg';
        return reply.type(type).send(Buffer.from(`emulated ${type} for call ${request.params.id}\n`));
    });
}
