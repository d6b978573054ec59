import { z } from 'zod';
import type { NangoSync } from '../models.js';
import type { WeeklyBudget } from './budget.js';
import { createRateLimiter, realClock, type Clock } from './rate-limiter.js';
import type { RunStats } from './run-stats.js';

export type QueryParams = Record<string, string | number>;

/** 401/403: retrying cannot help, and the fix is on the connection. */
export class ClariAuthError extends Error {
    override name = 'ClariAuthError';
    constructor(status: number) {
        super(
            `Clari Copilot rejected the credentials (HTTP ${status}). Check the connection's API key and API password ` +
                `(Clari Copilot > workspace settings > integrations > Clari Copilot API) and reconnect.`
        );
    }
}

export class ClariNotFoundError extends Error {
    override name = 'ClariNotFoundError';
}

/** A request that kept failing after every retry; `status` is null for network errors and timeouts. */
export class ClariRequestError extends Error {
    override name = 'ClariRequestError';
    constructor(
        message: string,
        readonly status: number | null
    ) {
        super(message);
    }
}

export interface ClariClientOptions {
    maxRequestsPerSecond: number;
    stats: RunStats;
    /** Attempts per request on 5xx, network errors and stalls, the first included. */
    maxAttempts?: number;
    /** Attempts per request on 429s, counted apart: throttling is expected and the limiter adapts to it. */
    maxThrottledAttempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    /** A stalled response is abandoned and retried after this long. */
    requestTimeoutMs?: number;
    /** A Retry-After longer than this fails the request instead of parking the run (e.g. the weekly budget is spent). */
    maxRetryAfterMs?: number;
    /** Pacing, backoff and request timeouts run on this clock; tests pass a fake one. */
    clock?: Clock;
    /** Counts every attempt against the week's budget before it is sent, and every 429 against Clari's patience. */
    budget?: WeeklyBudget;
}

export interface RequestOptions {
    /** Give up after this many attempts when the failures are one of `statuses`, e.g. to fall back to smaller pages sooner. */
    giveUpEarly?: { statuses: readonly number[]; afterAttempts: number };
}

export interface ClariClient {
    get(endpoint: string, params: QueryParams, request?: RequestOptions): Promise<unknown>;
}

interface HttpOutcome {
    status: number | null;
    retryAfter: string | null;
    data: unknown;
    networkError: string | null;
}

const httpErrorSchema = z.object({
    response: z.object({
        status: z.number(),
        headers: z.object({ 'retry-after': z.union([z.string(), z.number()]).nullish() }).nullish(),
        data: z.unknown()
    })
});
const networkErrorSchema = z.object({ code: z.string(), message: z.string() });
const responseSchema = z.object({
    status: z.number(),
    headers: z.object({ 'retry-after': z.union([z.string(), z.number()]).nullish() }).nullish(),
    data: z.unknown()
});

class RequestTimeout extends Error {}

/** What a request's timer may reach: emptied the moment the request settles. */
interface TimeoutSlot {
    expire: (() => void) | undefined;
}

/**
 * `request`, or a RequestTimeout after `ms`. Nango's sandbox has no clearTimeout, so the timer lives its
 * full `ms` after the request settled. Raced against the request (`Promise.race`), the timer would keep
 * the settled response reachable all that time: at 10 requests a second and 100 KB a body, some 120 MB
 * held by 2 minutes of timers, against 512 MB per Lambda execution. Here the timer reaches the request only
 * through a slot that is emptied as soon as it settles, so an uncancelled timer keeps one empty object.
 * local-stack/runner/timer-retention.test.ts measures it in the runner's sandbox.
 */
function withTimeout<T>(request: Promise<T>, ms: number, clock: Clock): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const slot: TimeoutSlot = {
            expire: () => {
                reject(new RequestTimeout());
            }
        };
        const cancel = startSlotTimer(clock, ms, slot);
        const settled = (): void => {
            slot.expire = undefined;
            cancel();
        };
        request.then(
            (value) => {
                settled();
                resolve(value);
            },
            (error: unknown) => {
                settled();
                // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what nango.get threw, whatever it is
                reject(error);
            }
        );
    });
}

/**
 * Its own function on purpose: a closure keeps every variable of the scope it was made in that any sibling
 * closure uses, so a timer callback made inside `withTimeout` would hold `resolve` and through it the response.
 */
function startSlotTimer(clock: Clock, ms: number, slot: TimeoutSlot): () => void {
    return clock.startTimer(ms, () => {
        const expire = slot.expire;
        slot.expire = undefined;
        expire?.();
    });
}

/**
 * Every Clari request of a run goes through here: one shared rate limiter, retries with exponential
 * backoff and jitter on 429, 5xx, network errors and stalls, `Retry-After` honoured when sent.
 * Nango's own proxy retries are turned off (retries: 0) so that this is the only retry policy.
 */
export function createClariClient(nango: NangoSync, options: ClariClientOptions): ClariClient {
    const {
        stats,
        maxAttempts = 6,
        maxThrottledAttempts = 12,
        baseDelayMs = 500,
        maxDelayMs = 30_000,
        requestTimeoutMs = 120_000,
        maxRetryAfterMs = 5 * 60_000,
        clock = realClock
    } = options;
    const limiter = createRateLimiter(options.maxRequestsPerSecond, clock);

    async function send(endpoint: string, params: QueryParams): Promise<HttpOutcome> {
        try {
            const response = responseSchema.parse(await withTimeout(nango.get({ endpoint, params, retries: 0 }), requestTimeoutMs, clock));
            return { status: response.status, retryAfter: headerValue(response.headers), data: response.data, networkError: null };
        } catch (error) {
            return outcomeOfError(error, requestTimeoutMs);
        }
    }

    return {
        async get(endpoint, params, request = {}) {
            let failures = 0;
            let throttles = 0;
            for (;;) {
                await limiter.acquire();
                // Counted at the last moment before sending, so that what was queued meanwhile sees a pause.
                await options.budget?.spend();
                stats.requests++;
                const outcome = await send(endpoint, params);
                const { status } = outcome;
                options.budget?.heard(status);
                if (status !== null && status < 400) {
                    limiter.succeeded();
                    return outcome.data;
                }
                if (status === 401 || status === 403) {
                    throw new ClariAuthError(status);
                }
                if (status === 404) {
                    throw new ClariNotFoundError(`${endpoint} answered 404`);
                }
                const problem = status === null ? (outcome.networkError ?? 'network error') : `HTTP ${status}`;
                const attempts = failures + throttles + 1;
                if (status === 429) {
                    throttles++;
                } else if (status === null || status >= 500) {
                    failures++;
                } else {
                    throw new ClariRequestError(`GET ${endpoint} failed: ${problem}`, status);
                }
                const early = request.giveUpEarly;
                const givingUpEarly =
                    early !== undefined && status !== null && early.statuses.includes(status) && failures >= early.afterAttempts;
                if (status === 429 && throttles >= maxThrottledAttempts && options.budget) {
                    // Still refused after all that backoff: Clari's week is likely spent by the workspace's tools.
                    throw options.budget.giveUp(`Clari kept refusing GET ${endpoint} after ${attempts} attempt(s) with backoff`);
                }
                if (failures >= maxAttempts || throttles >= maxThrottledAttempts || givingUpEarly) {
                    throw new ClariRequestError(`GET ${endpoint} failed after ${attempts} attempt(s): ${problem}`, status);
                }
                const retryAfterMs = parseRetryAfter(outcome.retryAfter, clock.now());
                if (retryAfterMs !== null && retryAfterMs > maxRetryAfterMs && status === 429 && options.budget) {
                    // Clari says when it will take requests again, and it is not soon: the workspace's week is spent.
                    throw options.budget.giveUp(`Clari asked to retry GET ${endpoint} after ${Math.round(retryAfterMs / 1000)}s`);
                }
                if (retryAfterMs !== null && retryAfterMs > maxRetryAfterMs) {
                    throw new ClariRequestError(
                        `GET ${endpoint}: Clari asked to retry after ${Math.round(retryAfterMs / 1000)}s; the weekly request budget may be spent`,
                        status
                    );
                }
                const waitMs = retryAfterMs ?? backoffWithJitter(status === 429 ? throttles : failures, baseDelayMs, maxDelayMs);
                stats.retries++;
                if (status === 429) {
                    stats.throttled++;
                    limiter.throttled(waitMs);
                }
                await clock.sleep(waitMs);
            }
        }
    };
}

function outcomeOfError(error: unknown, requestTimeoutMs: number): HttpOutcome {
    if (error instanceof RequestTimeout) {
        return { status: null, retryAfter: null, data: null, networkError: `no response within ${requestTimeoutMs}ms` };
    }
    const http = httpErrorSchema.safeParse(error);
    if (http.success) {
        const { response } = http.data;
        return { status: response.status, retryAfter: headerValue(response.headers), data: response.data, networkError: null };
    }
    const network = networkErrorSchema.safeParse(error);
    if (network.success) {
        return { status: null, retryAfter: null, data: null, networkError: `${network.data.code}: ${network.data.message}` };
    }
    // Not an HTTP or network failure: a bug, which retrying would only hide.
    throw error;
}

function headerValue(headers: { 'retry-after'?: string | number | null | undefined } | null | undefined): string | null {
    const value = headers?.['retry-after'];
    return value == null ? null : String(value);
}

/** `Retry-After` is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
    if (value === null || value.trim() === '') {
        return null;
    }
    const seconds = Number(value);
    if (Number.isFinite(seconds)) {
        return Math.max(0, seconds * 1000);
    }
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** "Equal jitter" (half fixed, half random): spreads retries of concurrent workers so they do not hit Clari in lockstep. */
export function backoffWithJitter(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
