import { describe, expect, it } from 'vitest';

import { MAX_SKIP, OffsetPaging, type PageSeen } from '../offset-paging.js';

const WINDOW_START = new Date('2026-01-01T00:00:00.000Z');
const MINUTE_MS = 60_000;

/** A full page of `rows` calls numbered from `first`, one a minute after the window start. */
function page(first: number, rows: number, pagination: Partial<PageSeen> = {}): PageSeen {
    const calls = Array.from({ length: rows }, (_, index) => ({
        id: `call-${first + index}`,
        timeMs: WINDOW_START.getTime() + (first + index) * MINUTE_MS
    }));
    return { calls, rows, limit: 100, ...pagination };
}

const ids = (count: number, first = 0): { id: string }[] => Array.from({ length: count }, (_, index) => ({ id: `call-${first + index}` }));

describe('OffsetPaging', () => {
    it('starts at the window start, skip 0, on its first page', () => {
        const paging = new OffsetPaging(WINDOW_START);
        expect(paging.position).toEqual({ timeAfter: WINDOW_START, skip: 0 });
        expect(paging.isFirstPage).toBe(true);
        expect(paging.advance(page(0, 100, { hasMore: true, nextPageSkip: 100 }))).toBe(true);
        expect(paging.isFirstPage).toBe(false);
        expect(paging.position).toEqual({ timeAfter: WINDOW_START, skip: 100 });
    });

    it('follows nextPageSkip, or counts rows (invalid ones included) when Clari does not send it', () => {
        const paging = new OffsetPaging(WINDOW_START);
        paging.advance(page(0, 100, { hasMore: true, nextPageSkip: 100 }));
        paging.advance({ ...page(100, 98), rows: 100, hasMore: true });
        expect(paging.position.skip).toBe(200);
    });

    it('stops when Clari says there is no more, on an empty page, and on a short page when it does not say', () => {
        expect(new OffsetPaging(WINDOW_START).advance(page(0, 100, { hasMore: false, nextPageSkip: 100 }))).toBe(false);
        expect(new OffsetPaging(WINDOW_START).advance(page(0, 0, { hasMore: true }))).toBe(false);
        expect(new OffsetPaging(WINDOW_START).advance(page(0, 99))).toBe(false);
        expect(new OffsetPaging(WINDOW_START).advance(page(0, 100))).toBe(true);
    });

    it('keeps every call the previous page did not list', () => {
        const paging = new OffsetPaging(WINDOW_START);
        expect(paging.dropSeen(ids(3))).toEqual(ids(3));
        paging.advance(page(0, 100, { hasMore: true, matched: 300, nextPageSkip: 100 }));
        expect(paging.dropSeen(ids(3, 100))).toEqual(ids(3, 100));
    });

    it('steps back by as many calls as vanished from the query since the last page, and drops the calls listed again', () => {
        const paging = new OffsetPaging(WINDOW_START);
        paging.advance(page(0, 100, { hasMore: true, matched: 300, nextPageSkip: 100 }));
        // Three calls of the first page vanished: the old 103rd call is now the 100th.
        paging.advance(page(103, 100, { hasMore: true, matched: 297, nextPageSkip: 200 }));
        expect(paging.position.skip).toBe(197);
        // So the next page starts with three calls this one already had.
        expect(paging.dropSeen([...ids(3, 200), ...ids(2, 203)])).toEqual(ids(2, 203));
    });

    it('never steps back before the window start', () => {
        const paging = new OffsetPaging(WINDOW_START);
        paging.advance(page(0, 100, { hasMore: true, matched: 300, nextPageSkip: 100 }));
        paging.advance(page(100, 100, { hasMore: true, matched: 50, nextPageSkip: 200 }));
        expect(paging.position.skip).toBe(0);
    });

    it('restarts at skip 0 from 1 ms before the latest call seen when the next page would pass the skip cap', () => {
        const paging = new OffsetPaging(WINDOW_START);
        paging.advance(page(0, 100, { hasMore: true, matched: 20_000, nextPageSkip: MAX_SKIP }));
        expect(paging.position.skip).toBe(MAX_SKIP);
        paging.advance(page(MAX_SKIP, 100, { hasMore: true, matched: 20_000, nextPageSkip: MAX_SKIP + 100 }));
        const latest = WINDOW_START.getTime() + (MAX_SKIP + 99) * MINUTE_MS;
        expect(paging.position).toEqual({ timeAfter: new Date(latest - 1), skip: 0 });
        // The restart lists the latest call again (Gt is exclusive), and only that one is a repeat.
        expect(paging.dropSeen([...ids(1, MAX_SKIP + 99), ...ids(1, MAX_SKIP + 100)])).toEqual(ids(1, MAX_SKIP + 100));
    });

    it('does not step back across a restart, whose query matches fewer calls', () => {
        const paging = new OffsetPaging(WINDOW_START);
        paging.advance(page(0, 100, { hasMore: true, matched: 20_000, nextPageSkip: MAX_SKIP + 100 }));
        paging.advance(page(100, 100, { hasMore: true, matched: 9_900, nextPageSkip: 100 }));
        expect(paging.position.skip).toBe(100);
    });

    it('fails when more than MAX_SKIP calls share call times, since a restart could not move forward', () => {
        const paging = new OffsetPaging(WINDOW_START);
        const sameTime = page(0, 100, { hasMore: true, nextPageSkip: MAX_SKIP + 100 });
        const calls = sameTime.calls.map((call) => ({ ...call, timeMs: WINDOW_START.getTime() + 1 }));
        expect(() => paging.advance({ ...sameTime, calls })).toThrow(/Cannot page past skip=10000/);
    });
});
