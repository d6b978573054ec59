import { createHash } from 'node:crypto';

import { isBigintId, isPgTimestamp } from './pg-input.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = Record<string, JsonValue>;

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the record looks like once stored: same as JSON.stringify would send (undefined dropped, dates as strings). */
export function toJsonObject(record: object): JsonObject {
    const value = JSON.parse(JSON.stringify(record)) as JsonValue;
    if (!isJsonObject(value)) {
        throw new TypeError('a record must serialize to a JSON object');
    }
    return value;
}

function stableStringify(value: JsonValue): string {
    if (Array.isArray(value)) {
        return `[${value.map(stableStringify).join(',')}]`;
    }
    if (isJsonObject(value)) {
        const keys = Object.keys(value).sort();
        return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k] ?? null)}`).join(',')}}`;
    }
    return JSON.stringify(value);
}

/** Key order must not count as a change: the sync may build the same record with keys in another order. */
export function dataHash(data: JsonObject): string {
    return createHash('sha256').update(stableStringify(data)).digest('hex');
}

/** A page of records holds 1..MAX_LIMIT of them, DEFAULT_LIMIT when the reader does not say. */
export const MAX_LIMIT = 10_000;
export const DEFAULT_LIMIT = 100;

export function checkLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw new RangeError(`limit must be an integer in 1..${MAX_LIMIT}`);
    }
}

export interface RecordCursor {
    /** updated_at as Postgres renders it (microseconds kept). */
    sort: string;
    id: string;
}

/** A cursor this store did not hand out: readers answer it with a 400, never a database error. */
export class InvalidCursorError extends Error {
    constructor() {
        super('invalid cursor');
        this.name = 'InvalidCursorError';
    }
}

// Same layout as Nango's cursor (base64 of "<updated_at>||<id>"); clients must treat it as opaque.
export function encodeCursor(cursor: RecordCursor): string {
    return Buffer.from(`${cursor.sort}||${cursor.id}`).toString('base64');
}

export function decodeCursor(encoded: string): RecordCursor | undefined {
    const parts = Buffer.from(encoded, 'base64').toString('utf8').split('||');
    if (parts.length !== 2) {
        return undefined;
    }
    const [sort, id] = parts as [string, string];
    // Only the shape encodeCursor produces: anything looser (`1||1`, an id past 2^63) would reach Postgres'
    // timestamptz and bigint casts and fail there.
    if (!isBigintId(id) || !isPgTimestamp(sort)) {
        return undefined;
    }
    return { sort, id };
}
