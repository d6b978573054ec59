import { CALL_STATUSES, CALL_TYPES } from './types.js';

/** Parsing and validation of /calls and /call-details query strings, with the spec's bounds. */

export class BadRequestError extends Error {
    override name = 'BadRequestError';
}

export type SortOrder = 'asc' | 'desc';

export interface ListQuery {
    skip: number;
    limit: number;
    timeGt?: number;
    timeLt?: number;
    modifiedGt?: number;
    modifiedLt?: number;
    statuses?: ReadonlySet<string>;
    types?: ReadonlySet<string>;
    /** Lower-cased emails. */
    users?: ReadonlySet<string>;
    attendees?: ReadonlySet<string>;
    topics?: ReadonlySet<string>;
    sourceIds?: ReadonlySet<string>;
    durationGt?: number;
    durationLt?: number;
    sortTime?: SortOrder;
    sortProcessed?: SortOrder;
    includePrivate: boolean;
    includeAudio: boolean;
    includeVideo: boolean;
    includePagination: boolean;
}

export interface DetailsQuery {
    id: string;
    includeAudio: boolean;
    includeVideo: boolean;
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Parses an ISO 8601 date-time with an explicit offset; rejects impossible dates such as 2024-02-30. */
export function parseIsoDateTime(value: string): number | undefined {
    const match = ISO_DATE_TIME.exec(value);
    if (!match) {
        return undefined;
    }
    const [, year, month, day, hour, minute, second = '00', fraction = '', zone = 'Z'] = match;
    const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
    const millis = fraction === '' ? '' : `.${fraction.slice(1, 4).padEnd(3, '0')}`;
    const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${millis}${offset}`);
    const check = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    const sameDay =
        check.getUTCFullYear() === Number(year) && check.getUTCMonth() === Number(month) - 1 && check.getUTCDate() === Number(day);
    return Number.isNaN(ms) || !sameDay || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59 ? undefined : ms;
}

function single(params: URLSearchParams, name: string): string | undefined {
    return params.get(name) ?? undefined;
}

function multi(params: URLSearchParams, name: string): string[] | undefined {
    const values = params
        .getAll(name)
        .flatMap((value) => value.split(','))
        .map((value) => value.trim())
        .filter((value) => value !== '');
    return values.length > 0 ? values : undefined;
}

function integer(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
    const raw = single(params, name);
    if (raw === undefined) {
        return undefined;
    }
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        throw new BadRequestError(`Invalid ${name}: "${raw}". It should be an integer between ${min} and ${max}.`);
    }
    return Number(raw);
}

function dateTime(params: URLSearchParams, name: string): number | undefined {
    const raw = single(params, name);
    if (raw === undefined) {
        return undefined;
    }
    const ms = parseIsoDateTime(raw);
    if (ms === undefined) {
        // A "+" that was not URL-encoded arrives as a space: say so, it is the usual mistake.
        const hint = raw.includes(' ') ? ' (is the "+" of the offset URL-encoded as %2B?)' : '';
        throw new BadRequestError(`Invalid ${name}: "${raw}". Use an ISO date-time such as 2020-01-01T00:00:00Z${hint}.`);
    }
    return ms;
}

function flag(params: URLSearchParams, name: string, fallback: boolean): boolean {
    const raw = single(params, name);
    if (raw === undefined) {
        return fallback;
    }
    if (raw === 'true' || raw === '1') {
        return true;
    }
    if (raw === 'false' || raw === '0') {
        return false;
    }
    throw new BadRequestError(`Invalid ${name}: "${raw}". Allowed values: true, false, 0, 1.`);
}

function enumSet(params: URLSearchParams, name: string, allowed: readonly string[]): ReadonlySet<string> | undefined {
    const values = multi(params, name);
    const unknown = values?.find((value) => !allowed.includes(value));
    if (unknown !== undefined) {
        throw new BadRequestError(`Invalid ${name}: "${unknown}". Allowed values: ${allowed.join(', ')}.`);
    }
    return values && new Set(values);
}

function lowerSet(params: URLSearchParams, name: string): ReadonlySet<string> | undefined {
    const values = multi(params, name);
    return values && new Set(values.map((value) => value.toLowerCase()));
}

function sortOrder(params: URLSearchParams, name: string): SortOrder | undefined {
    const raw = single(params, name);
    if (raw === undefined || raw === 'asc' || raw === 'desc') {
        return raw;
    }
    throw new BadRequestError(`Invalid ${name}: "${raw}". Allowed values: asc, desc.`);
}

/** Copies only the defined entries, as exactOptionalPropertyTypes wants. */
function defined<T extends object>(entries: T): { [K in keyof T]: Exclude<T[K], undefined> } {
    return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as {
        [K in keyof T]: Exclude<T[K], undefined>;
    };
}

export function parseListQuery(params: URLSearchParams): ListQuery {
    return {
        skip: integer(params, 'skip', 0, 10_000) ?? 0,
        limit: integer(params, 'limit', 1, 100) ?? 25,
        includePrivate: flag(params, 'includePrivate', false),
        includeAudio: flag(params, 'includeAudio', false),
        includeVideo: flag(params, 'includeVideo', false),
        includePagination: flag(params, 'includePagination', true),
        ...defined({
            timeGt: dateTime(params, 'filterTimeGt'),
            timeLt: dateTime(params, 'filterTimeLt'),
            modifiedGt: dateTime(params, 'filterModifiedGt'),
            modifiedLt: dateTime(params, 'filterModifiedLt'),
            statuses: enumSet(params, 'filterStatus', CALL_STATUSES),
            types: enumSet(params, 'filterType', CALL_TYPES),
            users: lowerSet(params, 'filterUser'),
            attendees: lowerSet(params, 'filterAttendees'),
            topics: lowerSet(params, 'filterTopics'),
            sourceIds: multi(params, 'filterSourceId') && new Set(multi(params, 'filterSourceId')),
            durationGt: integer(params, 'filterDurationGt', 0, 7200),
            durationLt: integer(params, 'filterDurationLt', 0, 7200),
            sortTime: sortOrder(params, 'sortTime'),
            sortProcessed: sortOrder(params, 'sortProcessed')
        })
    };
}

export function parseDetailsQuery(params: URLSearchParams): DetailsQuery {
    const id = single(params, 'id');
    if (id === undefined || id.trim() === '') {
        throw new BadRequestError('Missing required parameter: id.');
    }
    return { id, includeAudio: flag(params, 'includeAudio', false), includeVideo: flag(params, 'includeVideo', false) };
}
