import { describe, expect, it } from 'vitest';

import { MAX_SKIP, MAX_TIE_PASSES, TimePaging, type PagedCall, type PageSeen } from '../time-paging.js';

const WINDOW = { timeAfter: new Date('2026-01-01T00:00:00.000Z'), timeBefore: new Date('2026-02-01T00:00:00.000Z') };
const HOUR_MS = 3_600_000;

/** Calls `call-<first>`... one an hour, newest first, counting back from the window's end. */
function calls(first: number, count: number): PagedCall[] {
    return Array.from({ length: count }, (_, index) => ({
        id: `call-${first + index}`,
        timeMs: WINDOW.timeBefore.getTime() - (first + index + 1) * HOUR_MS
    }));
}

function page(listed: PagedCall[], more: Partial<PageSeen<PagedCall>> = {}): PageSeen<PagedCall> {
    return { calls: listed, rows: listed.length, limit: 100, hasMore: listed.length === 100, matched: null, ...more };
}

const at = (timeMs: number, ...ids: string[]): PagedCall[] => ids.map((id) => ({ id, timeMs }));

describe('TimePaging', () => {
    it('starts at the window, newest first, and bounds each next query by the oldest call time seen', () => {
        const paging = new TimePaging(WINDOW);
        expect(paging.query).toEqual({ ...WINDOW, skip: 0 });
        expect(paging.isFirstPage).toBe(true);
        const first = calls(0, 100);
        expect(paging.take(page(first)).fresh).toHaveLength(100);
        expect(paging.isFirstPage).toBe(false);
        const oldest = first.at(-1)?.timeMs ?? 0;
        // Inclusive of the oldest time, skipping the one call already listed at it.
        expect(paging.query).toEqual({ timeAfter: WINDOW.timeAfter, timeBefore: new Date(oldest + 1), skip: 1 });
        expect(paging.take(page(calls(100, 40), { hasMore: false }))).toEqual({ fresh: calls(100, 40), more: false });
        expect(paging.complete).toBe(true);
    });

    it('skips every call already listed at the bound, however many share it', () => {
        const paging = new TimePaging(WINDOW);
        const t = WINDOW.timeBefore.getTime() - 150 * HOUR_MS;
        paging.take(page([...calls(0, 97), ...at(t, 'a', 'b', 'c')]));
        expect(paging.query).toMatchObject({ timeBefore: new Date(t + 1), skip: 3 });
        // The next page holds the rest of that hour: the bound stays, the skip grows.
        paging.take(page([...at(t, 'd', 'e'), ...at(t - HOUR_MS, 'f')], { hasMore: true, rows: 3 }));
        expect(paging.query).toMatchObject({ timeBefore: new Date(t - HOUR_MS + 1), skip: 1 });
    });

    it('ends on hasMore false, on an empty page, and without a pagination block only on an empty page', () => {
        expect(new TimePaging(WINDOW).take(page(calls(0, 100), { hasMore: false })).more).toBe(false);
        expect(new TimePaging(WINDOW).take(page([], { hasMore: true })).more).toBe(false);
        // A 99-row page without pagination may be a truncated one: listing goes on until a page is empty.
        const truncated = new TimePaging(WINDOW);
        expect(truncated.take(page(calls(0, 99), { hasMore: null })).more).toBe(true);
        expect(truncated.take(page(calls(99, 1), { hasMore: null })).more).toBe(true);
        expect(truncated.take(page([], { hasMore: null })).more).toBe(false);
    });

    it('lists the calls of one time on their own when Clari ordered them differently between two queries', () => {
        const paging = new TimePaging(WINDOW);
        const t = WINDOW.timeBefore.getTime() - 150 * HOUR_MS;
        paging.take(page([...calls(0, 98), ...at(t, 'a', 'b')]));
        // Asked to skip 2 at that time, Clari skipped b and c: b shows again, so c may have been passed over.
        const reordered = paging.take(page([...at(t, 'b', 'd'), ...calls(200, 98)]));
        expect(reordered.fresh.map((call) => call.id)).toEqual(['d']);
        expect(paging.query).toEqual({ timeAfter: new Date(t - 1), timeBefore: new Date(t + 1), skip: 0 });
        const group = paging.take(page(at(t, 'd', 'c', 'a', 'b'), { hasMore: false, matched: 4 }));
        expect(group.fresh.map((call) => call.id)).toEqual(['c']);
        expect(group.more).toBe(true);
        // Then strictly before that time, from skip 0: the older calls of the reordered page come again.
        expect(paging.query).toEqual({ timeAfter: WINDOW.timeAfter, timeBefore: new Date(t), skip: 0 });
        expect(paging.complete).toBe(true);
    });

    it('pages a time shared by a whole page on its own, passing again until it has every call Clari counts', () => {
        const paging = new TimePaging(WINDOW);
        const t = WINDOW.timeBefore.getTime() - HOUR_MS;
        const group = Array.from({ length: 150 }, (_, index) => ({ id: `tie-${index}`, timeMs: t }));
        paging.take(page(group.slice(0, 100)));
        expect(paging.query).toEqual({ timeAfter: new Date(t - 1), timeBefore: new Date(t + 1), skip: 0 });
        // First pass: Clari's order moved, so the two pages overlap and 10 calls are never shown.
        paging.take(page(group.slice(0, 100), { matched: 150 }));
        expect(paging.query.skip).toBe(100);
        paging.take(page(group.slice(40, 90), { hasMore: false, matched: 150, rows: 50 }));
        expect(paging.query.skip).toBe(0);
        const second = paging.take(page(group.slice(50, 150), { matched: 150 }));
        expect(second.fresh.map((call) => call.id)).toEqual(group.slice(100, 150).map((call) => call.id));
        paging.take(page(group.slice(0, 50), { hasMore: false, matched: 150, rows: 50 }));
        expect(paging.query).toEqual({ timeAfter: WINDOW.timeAfter, timeBefore: new Date(t), skip: 0 });
        expect(paging.complete).toBe(true);
    });

    it(`marks the window incomplete when ${MAX_TIE_PASSES} passes over one time still miss calls`, () => {
        const paging = new TimePaging(WINDOW);
        const t = WINDOW.timeBefore.getTime() - HOUR_MS;
        const group = Array.from({ length: 100 }, (_, index) => ({ id: `tie-${index}`, timeMs: t }));
        paging.take(page(group));
        for (let pass = 1; pass <= MAX_TIE_PASSES; pass++) {
            paging.take(page(group, { hasMore: false, matched: 120 }));
        }
        expect(paging.complete).toBe(false);
        expect(paging.query).toEqual({ timeAfter: WINDOW.timeAfter, timeBefore: new Date(t), skip: 0 });
    });

    it('refuses a time shared by more calls than skip can reach, and a page of rows without a valid time', () => {
        const paging = new TimePaging(WINDOW);
        const t = WINDOW.timeBefore.getTime() - HOUR_MS;
        const full = (from: number): PagedCall[] => Array.from({ length: 100 }, (_, index) => ({ id: `tie-${from + index}`, timeMs: t }));
        paging.take(page(full(0)));
        expect(() => {
            for (let skip = 0; skip <= MAX_SKIP; skip += 100) {
                paging.take(page(full(skip), { hasMore: true }));
            }
        }).toThrow(/more than 10000 calls share the call time/);
        expect(() => new TimePaging(WINDOW).take(page([], { rows: 100, hasMore: true }))).toThrow(/without a valid call time/);
    });
});
