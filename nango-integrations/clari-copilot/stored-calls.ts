import { z } from 'zod';
import type { NangoSync } from '../models.js';

/** What a stored record must have for the sync to reuse it; the rest is the `Call` this sync saved earlier. */
const storedCallSchema = z
    .object({
        id: z.string(),
        last_modified_time: z.string().nullish(),
        _nango_metadata: z.object({ deleted_at: z.string().nullish() }).nullish()
    })
    .loose();

export interface StoredCall {
    lastModifiedTime: string | null;
    /** The stored record as saved, ready to be saved again unchanged. */
    record: { id: string } & Record<string, unknown>;
}

/**
 * Reads back the stored versions of `ids` (Nango serves them 100 per request). Soft-deleted records
 * count as absent, and Nango's `_nango_metadata` is dropped so that re-saving leaves the data identical.
 */
export async function readStoredCalls(nango: NangoSync, ids: string[]): Promise<Map<string, StoredCall>> {
    const stored = new Map<string, StoredCall>();
    if (ids.length === 0) {
        return stored;
    }
    // Typed loosely on purpose: every value is validated below, whatever the SDK version claims it is.
    const found: Map<string, unknown> = await nango.getRecordsByIds(ids, 'Call');
    for (const value of found.values()) {
        const parsed = storedCallSchema.safeParse(value);
        if (!parsed.success || parsed.data._nango_metadata?.deleted_at) {
            continue;
        }
        const { _nango_metadata: _metadata, ...record } = parsed.data;
        stored.set(record.id, { lastModifiedTime: record.last_modified_time ?? null, record });
    }
    return stored;
}
