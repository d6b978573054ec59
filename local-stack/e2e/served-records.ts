import type { Nango } from '@nangohq/node';

import { CALL_MODEL, PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import type { ListRecordsQuery, LocalStore } from '../nango-server/index.js';

/** The records as the local Nango serves them: through the real `@nangohq/node` client, or straight from the store. */

export interface ServedRecord {
    id: string;
    /** The record without `_nango_metadata`. */
    data: Record<string, unknown>;
    lastAction: string;
    deletedAt: string | null;
    lastModifiedAt: string;
    /** Set when Nango pruned the payload; `data` is then the id alone. */
    prunedAt: string | null;
    cursor: string;
}

interface RawServedRecord {
    id: string | number;
    _nango_metadata: {
        last_action: string;
        deleted_at: string | null;
        last_modified_at: string;
        pruned_at?: string | null;
        cursor: string;
    };
}

function toServed(record: RawServedRecord): ServedRecord {
    const { _nango_metadata: meta, ...data } = record;
    return {
        id: String(record.id),
        data: { ...data, id: String(record.id) },
        lastAction: meta.last_action,
        deletedAt: meta.deleted_at,
        lastModifiedAt: meta.last_modified_at,
        prunedAt: meta.pruned_at ?? null,
        cursor: meta.cursor
    };
}

export type RecordFilter = 'added' | 'updated' | 'deleted';

/** Every page of Nango's records API through the real `@nangohq/node` client. */
export async function listServed(
    nango: Nango,
    connectionId: string,
    query: { modifiedAfter?: string; filter?: RecordFilter; limit?: number; ids?: string[] } = {}
): Promise<ServedRecord[]> {
    const records: ServedRecord[] = [];
    let cursor: string | null = null;
    do {
        const page: Awaited<ReturnType<Nango['listRecords']>> = await nango.listRecords({
            providerConfigKey: PROVIDER_CONFIG_KEY,
            connectionId,
            model: CALL_MODEL,
            cursor,
            limit: query.limit ?? 500,
            ...(query.modifiedAfter === undefined ? {} : { modifiedAfter: query.modifiedAfter }),
            ...(query.filter === undefined ? {} : { filter: query.filter }),
            ...(query.ids === undefined ? {} : { ids: query.ids })
        });
        records.push(...page.records.map((record) => toServed(record)));
        cursor = page.next_cursor;
    } while (cursor !== null);
    return records;
}

/** Every record of the connection straight from the store (same shape as the records API). */
export async function listStored(
    store: LocalStore,
    connectionId: string,
    query: Omit<ListRecordsQuery, 'connectionId' | 'model' | 'cursor'> = {}
): Promise<ServedRecord[]> {
    const records: ServedRecord[] = [];
    let cursor: string | undefined;
    do {
        const page = await store.records.listRecords({ limit: 1000, ...query, connectionId, model: CALL_MODEL, cursor });
        records.push(...page.records.map((record) => toServed(record)));
        cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return records;
}

export function ids(records: readonly { id: string }[]): string[] {
    return records.map((record) => record.id).sort();
}

export function sortedIds(values: Iterable<string>): string[] {
    return [...values].sort();
}

export function live(records: readonly ServedRecord[]): ServedRecord[] {
    return records.filter((record) => record.deletedAt === null);
}

/** What must not move when nothing changed: every record's version stamp and last action. */
export function versions(records: readonly ServedRecord[]): Record<string, string> {
    return Object.fromEntries(
        records.map((record) => [record.id, `${record.lastModifiedAt} ${record.lastAction} ${record.deletedAt ?? 'live'}`])
    );
}

/** Prunes every record of the connection as an app would, through Nango's `PATCH /records/prune`: up to the newest cursor, until has_more is false. */
export async function pruneEverything(serverUrl: string, secretKey: string, nango: Nango, connectionId: string): Promise<number> {
    const all = await listServed(nango, connectionId);
    const until = all.at(-1)?.cursor;
    if (until === undefined) {
        throw new Error('nothing to prune');
    }
    let total = 0;
    for (;;) {
        const response = await fetch(`${serverUrl}/records/prune`, {
            method: 'PATCH',
            headers: {
                Authorization: `Bearer ${secretKey}`,
                'Content-Type': 'application/json',
                'Connection-Id': connectionId,
                'Provider-Config-Key': PROVIDER_CONFIG_KEY
            },
            body: JSON.stringify({ model: CALL_MODEL, until_cursor: until, limit: 100 })
        });
        if (response.status !== 200) {
            throw new Error(`PATCH /records/prune answered ${response.status}: ${await response.text()}`);
        }
        const { count, has_more: hasMore } = (await response.json()) as { count: number; has_more: boolean };
        total += count;
        if (!hasMore) {
            return total;
        }
    }
}
