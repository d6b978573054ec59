import { z } from 'zod';
import type { NangoSync } from '../models.js';
import { CALL_MODEL } from './constants.js';

/** What a stored record must have for the sync to reuse it; the rest is the `Call` this sync saved earlier. */
const storedCallSchema = z
    .object({
        id: z.string(),
        last_modified_time: z.string().nullish(),
        _nango_metadata: z
            .object({
                deleted_at: z.string().nullish(),
                pruned_at: z.string().nullish(),
                last_modified_at: z.string().nullish()
            })
            .nullish()
    })
    .loose();

export type StoredCall =
    | {
          kind: 'full';
          lastModifiedTime: string | null;
          /** The stored record as saved, ready to be saved again unchanged. */
          record: { id: string } & Record<string, unknown>;
      }
    /**
     * Nango prunes the payload of a record not updated for 30 days and keeps only its metadata, so all
     * that is known is when Nango last stored a change to it (null if it did not say).
     */
    | { kind: 'pruned'; storedAtMs: number | null };

/** How a listed call compares with its stored version. */
export type StoredVerdict = 'changed' | 'unchanged' | 'pruned-current';

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
    const found: Map<string, unknown> = await nango.getRecordsByIds(ids, CALL_MODEL);
    for (const value of found.values()) {
        const parsed = storedCallSchema.safeParse(value);
        if (!parsed.success) {
            continue;
        }
        const { _nango_metadata: metadata, ...record } = parsed.data;
        if (metadata?.deleted_at) {
            continue;
        }
        if (metadata?.pruned_at) {
            const storedAtMs = metadata.last_modified_at ? Date.parse(metadata.last_modified_at) : Number.NaN;
            stored.set(record.id, { kind: 'pruned', storedAtMs: Number.isNaN(storedAtMs) ? null : storedAtMs });
            continue;
        }
        stored.set(record.id, { kind: 'full', lastModifiedTime: record.last_modified_time ?? null, record });
    }
    return stored;
}

/**
 * A full stored copy is current when its `last_modified_time` equals the listed one. A pruned copy has
 * no payload to compare: it is current when Clari's last change lies no later after the moment Nango
 * stored the record than an unchanged call's can (`allowanceMs`, see `SyncMemory`). Any later change was
 * made after the record was stored.
 */
export function compareWithStored(stored: StoredCall | undefined, listedLastModified: string | null, allowanceMs: number): StoredVerdict {
    if (stored === undefined) {
        return 'changed';
    }
    if (stored.kind === 'full') {
        return stored.lastModifiedTime === listedLastModified ? 'unchanged' : 'changed';
    }
    const listedMs = listedLastModified === null ? Number.NaN : Date.parse(listedLastModified);
    if (stored.storedAtMs === null || Number.isNaN(listedMs)) {
        return 'changed';
    }
    return listedMs <= stored.storedAtMs + allowanceMs ? 'pruned-current' : 'changed';
}

/** Signed media URLs change on every fetch and expire in 4 hours; a new one alone is no change to the call. */
const VOLATILE_FIELDS: ReadonlySet<string> = new Set(['audio_url', 'video_url']);

/** Whether a freshly mapped call says the same as the stored full copy, media URLs aside. */
export function sameCallContent(fresh: object, stored: object): boolean {
    return canonicalJson(fresh) === canonicalJson(stored);
}

function canonicalJson(value: unknown, depth = 0): string {
    if (Array.isArray(value)) {
        return `[${value.map((item) => canonicalJson(item, depth + 1)).join(',')}]`;
    }
    if (typeof value === 'object' && value !== null) {
        const entries = Object.entries(value)
            .filter(([key, item]) => item !== undefined && !(depth === 0 && (VOLATILE_FIELDS.has(key) || key === '_nango_metadata')))
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item, depth + 1)}`).join(',')}}`;
    }
    return value === undefined ? 'null' : JSON.stringify(value);
}
