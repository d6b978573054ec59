import { z } from 'zod';

import { CALL_MODEL } from '../nango-integrations/clari-copilot/constants.js';
import { toCallRecord } from '../nango-integrations/clari-copilot/mapper.js';
import { createRateLimiter } from '../nango-integrations/clari-copilot/rate-limiter.js';
import { callDetailsResponseSchema, parseCall, rawCallDetailsSchema } from '../nango-integrations/clari-copilot/schemas.js';
import type { NangoSync } from '../nango-integrations/models.js';

/**
 * The baseline: what the published Nango template for Clari Copilot calls does on a first sync.
 *   1. list every call of the past year into memory (`filterTimeGt`, pages of 100, `skip` += 100 until
 *      Clari says there is no more), before fetching any details;
 *   2. fetch `/call-details` one call at a time;
 *   3. save one record per `batchSave` call.
 * It uses Nango's proxy retries and keeps a client-side pace at `maxRequestsPerSecond` as a courtesy
 * (being sequential, it stays under Clari's 10 req/s anyway). To compare strategies rather than parsers,
 * it validates and maps details with the same zod schemas and mapper as the real sync.
 *
 * Clari refuses `skip` > 10,000 with a 400. The template just pages until done, so above ~10,100 calls
 * its listing fails; here the failure is logged (SKIP_CAP_LOG) and the calls listed so far are still
 * synced, which flatters the baseline: the template itself would fail the run and save nothing.
 */

export const SKIP_CAP_LOG = 'naive: Clari refused skip > 10,000 (HTTP 400); the listing is incomplete';
export const NAIVE_SUMMARY_PREFIX = 'naive sync finished';

const DAY_MS = 86_400_000;
const PAGE_SIZE = 100;
/** Nango's proxy retries (3 s, 6 s, 12 s, ... apart); the template relies on them. */
const PROXY_RETRIES = 5;

const metadataSchema = z.looseObject({ maxRequestsPerSecond: z.number().positive().max(1000).optional() });
const listPageSchema = z.object({
    calls: z.array(z.looseObject({ id: z.string() })),
    pagination: z.object({ hasMore: z.boolean(), nextPageSkip: z.number().optional() }).optional()
});
const httpErrorSchema = z.object({ response: z.object({ status: z.number() }) });

function httpStatus(error: unknown): number | null {
    const parsed = httpErrorSchema.safeParse(error);
    return parsed.success ? parsed.data.response.status : null;
}

export default async function naiveFetchData(nango: NangoSync): Promise<void> {
    const started = Date.now();
    const metadata = metadataSchema.parse(await nango.getMetadata());
    const limiter = createRateLimiter(metadata.maxRequestsPerSecond ?? 10);
    const since = new Date(started - 365 * DAY_MS).toISOString();

    // 1. Everything listed into memory first.
    const listed: z.infer<typeof listPageSchema>['calls'] = [];
    let skip = 0;
    let skipCapHit = false;
    for (;;) {
        await limiter.acquire();
        let body: unknown;
        try {
            const response = await nango.get({
                endpoint: '/calls',
                params: { filterTimeGt: since, limit: String(PAGE_SIZE), skip: String(skip) },
                retries: PROXY_RETRIES
            });
            body = response.data;
        } catch (error) {
            if (httpStatus(error) === 400 && skip > 10_000) {
                skipCapHit = true;
                await nango.log(`${SKIP_CAP_LOG} at skip=${skip} after ${listed.length} calls`, { level: 'error' });
                break;
            }
            throw error;
        }
        const page = listPageSchema.parse(body);
        listed.push(...page.calls);
        if (page.pagination?.hasMore !== true || page.calls.length === 0) {
            break;
        }
        skip = page.pagination.nextPageSkip ?? skip + page.calls.length;
    }

    // 2 and 3. Details one at a time, one record per save.
    let saved = 0;
    let failed = 0;
    for (const call of listed) {
        await limiter.acquire();
        try {
            const response = await nango.get({
                endpoint: '/call-details',
                params: { id: call.id, includeAudio: 'true', includeVideo: 'true' },
                retries: PROXY_RETRIES
            });
            const envelope = callDetailsResponseSchema.parse(response.data);
            const parsed = parseCall(rawCallDetailsSchema, envelope.call);
            if (!parsed.ok) {
                failed++;
                continue;
            }
            await nango.batchSave([toCallRecord(parsed.value)], CALL_MODEL);
            saved++;
        } catch (error) {
            failed++;
            await nango.log(`naive: details of ${call.id} failed: ${error instanceof Error ? error.message : String(error)}`, {
                level: 'error'
            });
        }
    }
    await nango.log(
        `${NAIVE_SUMMARY_PREFIX} in ${((Date.now() - started) / 1000).toFixed(1)}s: listed=${listed.length} saved=${saved} ` +
            `failed=${failed} skipCapHit=${skipCapHit}`
    );
}
