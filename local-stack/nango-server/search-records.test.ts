import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { InvalidCursorError } from './records.js';
import { makeTempDir } from './test-helpers.js';

const MODEL = 'Call';
const CONNECTION = 'search';

describe('searchRecords', () => {
    const tmp = makeTempDir('search-records-test');
    let store: LocalStore;

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        const titles = ['Quarterly review', 'Intro call', 'QUARTERLY planning', '100% renewal', 'A_B test', 'back\\slash', 'Demo'];
        await store.records.saveRecords(
            CONNECTION,
            MODEL,
            titles.map((title, index) => ({ id: `c${index}`, title })),
            'e1'
        );
        await store.records.saveRecords(CONNECTION, MODEL, [{ id: 'untitled', title: null }], 'e1');
        await store.records.saveRecords('other', MODEL, [{ id: 'elsewhere', title: 'Quarterly review' }], 'e1');
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    const search = async (text: string, options: { limit?: number; cursor?: string } = {}) =>
        store.records.searchRecords({ connectionId: CONNECTION, model: MODEL, text, ...options });

    it('finds titles containing the text, any case, in the records API order and shape', async () => {
        const found = await search('quarterly');
        expect(found.records.map((record) => record.id)).toEqual(['c0', 'c2']);
        expect(found.next_cursor).toBeNull();
        const listed = await store.records.listRecords({ connectionId: CONNECTION, model: MODEL, ids: ['c0', 'c2'] });
        expect(found.records).toEqual(listed.records);
    });

    it('takes % _ and \\ literally', async () => {
        expect((await search('%')).records.map((record) => record.id)).toEqual(['c3']);
        expect((await search('_')).records.map((record) => record.id)).toEqual(['c4']);
        expect((await search('\\')).records.map((record) => record.id)).toEqual(['c5']);
        expect((await search('zzz')).records).toEqual([]);
    });

    it('pages with cursors that continue where the page ended', async () => {
        const first = await search('a', { limit: 2 });
        expect(first.records.map((record) => record.id)).toEqual(['c0', 'c1']);
        expect(first.next_cursor).not.toBeNull();
        const second = await search('a', { limit: 2, cursor: first.next_cursor ?? '' });
        expect(second.records.map((record) => record.id)).toEqual(['c2', 'c3']);
        const third = await search('a', { limit: 2, cursor: second.next_cursor ?? '' });
        expect(third.records.map((record) => record.id)).toEqual(['c4', 'c5']);
        expect(third.next_cursor).toBeNull();
    });

    it('moves a record saved again between pages to the end, as the records API does', async () => {
        const first = await search('a', { limit: 4 });
        expect(first.records.map((record) => record.id)).toEqual(['c0', 'c1', 'c2', 'c3']);
        await store.records.saveRecords(CONNECTION, MODEL, [{ id: 'c1', title: 'Intro call, rescheduled' }], 'e2');
        const second = await search('a', { limit: 4, cursor: first.next_cursor ?? '' });
        expect(second.records.map((record) => record.id)).toEqual(['c4', 'c5', 'c1']);
    });

    it('refuses a cursor it did not give out and a limit out of range', async () => {
        await expect(search('a', { cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(search('a', { limit: 0 })).rejects.toBeInstanceOf(RangeError);
    });
});
