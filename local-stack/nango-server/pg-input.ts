/**
 * Checks for values that reach Postgres from a request. Postgres refuses some input that JavaScript and zod
 * accept (a NUL byte in text or jsonb, a bigint past 2^63 - 1, a year 0, a UTC offset past ±15:59); such input
 * must be answered with a 400 at the boundary, not fail as a 500 inside a query.
 */
import { z } from 'zod';

export const NUL_MESSAGE = 'must not contain NUL bytes';

const MAX_BIGINT = 2n ** 63n - 1n;
const MAX_OFFSET_HOURS = 15;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// ISO 8601 with a date, a time and a UTC offset, as Postgres renders timestamptz in JSON (and zod's iso.datetime
// with offset accepts); ranges are checked in code.
const TIMESTAMP =
    /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})T(?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2})(?:\.\d+)?(?:Z|[+-](?<offsetHours>\d{2})(?::?(?<offsetMinutes>\d{2}))?)$/;

export function hasNul(value: string): boolean {
    return value.includes('\u0000');
}

/** True when a string anywhere in the JSON value, keys included, holds a NUL (jsonb cannot store `\u0000`). */
export function jsonHasNul(value: unknown): boolean {
    if (typeof value === 'string') {
        return hasNul(value);
    }
    if (Array.isArray(value)) {
        return value.some(jsonHasNul);
    }
    if (typeof value === 'object' && value !== null) {
        return Object.entries(value).some(([key, item]) => hasNul(key) || jsonHasNul(item));
    }
    return false;
}

/** A string Postgres can store as text. */
export function pgText(): z.ZodString {
    return z.string().refine((value) => !hasNul(value), { message: NUL_MESSAGE });
}

/** A decimal integer that fits Postgres' bigint and is not negative. */
export function isBigintId(value: string): boolean {
    return /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT;
}

function isLeapYear(year: number): boolean {
    return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** A date-time with a UTC offset that Postgres' timestamptz accepts as it stands. */
export function isPgTimestamp(value: string): boolean {
    const groups = TIMESTAMP.exec(value)?.groups;
    if (!groups) {
        return false;
    }
    const part = (name: string): number => Number(groups[name] ?? 0);
    const year = part('year');
    const month = part('month');
    const day = part('day');
    const daysInMonth = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
    return (
        year >= 1 &&
        day >= 1 &&
        day <= daysInMonth &&
        part('hour') <= 23 &&
        part('minute') <= 59 &&
        part('second') <= 59 &&
        part('offsetHours') <= MAX_OFFSET_HOURS &&
        part('offsetMinutes') <= 59
    );
}

/** Postgres's type id for jsonb (PGlite's `types.JSONB`; that module is too big to load for one number). */
export const JSONB_OID = 3802;

/**
 * A jsonb parameter in Postgres's binary format: a version byte (1), then the JSON text in UTF-8. PGlite sends a
 * string parameter as text, measuring its UTF-8 length in JavaScript one character at a time, twice; for the
 * megabytes of a page of calls that was ~7% of the store thread's busy time while a sync saved. Bytes it copies as
 * they are, and Node encodes the text natively. Pass BINARY_JSONB_PARAMS with the query.
 */
export function binaryJsonb(json: string): Uint8Array {
    return Buffer.from(`\u0001${json}`, 'utf8');
}

/** PGlite's serializer type says string; a byte array is what its bind step sends, in binary format. */
export const BINARY_JSONB_PARAMS = { serializers: { [JSONB_OID]: (bytes: Uint8Array) => bytes as unknown as string } };
