import { RequestsPaused } from './budget.js';
import { ClariNotFoundError, ClariRequestError, type ClariClient } from './clari-client.js';
import { mapWithConcurrency } from './concurrency.js';
import { callDetailsResponseSchema, describeIssues, parseCall, rawCallDetailsSchema, type RawCallDetails } from './schemas.js';

export type DetailsOutcome =
    /** `requestedAtMs`: this runner's clock when the request was made, before any wait for the rate limiter. */
    | { kind: 'fetched'; id: string; call: RawCallDetails; requestedAtMs: number }
    /** Clari answers 404 for a call that was deleted or made private. */
    | { kind: 'gone'; id: string }
    | { kind: 'invalid'; id: string; reason: string }
    | { kind: 'failed'; id: string; reason: string }
    /** Not asked for: the week's budget ran out, or Clari kept refusing (see `RequestsPaused`). */
    | { kind: 'paused'; id: string; pause: RequestsPaused };

export interface DetailsOptions {
    includeMedia: boolean;
    concurrency: number;
    /** Called once every request has been started (or none will be). */
    onAllStarted?: (() => void) | undefined;
    /** Called with each outcome as soon as it and every one before it are in, in the order of `ids`. */
    onOutcomeInOrder?: ((outcome: DetailsOutcome) => void) | undefined;
}

/**
 * Fetches `/call-details` for each id, several at a time; the shared rate limiter in the client keeps
 * the pace. Per-call problems become outcomes so that one bad call cannot sink the rest of the page, and a
 * pause keeps what was fetched before it; only a credentials error (which no other call could escape
 * either) and errors of the runtime itself (Nango ending the run) are thrown.
 */
export async function fetchCallDetails(client: ClariClient, ids: string[], options: DetailsOptions): Promise<DetailsOutcome[]> {
    const media = options.includeMedia ? 'true' : 'false';
    return mapWithConcurrency(
        ids,
        options.concurrency,
        async (id): Promise<DetailsOutcome> => {
            const requestedAtMs = Date.now();
            try {
                const body = await client.get('/call-details', { id, includeAudio: media, includeVideo: media });
                const envelope = callDetailsResponseSchema.safeParse(body);
                if (!envelope.success) {
                    return { kind: 'invalid', id, reason: describeIssues(envelope.error) };
                }
                const parsed = parseCall(rawCallDetailsSchema, envelope.data.call);
                if (!parsed.ok) {
                    return { kind: 'invalid', id, reason: parsed.reason };
                }
                if (parsed.value.id !== id) {
                    return { kind: 'invalid', id, reason: `details answered with another call id (${parsed.value.id})` };
                }
                return { kind: 'fetched', id, call: parsed.value, requestedAtMs };
            } catch (error) {
                if (error instanceof ClariNotFoundError) {
                    return { kind: 'gone', id };
                }
                if (error instanceof ClariRequestError) {
                    return { kind: 'failed', id, reason: error.message };
                }
                if (error instanceof RequestsPaused) {
                    return { kind: 'paused', id, pause: error };
                }
                throw error;
            }
        },
        { onAllStarted: options.onAllStarted, onResultInOrder: options.onOutcomeInOrder }
    );
}
