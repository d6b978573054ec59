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

/**
 * `record` itself when it is already what JSON.stringify would keep (plain objects and arrays of strings, finite
 * numbers, booleans and nulls), as a record parsed from a request body always is; otherwise `toJsonObject`'s copy.
 * A page of calls is megabytes: copying one that needs no change only made garbage.
 */
export function asJsonObject(record: object): JsonObject {
    return isPlainJson(record) && isJsonObject(record as JsonValue) ? (record as JsonObject) : toJsonObject(record);
}

function isPlainJson(value: unknown): boolean {
    switch (typeof value) {
        case 'string':
        case 'boolean':
            return true;
        case 'number':
            return Number.isFinite(value);
        case 'object': {
            if (value === null) {
                return true;
            }
            if (Array.isArray(value)) {
                // A hole or an undefined item becomes null in JSON.
                for (let i = 0; i < value.length; i++) {
                    if (!(i in value) || !isPlainJson(value[i])) {
                        return false;
                    }
                }
                return true;
            }
            const prototype: unknown = Object.getPrototypeOf(value);
            if (prototype !== Object.prototype && prototype !== null) {
                return false;
            }
            if ('toJSON' in value) {
                return false;
            }
            return Object.values(value).every(isPlainJson);
        }
        default:
            return false;
    }
}

/** `"key":` for each field name seen: every record repeats the same names, so each is escaped once. */
const keyPrefixes = new Map<string, string>();
const MAX_CACHED_KEYS = 10_000;

function keyPrefix(key: string): string {
    let prefix = keyPrefixes.get(key);
    if (prefix === undefined) {
        prefix = `${JSON.stringify(key)}:`;
        if (keyPrefixes.size < MAX_CACHED_KEYS) {
            keyPrefixes.set(key, prefix);
        }
    }
    return prefix;
}

function sortedKeys(value: JsonObject): string[] {
    const keys = Object.keys(value);
    for (let i = 1; i < keys.length; i++) {
        // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i and i - 1 are in range
        if (keys[i - 1]! > keys[i]!) {
            return keys.sort();
        }
    }
    return keys;
}

export interface HashedJson {
    /** The record's JSON with every object's keys sorted. */
    json: string;
    /** SHA-256 of `json`, in hex. */
    hash: string;
}

/**
 * Key order must not count as a change: the sync may build the same record with keys in another order. The hash is
 * SHA-256 of the record's JSON with every object's keys sorted, the same bytes as ever (stored hashes stay valid).
 * That text is also what the store saves: jsonb keeps no key order of its own, so one walk serves the hash and the
 * stored copy, where a second serialization of a page of calls was tens of milliseconds of the store thread's time.
 */
export function canonicalJson(data: JsonObject): HashedJson {
    let json = '';
    const walk = (value: JsonValue): void => {
        if (typeof value !== 'object' || value === null) {
            json += JSON.stringify(value);
        } else if (Array.isArray(value)) {
            json += '[';
            for (let i = 0; i < value.length; i++) {
                if (i > 0) {
                    json += ',';
                }
                walk(value[i] ?? null);
            }
            json += ']';
        } else {
            json += '{';
            const keys = sortedKeys(value);
            for (let i = 0; i < keys.length; i++) {
                // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i is in range
                const key = keys[i]!;
                if (i > 0) {
                    json += ',';
                }
                json += keyPrefix(key);
                walk(value[key] ?? null);
            }
            json += '}';
        }
    };
    walk(data);
    return { json, hash: createHash('sha256').update(json).digest('hex') };
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
