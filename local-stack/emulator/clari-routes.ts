import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ListingFault } from './faults.js';
import type { MediaOptions } from './payloads.js';
import { parseDetailsQuery, parseListQuery } from './query.js';
import type { EmulatorRuntime } from './runtime.js';
import type { CallPayload } from './types.js';

/** The Clari Copilot endpoints: auth, then the weekly quota, then rate limit, then injected faults, then the handler. */

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
    // Clari's own errors carry errorMessage. The wording is AWS Lambda's response cap, which the ~6 MB limit
    // suggests is the cause; what Clari really sends for an oversized call is unconfirmed.
    400: { errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).' },
    429: { message: 'Too Many Requests' },
    500: { errorMessage: 'Internal server error' },
    502: { message: 'Bad Gateway' },
    503: { message: 'Service Unavailable' }
};

/**
 * What Clari sends once the week is spent is unconfirmed. This is the body AWS API Gateway sends when a usage plan's
 * quota runs out (Clari's 6 MB cap points at AWS), which lets a test tell it from throttling; a sync must not rely on it.
 */
const QUOTA_BODY = { message: 'Limit Exceeded' };

type GateOutcome = { answered: true } | { answered: false; listingFault?: ListingFault };
const ANSWERED: GateOutcome = { answered: true };

/** `answered` when it answered (or hijacked) the request, so the handler must not run. */
async function gate(runtime: EmulatorRuntime, endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply): Promise<GateOutcome> {
    runtime.stats.arrival(endpoint);
    const key = request.headers['x-api-key'];
    const password = request.headers['x-api-password'];
    if (typeof key !== 'string' || typeof password !== 'string' || key === '' || password === '') {
        runtime.stats.unauthorized();
        void reply.code(401).send({ errorMessage: 'Credentials not provided!, pass the X-Api-Key and X-Api-Password headers' });
        return ANSWERED;
    }
    if (!sameSecret(key, runtime.credentials.apiKey) || !sameSecret(password, runtime.credentials.apiPassword)) {
        runtime.stats.unauthorized();
        void reply.code(401).send({ errorMessage: 'Invalid credentials!, check the X-Api-Key and X-Api-Password headers' });
        return ANSWERED;
    }
    // Before the token bucket: once the week is spent every request is refused, however slowly it comes.
    const quota = runtime.quota.admit();
    if (!quota.allowed) {
        runtime.stats.quotaRefused();
        if (quota.retryAfterSec !== undefined) {
            void reply.header('retry-after', String(quota.retryAfterSec));
        }
        void reply.code(429).send(QUOTA_BODY);
        return ANSWERED;
    }
    const rate = runtime.limiter.take();
    runtime.quota.count(!rate.allowed);
    if (!rate.allowed) {
        runtime.stats.rateLimited();
        if (runtime.limiter.settings.retryAfter) {
            void reply.header('retry-after', String(rate.retryAfterSec));
        }
        void reply.code(429).send(FAULT_BODIES[429]);
        return ANSWERED;
    }
    const params = searchParams(request);
    const limit = Number(params.get('limit') ?? undefined);
    const fault = runtime.faults.decide(endpoint, {
        pageLimit: Number.isFinite(limit) ? limit : undefined,
        callId: endpoint === 'call-details' ? (params.get('id') ?? undefined) : undefined
    });
    if (fault.kind === 'status') {
        runtime.stats.fault(fault.fault);
        if (fault.retryAfter) {
            void reply.header('retry-after', '1');
        }
        void reply.code(fault.status).send(FAULT_BODIES[fault.status]);
        return ANSWERED;
    }
    if (fault.kind === 'stall') {
        runtime.stats.fault('stall');
        if (fault.ms === 'forever') {
            // Never answer: the client has to time out. The socket is released when the client gives up or we close.
            reply.hijack();
            await Promise.race([new Promise((resolve) => request.raw.once('close', resolve)), runtime.untilClosed()]);
            request.raw.destroy();
            return ANSWERED;
        }
        await runtime.sleep(fault.ms);
    }
    if (fault.kind === 'listing') {
        runtime.stats.fault(fault.fault);
        return { answered: false, listingFault: fault.fault };
    }
    return { answered: false };
}

export function registerClariRoutes(app: FastifyInstance, runtime: EmulatorRuntime): void {
    // The gate decides a listing fault before the handler runs; the handler then shapes the body by it.
    const listingFaults = new WeakMap<FastifyRequest, ListingFault>();
    void app.register((scope, _options, done) => {
        scope.addHook('onRequest', async (request, reply) => {
            const endpoint: Endpoint = request.routeOptions.url === '/calls' ? 'calls' : 'call-details';
            const outcome = await gate(runtime, endpoint, request, reply);
            if (outcome.answered) {
                return reply;
            }
            if (outcome.listingFault !== undefined) {
                listingFaults.set(request, outcome.listingFault);
            }
            return undefined;
        });
        scope.addHook('onResponse', async (_request, reply) => {
            runtime.stats.response(reply.statusCode);
        });

        scope.get('/calls', async (request): Promise<CallsResponse> => {
            const query = parseListQuery(searchParams(request));
            const listRequest = runtime.beforeListing();
            await runtime.delay('list');
            const fault = listingFaults.get(request);
            if (fault === 'empty-listing') {
                return { calls: [], pagination: { matched: 0, hasMore: false } };
            }
            const matched = runtime.state.list(query, listRequest.tieSalt);
            const page = matched.slice(query.skip, query.skip + query.limit);
            const media = mediaOptions(request, query.includeAudio, query.includeVideo);
            if (fault === 'truncated-page') {
                return { calls: page.slice(0, -1).map((record) => runtime.state.listPayload(record, media)) };
            }
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
