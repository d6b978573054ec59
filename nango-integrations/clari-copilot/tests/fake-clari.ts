/*
 * A small in-memory Clari Copilot for unit tests: the filters, ordering and paging of `GET /calls`,
 * `GET /call-details`, and hooks to inject failures. Errors are thrown the way Nango's SDK throws
 * them (an AxiosError-like object carrying `response`). The full emulator lives in local-stack/.
 */

export type RawPayload = Record<string, unknown> & { id: string; time: string; last_modified_time?: string };

export interface FakeResponse {
    status: number;
    headers: Record<string, string>;
    data: unknown;
}

export interface RecordedRequest {
    endpoint: string;
    params: Record<string, string | number>;
    at: number;
}

/** Returns a response to send instead of the normal one, or undefined to let the request through. */
export type Fault = (request: RecordedRequest) => FakeResponse | Error | undefined;

interface GetConfig {
    endpoint: string;
    params?: string | Record<string, string | number>;
}

const LIST_ONLY_FIELDS = ['transcript', 'summary', 'competitor_sentiments', 'deal_stage_live'];

export class FakeClari {
    readonly calls = new Map<string, RawPayload>();
    readonly requests: RecordedRequest[] = [];
    faults: Fault[] = [];
    /**
     * How calls of equal time are ordered: by id, or afresh on every request, as a database without a
     * tie-breaker may (Clari documents none).
     */
    ties: 'by-id' | 'shuffled' = 'by-id';
    /** Answer media requests with a freshly signed URL each time, as Clari does (valid 4 hours). */
    signsMedia = false;
    private signatures = 0;
    private listRequests = 0;

    constructor(calls: RawPayload[] = []) {
        for (const call of calls) {
            this.calls.set(call.id, call);
        }
    }

    count(endpoint: string): number {
        return this.requests.filter((request) => request.endpoint === endpoint).length;
    }

    readonly get = (config: GetConfig): Promise<FakeResponse> => {
        const params = typeof config.params === 'object' ? config.params : {};
        const request: RecordedRequest = { endpoint: config.endpoint, params, at: Date.now() };
        this.requests.push(request);
        for (const fault of this.faults) {
            const injected = fault(request);
            if (injected instanceof Error) {
                return Promise.reject(injected);
            }
            if (injected) {
                return respond(injected);
            }
        }
        return respond(config.endpoint === '/calls' ? this.list(params) : this.details(params));
    };

    /** The answer `GET /calls` would give `params`, without faults or recording: for faults that alter a real page. */
    list(params: Record<string, string | number>): FakeResponse {
        const skip = Number(params['skip'] ?? 0);
        const limit = Number(params['limit'] ?? 25);
        if (!Number.isInteger(skip) || skip < 0 || skip > 10_000 || !Number.isInteger(limit) || limit < 1 || limit > 100) {
            return { status: 400, headers: {}, data: { errorMessage: 'invalid skip or limit' } };
        }
        const after = (key: string, value: string | undefined): boolean =>
            params[key] === undefined || (value !== undefined && value > String(params[key]));
        const before = (key: string, value: string | undefined): boolean =>
            params[key] === undefined || (value !== undefined && value < String(params[key]));
        const direction = params['sortTime'] === 'desc' ? -1 : 1;
        const salt = this.listRequests++;
        const matching = [...this.calls.values()]
            .filter((call) => after('filterTimeGt', call.time) && before('filterTimeLt', call.time))
            .filter((call) => after('filterModifiedGt', call.last_modified_time) && before('filterModifiedLt', call.last_modified_time))
            .sort((a, b) => direction * a.time.localeCompare(b.time) || this.tieOrder(a.id, b.id, salt));
        const calls = matching.slice(skip, skip + limit).map((call) => withoutDetailFields(call));
        const hasMore = skip + calls.length < matching.length;
        const pagination = hasMore
            ? { matched: matching.length, hasMore, nextPageSkip: skip + calls.length }
            : { matched: matching.length, hasMore };
        return { status: 200, headers: {}, data: { calls, pagination } };
    }

    private tieOrder(a: string, b: string, salt: number): number {
        if (this.ties === 'by-id') {
            return a.localeCompare(b);
        }
        return scramble(a, salt) - scramble(b, salt) || a.localeCompare(b);
    }

    private details(params: Record<string, string | number>): FakeResponse {
        const call = this.calls.get(String(params['id']));
        if (!call) {
            return { status: 404, headers: {}, data: { errorMessage: 'Call not found' } };
        }
        const media =
            this.signsMedia && params['includeAudio'] === 'true'
                ? { audio_url: `https://media.example/${call.id}.mp3?sig=${++this.signatures}` }
                : {};
        return { status: 200, headers: {}, data: { call: { ...call, ...media } } };
    }
}

/** A number that orders ids differently for every salt: FNV-1a of the id, then mixed with the salt (murmur3's finalizer). */
function scramble(id: string, salt: number): number {
    let hash = 2166136261;
    for (const char of id) {
        hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
    }
    hash ^= Math.imul(salt + 1, 0x9e3779b9);
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    return (hash ^ (hash >>> 16)) >>> 0;
}

function withoutDetailFields(call: RawPayload): Record<string, unknown> {
    return Object.fromEntries(Object.entries(call).filter(([key]) => !LIST_ONLY_FIELDS.includes(key)));
}

function respond(response: FakeResponse | Error): Promise<FakeResponse> {
    if (response instanceof Error) {
        return Promise.reject(response);
    }
    if (response.status >= 400) {
        return Promise.reject(Object.assign(new Error(`Request failed with status code ${response.status}`), { response }));
    }
    return Promise.resolve(response);
}

/** A call as Clari lists it, with the fields a sync needs; `extra` adds or overrides anything. */
export function makeCall(index: number, time: Date, extra: Record<string, unknown> = {}): RawPayload {
    return {
        id: `call-${String(index).padStart(6, '0')}`,
        title: `Call ${index}`,
        time: time.toISOString(),
        last_modified_time: new Date(time.getTime() + 3_600_000).toISOString(),
        status: 'POST_PROCESSING_DONE',
        type: 'ZOOM',
        ...extra
    };
}

export function failWith(status: number, headers: Record<string, string> = {}): FakeResponse {
    return { status, headers, data: { errorMessage: `injected ${status}` } };
}
