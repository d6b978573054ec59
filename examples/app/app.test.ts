import { createHmac } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { buildReferenceApp } from './app.js';
import { CallCopy, type ListedRecord, type StreamKey } from './copy.js';
import { ChangePuller } from './pull.js';

/** The app's guarantees against a records API it controls: a list of changes in cursor order, paged by 2. */

const KEY: StreamKey = { providerConfigKey: 'clari-copilot', connectionId: 'c1', model: 'Call' };
const copies: CallCopy[] = [];

afterEach(async () => {
    await Promise.all(copies.splice(0).map((copy) => copy.close()));
});

function record(id: string, action: 'ADDED' | 'UPDATED' | 'DELETED', seq: number, data: Record<string, unknown> | null): ListedRecord {
    return {
        ...(data ?? {}),
        id,
        _nango_metadata: {
            last_action: action,
            pruned_at: data === null ? '2026-01-01T00:00:00.000Z' : null,
            cursor: String(seq).padStart(4, '0')
        }
    };
}

/** A stand-in for Nango's records API: everything after the cursor, in order; counts the pages it served. */
class FakeRecords {
    changes: ListedRecord[] = [];
    served: string[] = [];
    failNext = false;
    listRecords = (config: { cursor?: string | null; limit?: number }) => {
        const after = this.changes.filter((change) => config.cursor == null || change._nango_metadata.cursor > config.cursor);
        const page = after.slice(0, config.limit === undefined ? 2 : Math.min(2, config.limit));
        this.served.push(page.map((change) => change.id).join(','));
        return Promise.resolve({
            records: page,
            next_cursor: after.length > page.length ? (page.at(-1)?._nango_metadata.cursor ?? null) : null
        });
    };
}

async function setup(): Promise<{ copy: CallCopy; api: FakeRecords; puller: ChangePuller }> {
    const copy = await CallCopy.open();
    copies.push(copy);
    const api = new FakeRecords();
    // The fake answers the calls the puller makes; its types are the real client's.
    const puller = new ChangePuller(api as unknown as ConstructorParameters<typeof ChangePuller>[0], copy);
    return { copy, api, puller };
}

describe('the reference app', () => {
    it('upserts ADDED and UPDATED, deletes DELETED, and never lets a pruned stub overwrite its copy', async () => {
        const { copy, api, puller } = await setup();
        api.changes = [
            record('a', 'ADDED', 1, { title: 'A1' }),
            record('b', 'ADDED', 2, { title: 'B1' }),
            record('c', 'ADDED', 3, { title: 'C1' })
        ];
        await puller.pull(KEY);
        api.changes.push(
            record('a', 'UPDATED', 4, { title: 'A2' }),
            record('b', 'UPDATED', 5, null),
            record('c', 'DELETED', 6, { title: 'C1' })
        );
        const report = await puller.pull(KEY);
        expect(report).toMatchObject({ upserted: 1, deleted: 1, keptOverStubs: 1 });
        expect(Object.fromEntries(await copy.allCalls())).toEqual({ a: { id: 'a', title: 'A2' }, b: { id: 'b', title: 'B1' } });
        expect(await copy.search('b', 10)).toEqual([{ id: 'b', title: 'B1', time: null }]);
    });

    it('changes nothing on a replayed webhook, and loses nothing when it fails between the pull and the save', async () => {
        const { copy, api, puller } = await setup();
        api.changes = [
            record('a', 'ADDED', 1, { title: 'A' }),
            record('b', 'ADDED', 2, { title: 'B' }),
            record('c', 'ADDED', 3, { title: 'C' })
        ];
        await puller.pull(KEY);
        const cursor = await copy.cursor(KEY);
        expect(await puller.pull(KEY)).toMatchObject({ upserted: 0, deleted: 0 });
        expect(await copy.cursor(KEY)).toBe(cursor);

        // A page whose save fails (a crash, a full disk) leaves both its rows and the cursor as they were.
        api.changes.push(record('d', 'ADDED', 4, { title: 'D' }), record('e', 'ADDED', 5, { title: 'E' }));
        const apply = copy.applyPage.bind(copy);
        copy.applyPage = () => Promise.reject(new Error('killed before the commit'));
        await expect(puller.pull(KEY)).rejects.toThrow('killed before the commit');
        copy.applyPage = apply;
        expect(await copy.cursor(KEY)).toBe(cursor);
        await puller.pull(KEY);
        expect([...(await copy.allCalls()).keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('pulls each page once when webhooks arrive together, and once more for one that arrives mid-pull', async () => {
        const { copy, api, puller } = await setup();
        api.changes = [1, 2, 3, 4, 5].map((n) => record(`r${n}`, 'ADDED', n, { title: `R${n}` }));
        const reports = await Promise.all([puller.pull(KEY), puller.pull(KEY), puller.pull(KEY)]);
        expect(api.served.filter((page) => page !== '')).toEqual(['r1,r2', 'r3,r4', 'r5']);
        expect(reports[0]).toBe(reports[2]);
        expect(await copy.count()).toBe(5);

        // Two pullers on one copy (two processes): the cursor's compare-and-set lets one page in, once.
        const other = new ChangePuller(api as unknown as ConstructorParameters<typeof ChangePuller>[0], copy);
        api.changes.push(record('r6', 'ADDED', 6, { title: 'R6' }), record('r1', 'UPDATED', 7, { title: 'R1b' }));
        await Promise.all([puller.pull(KEY), other.pull(KEY)]);
        expect(await copy.count()).toBe(6);
        expect((await copy.getCall('r1'))?.data).toEqual({ id: 'r1', title: 'R1b' });
        expect(await copy.cursor(KEY)).toBe('0007');
    });

    it('answers a bad signature with 401 and logs it; a good one with 200 at once', async () => {
        const copy = await CallCopy.open();
        copies.push(copy);
        const lines: string[] = [];
        const { app } = buildReferenceApp(
            { nangoHost: 'http://127.0.0.1:9', secretKey: 's', webhookSigningKey: 'k', log: (line) => lines.push(line) },
            copy
        );
        const raw = JSON.stringify({ type: 'sync', success: false, connectionId: 'c1', providerConfigKey: 'clari-copilot', model: 'Call' });
        const sign = (body: string) => createHmac('sha256', 'k').update(body).digest('hex');
        const bad = await app.inject({
            method: 'POST',
            url: '/webhooks/nango',
            headers: { 'content-type': 'application/json', 'x-nango-hmac-sha256': sign(`${raw} `) },
            payload: raw
        });
        expect(bad.statusCode).toBe(401);
        expect(lines.some((line) => line.startsWith('webhook refused'))).toBe(true);
        const missing = await app.inject({
            method: 'POST',
            url: '/webhooks/nango',
            headers: { 'content-type': 'application/json' },
            payload: raw
        });
        expect(missing.statusCode).toBe(401);
        const good = await app.inject({
            method: 'POST',
            url: '/webhooks/nango',
            headers: { 'content-type': 'application/json', 'x-nango-hmac-sha256': sign(raw) },
            payload: raw
        });
        expect(good.statusCode).toBe(200);
        expect((await app.inject({ method: 'GET', url: '/calls/nope' })).statusCode).toBe(404);
        await app.close();
    });
});
