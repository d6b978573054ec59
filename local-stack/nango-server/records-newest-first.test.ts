import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { InvalidCursorError, type NewestFirstQuery } from './records.js';
import { makeTempDir } from './test-helpers.js';

const MODEL = 'Call';
const CONNECTION = 'newest-first';

/** Calls saved in an order unrelated to their call times, so that save order cannot pass for time order. */
const CALLS = [
    { id: 'c0', title: 'Quarterly review', time: '2026-03-02T09:00:00.000Z' },
    { id: 'c1', title: 'Intro call', time: '2026-03-05T09:00:00.000Z' },
    { id: 'c2', title: 'QUARTERLY planning', time: '2025-11-20T09:00:00.000Z' },
    { id: 'c3', title: '100% renewal', time: '2026-03-04T09:00:00.000Z' },
    { id: 'c4', title: 'A_B test', time: '2026-01-10T09:00:00.000Z' },
    { id: 'c5', title: 'back\\slash', time: '2026-02-14T09:00:00.000Z' },
    { id: 'c6', title: 'Demo', time: '2026-03-03T09:00:00.000Z' }
];

describe('listNewestFirst', () => {
    const tmp = makeTempDir('newest-first-test');
    let store: LocalStore;

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.records.saveRecords(CONNECTION, MODEL, CALLS, 'e1');
        await store.records.saveRecords(CONNECTION, MODEL, [{ id: 'untimed', title: null }], 'e1');
        await store.records.saveRecords(
            'other',
            MODEL,
            [{ id: 'elsewhere', title: 'Quarterly review', time: '2027-01-01T00:00:00.000Z' }],
            'e1'
        );
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    const list = (query: Partial<NewestFirstQuery> = {}) =>
        store.records.listNewestFirst({ connectionId: CONNECTION, model: MODEL, ...query });
    const ids = (page: { records: { id: string }[] }) => page.records.map((record) => record.id);

    it('lists newest call time first, a record without a time last, shaped as the records API shapes them', async () => {
        const page = await list();
        expect(ids(page)).toEqual(['c1', 'c3', 'c6', 'c0', 'c5', 'c4', 'c2', 'untimed']);
        expect(page.total).toBe(8);
        expect(page.next_cursor).toBeNull();
        const listed = await store.records.listRecords({ connectionId: CONNECTION, model: MODEL, ids: ['c1'] });
        expect(page.records[0]).toEqual(listed.records[0]);
    });

    it('filters by title, any case, with % _ and \\ taken literally, and counts every match', async () => {
        const quarterly = await list({ titleContains: 'quarterly' });
        expect(ids(quarterly)).toEqual(['c0', 'c2']);
        expect(quarterly.total).toBe(2);
        expect(ids(await list({ titleContains: '%' }))).toEqual(['c3']);
        expect(ids(await list({ titleContains: '_' }))).toEqual(['c4']);
        expect(ids(await list({ titleContains: '\\' }))).toEqual(['c5']);
        expect(await list({ titleContains: 'zzz' })).toEqual({ records: [], next_cursor: null, total: 0 });
    });

    it('pages with cursors, the total counting all pages', async () => {
        const first = await list({ titleContains: 'a', limit: 2 });
        expect(ids(first)).toEqual(['c1', 'c3']);
        expect(first.total).toBe(6);
        const second = await list({ titleContains: 'a', limit: 2, cursor: first.next_cursor ?? '' });
        expect(ids(second)).toEqual(['c0', 'c5']);
        const third = await list({ titleContains: 'a', limit: 2, cursor: second.next_cursor ?? '' });
        expect(ids(third)).toEqual(['c4', 'c2']);
        expect(third.next_cursor).toBeNull();
    });

    it('keeps a record saved again between pages where its call time puts it: no repeat, no gap', async () => {
        const first = await list({ limit: 3 });
        expect(ids(first)).toEqual(['c1', 'c3', 'c6']);
        await store.records.saveRecords(CONNECTION, MODEL, [{ ...CALLS[1], title: 'Intro call, notes added' }], 'e2');
        await store.records.saveRecords(CONNECTION, MODEL, [{ ...CALLS[4], title: 'A_B test, renamed' }], 'e2');
        const rest = await list({ limit: 10, cursor: first.next_cursor ?? '' });
        expect(ids(rest)).toEqual(['c0', 'c5', 'c4', 'c2', 'untimed']);
    });

    it('refuses a cursor it did not give out, the records API’s included, and a limit out of range', async () => {
        const apiCursor = (await store.records.listRecords({ connectionId: CONNECTION, model: MODEL, limit: 1 })).next_cursor ?? '';
        await expect(list({ cursor: apiCursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(list({ cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(list({ cursor: Buffer.from('time:["x","1e9"]').toString('base64url') })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(list({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
    });
});
