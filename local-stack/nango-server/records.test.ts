import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { InvalidCursorError, type NangoRecord } from './records.js';
import { liveRecords, makeTempDir } from './test-helpers.js';

const MODEL = 'Call';

function byId(records: NangoRecord[]): Map<string, NangoRecord> {
    return new Map(records.map((r) => [r.id, r]));
}

async function all(store: LocalStore, connectionId: string): Promise<Map<string, NangoRecord>> {
    return byId((await store.records.listRecords({ connectionId, model: MODEL, limit: 10_000 })).records);
}

function meta(records: Map<string, NangoRecord>, id: string): NangoRecord['_nango_metadata'] {
    const record = records.get(id);
    if (!record) {
        throw new Error(`record ${id} missing`);
    }
    return record._nango_metadata;
}

describe('records', () => {
    const tmp = makeTempDir('records-test');
    let store: LocalStore;

    beforeAll(async () => {
        // Two rows per statement so a batch spans several statements inside its transaction.
        store = await openStore({ dir: tmp.dir, chunkSize: 2 });
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    it('classifies added, updated and unchanged records; unchanged keeps updated_at and last_action', async () => {
        const c = 'conn-classify';
        const first = await store.records.saveRecords(
            c,
            MODEL,
            [{ id: 'a', title: 'A' }, { id: 'b', title: 'B', nested: { x: 1, y: 2 } }, { id: 3 }],
            'e1'
        );
        expect(first).toEqual({ added: ['a', 'b', '3'], updated: [], unchanged: [], undeleted: [] });
        const before = await all(store, c);
        expect(meta(before, 'a').last_action).toBe('ADDED');
        expect(meta(before, 'a').first_seen_at).toBe(meta(before, 'a').last_modified_at);

        // Same data for b with keys in another order must count as unchanged.
        const second = await store.records.saveRecords(
            c,
            MODEL,
            [
                { id: 'b', nested: { y: 2, x: 1 }, title: 'B' },
                { id: 'a', title: 'A2' }
            ],
            'e2'
        );
        expect(second).toEqual({ added: [], updated: ['a'], unchanged: ['b'], undeleted: [] });
        const after = await all(store, c);
        expect(meta(after, 'b')).toEqual(meta(before, 'b'));
        expect(meta(after, 'a').last_action).toBe('UPDATED');
        expect(meta(after, 'a').first_seen_at).toBe(meta(before, 'a').first_seen_at);
        expect(Date.parse(meta(after, 'a').last_modified_at)).toBeGreaterThan(Date.parse(meta(before, 'a').last_modified_at));
        expect(after.get('a')?.['title']).toBe('A2');

        // Unchanged b was still marked as seen by e2: only the unseen record 3 goes.
        expect(await store.records.deleteRecordsFromPreviousExecutions(c, MODEL, 'e2')).toEqual({ deletedKeys: ['3'] });
    });

    it('keeps the last occurrence of a duplicate id in one batch', async () => {
        const c = 'conn-dupes';
        const summary = await store.records.saveRecords(c, MODEL, [{ id: 'x', v: 1 }, { id: 'y' }, { id: 'x', v: 2 }], 'e1');
        expect(summary.added.sort()).toEqual(['x', 'y']);
        expect((await liveRecords(store, c, MODEL, ['x'])).get('x')).toEqual({ id: 'x', v: 2 });
    });

    it('soft-deletes, ignores repeated and unknown deletes, and un-deletes on a later save', async () => {
        const c = 'conn-delete';
        await store.records.saveRecords(c, MODEL, [{ id: 'a', v: 1 }, { id: 'b' }], 'e1');
        const saved = await all(store, c);

        expect(await store.records.deleteRecords(c, MODEL, ['a', 'nope'], 'e2')).toEqual({ deletedKeys: ['a'] });
        const deleted = await all(store, c);
        const deletedMeta = meta(deleted, 'a');
        expect(deletedMeta.last_action).toBe('DELETED');
        expect(deletedMeta.deleted_at).not.toBeNull();
        expect(deletedMeta.deleted_at).toBe(deletedMeta.last_modified_at);
        expect(deleted.get('a')?.['v']).toBe(1);
        expect([...(await liveRecords(store, c, MODEL, ['a', 'b'])).keys()]).toEqual(['b']);

        expect(await store.records.deleteRecords(c, MODEL, ['a'], 'e3')).toEqual({ deletedKeys: [] });
        expect(meta(await all(store, c), 'a')).toEqual(deletedMeta);

        const resaved = await store.records.saveRecords(c, MODEL, [{ id: 'a', v: 1 }], 'e4');
        expect(resaved).toEqual({ added: [], updated: [], unchanged: [], undeleted: ['a'] });
        const back = meta(await all(store, c), 'a');
        expect(back.deleted_at).toBeNull();
        expect(back.last_action).toBe('UPDATED');
        expect(back.first_seen_at).toBe(meta(saved, 'a').first_seen_at);
        expect(Date.parse(back.last_modified_at)).toBeGreaterThan(Date.parse(deletedMeta.last_modified_at));
    });

    it('deleteRecordsFromPreviousExecutions removes only live records this execution did not save', async () => {
        const c = 'conn-prev';
        await store.records.saveRecords(c, MODEL, [{ id: '1' }, { id: '2' }, { id: '3' }], 'e1');
        await store.records.deleteRecords(c, MODEL, ['3'], 'e1');
        await store.records.saveRecords(c, MODEL, [{ id: '2' }], 'e2');
        await store.records.saveRecords(c, 'Other', [{ id: '9' }], 'e1');

        expect(await store.records.deleteRecordsFromPreviousExecutions(c, MODEL, 'e2')).toEqual({ deletedKeys: ['1'] });
        expect([...(await liveRecords(store, c, MODEL, ['1', '2', '3'])).keys()]).toEqual(['2']);
        expect((await liveRecords(store, c, 'Other', ['9'])).size).toBe(1);
        expect(await store.records.deleteRecordsFromPreviousExecutions(c, MODEL, 'e2')).toEqual({ deletedKeys: [] });
    });

    describe('record lifecycle', () => {
        it('prunes up to and including a cursor, at most `limit` at a time, answering count and has_more as Nango does', async () => {
            const c = 'conn-prune';
            await store.records.saveRecords(
                c,
                MODEL,
                [
                    { id: 'r1', v: 1 },
                    { id: 'r2', v: 2 },
                    { id: 'r3', v: 3 }
                ],
                'e1'
            );
            const [, second, third] = (await store.records.listRecords({ connectionId: c, model: MODEL })).records;
            const untilSecond = second?._nango_metadata.cursor ?? '';
            const untilLast = third?._nango_metadata.cursor ?? '';

            expect(await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: untilSecond, limit: 1 })).toEqual({
                count: 1,
                has_more: true
            });
            expect(await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: untilSecond })).toEqual({
                count: 1,
                has_more: false
            });
            expect(await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: untilLast })).toEqual({
                count: 1,
                has_more: false
            });
            expect(await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: untilLast })).toEqual({
                count: 0,
                has_more: false
            });
            await expect(
                store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: 'bm90IGEgY3Vyc29y' })
            ).rejects.toBeInstanceOf(InvalidCursorError);
        });

        it('serves a pruned record as id and metadata only, keeping updated_at, last_action and the cursor', async () => {
            const c = 'conn-pruned-shape';
            await store.records.saveRecords(
                c,
                MODEL,
                [
                    { id: 'p1', title: 'kept' },
                    { id: 'p2', title: 'pruned' }
                ],
                'e1'
            );
            await store.records.saveRecords(c, MODEL, [{ id: 'p2', title: 'pruned, v2' }], 'e2');
            const before = await all(store, c);
            const cursor = meta(before, 'p2').cursor;
            expect(meta(before, 'p1').pruned_at).toBeNull();

            expect(await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: cursor })).toEqual({
                count: 2,
                has_more: false
            });
            const after = await all(store, c);
            expect(after.get('p2')).toEqual({
                id: 'p2',
                _nango_metadata: { ...meta(before, 'p2'), pruned_at: expect.any(String) as unknown }
            });
            expect(Object.keys(after.get('p1') ?? {}).sort()).toEqual(['_nango_metadata', 'id']);
            expect(meta(after, 'p2').last_action).toBe('UPDATED');
            // Paging from a cursor taken before the prune sees the same order.
            const page = await store.records.listRecords({ connectionId: c, model: MODEL, cursor: meta(before, 'p1').cursor });
            expect(page.records.map((record) => record.id)).toEqual(['p2']);
        });

        it('restores a pruned payload on save: unchanged when the hash is the same, UPDATED when it differs', async () => {
            const c = 'conn-restore';
            await store.records.saveRecords(
                c,
                MODEL,
                [
                    { id: 'same', v: 1 },
                    { id: 'diff', v: 1 }
                ],
                'e1'
            );
            const before = await all(store, c);
            await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: meta(before, 'diff').cursor });
            await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: meta(before, 'same').cursor });

            const summary = await store.records.saveRecords(
                c,
                MODEL,
                [
                    { id: 'same', v: 1 },
                    { id: 'diff', v: 2 }
                ],
                'e2'
            );
            expect(summary).toEqual({ added: [], updated: ['diff'], unchanged: ['same'], undeleted: [] });
            const after = await all(store, c);
            expect(after.get('same')).toMatchObject({ id: 'same', v: 1 });
            expect(meta(after, 'same')).toEqual({ ...meta(before, 'same'), pruned_at: null });
            expect(after.get('diff')).toMatchObject({ id: 'diff', v: 2, _nango_metadata: { last_action: 'UPDATED', pruned_at: null } });
            expect(Date.parse(meta(after, 'diff').last_modified_at)).toBeGreaterThan(Date.parse(meta(before, 'diff').last_modified_at));
        });

        it('prunes every stale record of every connection and model, and nothing newer', async () => {
            await store.records.saveRecords('conn-stale-a', MODEL, [{ id: 'old-a', v: 1 }], 'e1');
            await store.records.saveRecords('conn-stale-b', 'Other', [{ id: 'old-b', v: 1 }], 'e1');
            const threshold = new Date();
            await new Promise((resolve) => setTimeout(resolve, 5));
            await store.records.saveRecords('conn-stale-a', MODEL, [{ id: 'fresh', v: 1 }], 'e2');

            expect(await store.records.pruneStale(threshold)).toBeGreaterThanOrEqual(2);
            const a = await all(store, 'conn-stale-a');
            expect(a.get('old-a')).toEqual({
                id: 'old-a',
                _nango_metadata: expect.objectContaining({ pruned_at: expect.any(String) as unknown }) as unknown
            });
            expect(a.get('fresh')).toMatchObject({ id: 'fresh', v: 1, _nango_metadata: { pruned_at: null } });
            const b = (await store.records.listRecords({ connectionId: 'conn-stale-b', model: 'Other' })).records;
            expect(b.map((record) => record._nango_metadata.pruned_at === null)).toEqual([false]);
            expect(await store.records.pruneStale(threshold)).toBe(0);
        });
    });

    it('writes a batch all or nothing when a statement fails mid-batch', async () => {
        const c = 'conn-tx';
        await store.records.saveRecords(c, MODEL, [{ id: 'keep', v: 1 }], 'e1');
        const before = await all(store, c);
        // jsonb rejects \u0000, so the third statement (rows 5-6) fails after two statements succeeded.
        const batch = [{ id: 'keep', v: 2 }, { id: 'n1' }, { id: 'n2' }, { id: 'n3' }, { id: 'n4' }, { id: 'bad', text: 'a\u0000b' }];
        await expect(store.records.saveRecords(c, MODEL, batch, 'e2')).rejects.toThrow();
        expect(await all(store, c)).toEqual(before);
        // The store stays usable after the rollback.
        expect((await store.records.saveRecords(c, MODEL, [{ id: 'n1' }], 'e3')).added).toEqual(['n1']);
    });

    it('serves every payload shape as JSON that parses to what listRecords returns: id as the external id, metadata last', async () => {
        const c = 'conn-json';
        const records = [
            { id: 'pruned', title: 'its payload goes' },
            { id: 'plain', title: 'Ünïcödé — "quoted" \\ and\nnewline 🎧', n: 1.5, list: [1, null, true] },
            { id: 7, title: 'a number id' },
            { a: 'a one-letter key sorts before id', id: 'short-key' },
            { id: 'own-metadata', _nango_metadata: { cursor: 'not ours' }, title: 'x' },
            { id: 'mentions', title: '_nango_metadata', body: '"_nango_metadata": {}' },
            { id: 'bare' }
        ];
        await store.records.saveRecords(c, MODEL, records, 'e1');
        const first = (await store.records.listRecords({ connectionId: c, model: MODEL, limit: 1 })).records[0];
        expect(first?.id).toBe('pruned');
        await store.records.pruneRecords({ connectionId: c, model: MODEL, untilCursor: first?._nango_metadata.cursor ?? '' });
        const json = await store.wire.listRecordsJson({ connectionId: c, model: MODEL, limit: 100 });
        const text = Buffer.from(json).toString('utf8');
        const served = JSON.parse(text) as { records: NangoRecord[]; next_cursor: string | null };
        // JSON.parse keeps the last of two equal keys, which would hide a payload's own id or metadata left in.
        expect(text.match(/"_nango_metadata": ?\{/g)).toHaveLength(records.length);
        expect(text.match(/"id": ?/g)).toHaveLength(records.length);
        const listed = await store.records.listRecords({ connectionId: c, model: MODEL, limit: 100 });
        expect(served).toEqual(listed);
        const byExternalId = byId(served.records);
        expect(Object.keys(byExternalId.get('pruned') ?? {})).toEqual(['id', '_nango_metadata']);
        expect(byExternalId.get('pruned')?._nango_metadata.pruned_at).toEqual(expect.stringMatching(/^\d{4}-/));
        expect(byExternalId.get('plain')).toMatchObject(records[1] as object);
        expect(Object.keys(byExternalId.get('bare') ?? {})).toEqual(['id', '_nango_metadata']);
        expect(byExternalId.get('bare')?._nango_metadata.pruned_at).toBeNull();
        expect(byExternalId.get('7')).toMatchObject({ id: '7', title: 'a number id' });
        expect(byExternalId.get('short-key')).toMatchObject({ id: 'short-key', a: 'a one-letter key sorts before id' });
        expect(byExternalId.get('own-metadata')?._nango_metadata.cursor).not.toBe('not ours');
        expect(byExternalId.get('mentions')).toMatchObject({ title: '_nango_metadata', body: '"_nango_metadata": {}' });
        for (const record of served.records) {
            expect(Object.keys(record).at(-1)).toBe('_nango_metadata');
            expect(Object.keys(record._nango_metadata).sort()).toEqual(
                ['cursor', 'deleted_at', 'first_seen_at', 'last_action', 'last_modified_at', 'pruned_at'].sort()
            );
        }
    });

    it('rejects records without an id and bad cursors', async () => {
        await expect(store.records.saveRecords('c', MODEL, [{ title: 'no id' }], 'e1')).rejects.toThrow(/no usable id/);
        await expect(store.records.listRecords({ connectionId: 'c', model: MODEL, cursor: 'bm90IGEgY3Vyc29y' })).rejects.toBeInstanceOf(
            InvalidCursorError
        );
    });
});
