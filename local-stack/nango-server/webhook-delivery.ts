import { createHash, createHmac } from 'node:crypto';

/**
 * The local counterpart of Nango's `webhooks` package, its delivery half: a body serialised with sorted keys,
 * signed with the environment's webhook signing key, POSTed with Nango's timeout and retries. It knows nothing of
 * runs or the store (sync-webhooks.ts builds the bodies), so it can be checked on its own against a socket.
 */

/** Nango gives each attempt 20 s. */
export const WEBHOOK_TIMEOUT_MS = 20_000;
/** After a 5xx or a network error Nango tries twice more, 3 s then 6 s later; a 3xx or 4xx is final. */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [3_000, 6_000];

export interface DeliveryAttempt {
    attempt: number;
    /** Null when no response came back; `error` then says why. */
    status: number | null;
    error: string | null;
    durationMs: number;
    /** A 2xx. */
    delivered: boolean;
}

export interface DeliverOptions {
    url: string;
    body: unknown;
    signingKey: string;
    timeoutMs?: number | undefined;
    retryDelaysMs?: readonly number[] | undefined;
    /** Each attempt as it ends, before any wait for the next. */
    onAttempt?: ((attempt: DeliveryAttempt) => void | Promise<void>) | undefined;
}

/** JSON with every object's keys in code-point order, at every depth: what Nango signs and sends. */
export function serializeSorted(value: unknown): string {
    return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
        const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
        entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
    }
    return value;
}

/**
 * `X-Nango-Hmac-Sha256` is what `verifyIncomingWebhookRequest` checks; `X-Nango-Signature` (sha256 of key then
 * body) is the legacy header that the deprecated `verifyWebhookSignature` still reads.
 */
export function signatureHeaders(rawBody: string, signingKey: string): Record<string, string> {
    return {
        'X-Nango-Hmac-Sha256': createHmac('sha256', signingKey).update(rawBody).digest('hex'),
        'X-Nango-Signature': createHash('sha256').update(`${signingKey}${rawBody}`).digest('hex')
    };
}

/** A URL fit for a log line or a page: no user info, no query or fragment, which may carry a token. */
export function displayUrl(url: string): string {
    try {
        const parsed = new URL(url);
        return `${parsed.origin}${parsed.pathname}`;
    } catch {
        return '(invalid URL)';
    }
}

function retryable(attempt: DeliveryAttempt): boolean {
    return attempt.status === null || attempt.status >= 500;
}

async function postOnce(url: string, rawBody: string, headers: Record<string, string>, timeoutMs: number, attempt: number) {
    const started = performance.now();
    try {
        const response = await fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', ...headers },
            body: rawBody,
            // A redirect is an answer, as on Nango: it is final and not followed.
            redirect: 'manual',
            signal: AbortSignal.timeout(timeoutMs)
        });
        // The body is never read; releasing it frees the socket.
        await response.body?.cancel().catch(() => undefined);
        const durationMs = performance.now() - started;
        return { attempt, status: response.status, error: null, durationMs, delivered: response.status >= 200 && response.status < 300 };
    } catch (error) {
        const durationMs = performance.now() - started;
        const reason = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : networkReason(error);
        return { attempt, status: null, error: reason, durationMs, delivered: false };
    }
}

/** A network failure in a few words, never the request (which holds the signature). */
function networkReason(error: unknown): string {
    const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
    if (typeof cause?.code === 'string') {
        return cause.code;
    }
    return error instanceof Error ? error.name : 'network error';
}

/** POSTs one webhook until it is answered with anything but a 5xx, or the retries run out; never throws. */
export async function deliverWebhook(options: DeliverOptions): Promise<DeliveryAttempt[]> {
    const rawBody = serializeSorted(options.body);
    const headers = signatureHeaders(rawBody, options.signingKey);
    const delays = options.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
    const attempts: DeliveryAttempt[] = [];
    for (let index = 0; ; index++) {
        const attempt = await postOnce(options.url, rawBody, headers, options.timeoutMs ?? WEBHOOK_TIMEOUT_MS, index + 1);
        attempts.push(attempt);
        await Promise.resolve(options.onAttempt?.(attempt)).catch(() => undefined);
        const delay = delays[index];
        if (!retryable(attempt) || delay === undefined) {
            return attempts;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
    }
}
