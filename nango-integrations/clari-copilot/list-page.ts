import { ClariRequestError, type ClariClient, type QueryParams } from './clari-client.js';
import { callsPageSchema, describeIssues, parseCall, rawCallSchema, type CallsPage, type RawCall } from './schemas.js';

/** Page sizes to fall back through when large pages keep failing with 502/503 (Clari's advice: "use limit=25"). */
export const PAGE_SIZES = [100, 50, 25] as const;
const ATTEMPTS_BEFORE_SHRINKING = 3;
const SHRINK_ON = [502, 503];

export interface InvalidCall {
    id: string | null;
    reason: string;
}

/** One `/calls` page, validated: the calls that parsed, and why the others did not. */
export interface FetchedPage {
    calls: RawCall[];
    invalid: InvalidCall[];
    /** Rows on the page, invalid ones included. */
    rows: number;
    /** The page size asked for. */
    limit: number;
    pagination: NonNullable<CallsPage['pagination']> | null;
}

export type ListingLog = (message: string, level: 'info' | 'warn') => Promise<void>;

/**
 * Fetches `/calls` pages and validates them. The page size starts at 100 and, when Clari keeps answering
 * 502/503 to a size, falls back to the next smaller one for every later page of this fetcher.
 */
export class ListPageFetcher {
    private sizeIndex = 0;

    constructor(
        private readonly client: ClariClient,
        private readonly log: ListingLog
    ) {}

    async fetch(params: QueryParams & { skip: number }): Promise<FetchedPage> {
        for (;;) {
            const limit = PAGE_SIZES[this.sizeIndex] ?? 25;
            const smaller = PAGE_SIZES[this.sizeIndex + 1];
            let body: unknown;
            try {
                const shrinkSooner = { statuses: SHRINK_ON, afterAttempts: ATTEMPTS_BEFORE_SHRINKING };
                body = await this.client.get('/calls', { ...params, limit }, smaller === undefined ? {} : { giveUpEarly: shrinkSooner });
            } catch (error) {
                if (
                    error instanceof ClariRequestError &&
                    error.status !== null &&
                    SHRINK_ON.includes(error.status) &&
                    smaller !== undefined
                ) {
                    await this.log(`Clari keeps answering ${error.status} to pages of ${limit}; retrying with pages of ${smaller}`, 'warn');
                    this.sizeIndex++;
                    continue;
                }
                throw error;
            }
            return validatePage(body, params.skip, limit);
        }
    }
}

function validatePage(body: unknown, skip: number, limit: number): FetchedPage {
    const envelope = callsPageSchema.safeParse(body);
    if (!envelope.success) {
        throw new Error(`Clari returned a malformed /calls page at skip=${skip}: ${describeIssues(envelope.error)}`);
    }
    const page: FetchedPage = {
        calls: [],
        invalid: [],
        rows: envelope.data.calls.length,
        limit,
        pagination: envelope.data.pagination ?? null
    };
    for (const raw of envelope.data.calls) {
        const parsed = parseCall(rawCallSchema, raw);
        if (parsed.ok) {
            page.calls.push(parsed.value);
        } else {
            page.invalid.push({ id: parsed.id, reason: parsed.reason });
        }
    }
    return page;
}
