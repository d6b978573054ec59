import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startNangoServer, type RunningNangoServer } from './server.js';
import { openStore, type LocalStore } from './database.js';
import { makeTempDir } from './test-helpers.js';

const SECRET = 'local-secret-key';
const KEY = 'clari-copilot';
const CONN = 'conn-1';

type Page = Awaited<ReturnType<Nango['listRecords']>>;
type Filter = NonNullable<Parameters<Nango['listRecords']>[0]['filter']>;

describe('local Nango server', () => {
    const tmp = makeTempDir('server-test');
    let store: LocalStore;
    let server: RunningNangoServer;
    let nango: Nango;
    /** Every Call record in the order Nango must return them. */
    let expectedOrder: string[];

    const list = (config: Partial<Parameters<Nango['listRecords']>[0]> = {}) =>
        nango.listRecords({ providerConfigKey: KEY, connectionId: CONN, model: 'Call', ...config });

    const raw = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${server.url}${path}`, {
            headers: { Authorization: `Bearer ${SECRET}`, 'Connection-Id': CONN, 'Provider-Config-Key': KEY, ...headers }
        });

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: CONN,
            providerConfigKey: KEY,
            provider: 'clari-copilot',
            apiKey: 'k',
            apiPassword: 'p',
            metadata: { backfillDays: 3 }
        });
        const ids = Array.from({ length: 10 }, (_, i) => `c${i + 1}`);
        await store.records.saveRecords(
            CONN,
            'Call',
            ids.map((id) => ({ id, title: `call ${id}` })),
            'e1'
        );
        await store.records.saveRecords(CONN, 'Call', [{ id: 'c2', title: 'renamed' }], 'e2');
        await store.records.deleteRecords(CONN, 'Call', ['c3'], 'e3');
        await store.records.saveRecords(CONN, 'Other', [{ id: 'o1' }], 'e1');
        expectedOrder = [...ids.filter((id) => id !== 'c2' && id !== 'c3'), 'c2', 'c3'];
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        nango = new Nango({ secretKey: SECRET, host: server.url });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    describe('records API through @nangohq/node listRecords', () => {
        it('pages with small limits to the end, in (updated_at, id) order, without gaps or repeats', async () => {
            const seen: Page['records'] = [];
            let cursor: string | null = null;
            let pages = 0;
            do {
                const page: Page = await list({ limit: 3, cursor });
                expect(page.records.length).toBeLessThanOrEqual(3);
                seen.push(...page.records);
                cursor = page.next_cursor;
                pages++;
            } while (cursor !== null);
            expect(pages).toBe(4);
            expect(seen.map((r) => r.id)).toEqual(expectedOrder);
            const stamps = seen.map((r) => Date.parse(r._nango_metadata.last_modified_at));
            expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
        });

        it('returns next_cursor null when the last page is exactly full', async () => {
            const page = await list({ limit: 10 });
            expect(page.records).toHaveLength(10);
            expect(page.next_cursor).toBeNull();
            const short = await list({ limit: 9 });
            expect(short.next_cursor).toBe(short.records[8]?._nango_metadata.cursor);
        });

        it('defaults to 100 records and honours limit', async () => {
            expect((await list()).records).toHaveLength(10);
            const two = await list({ limit: 2 });
            expect(two.records.map((r) => r.id)).toEqual(['c1', 'c4']);
            expect(two.next_cursor).not.toBeNull();
        });

        it('returns the data with id and _nango_metadata', async () => {
            const { records } = await list({ ids: ['c2', 'c3', 'c4'] });
            const [c4, c2, c3] = records;
            expect(c4).toMatchObject({ id: 'c4', title: 'call c4', _nango_metadata: { last_action: 'ADDED', deleted_at: null } });
            expect(c4?._nango_metadata.first_seen_at).toBe(c4?._nango_metadata.last_modified_at);
            expect(c2).toMatchObject({ id: 'c2', title: 'renamed', _nango_metadata: { last_action: 'UPDATED', deleted_at: null } });
            expect(c3?._nango_metadata.last_action).toBe('DELETED');
            expect(c3?._nango_metadata.deleted_at).toBe(c3?._nango_metadata.last_modified_at);
            expect(Object.keys(c2?._nango_metadata ?? {}).sort()).toEqual([
                'cursor',
                'deleted_at',
                'first_seen_at',
                'last_action',
                'last_modified_at',
                'pruned_at'
            ]);
            // A record's own cursor resumes right after it.
            const after = await list({ cursor: c4?._nango_metadata.cursor ?? '' });
            expect(after.records.map((r) => r.id)).toEqual(expectedOrder.slice(expectedOrder.indexOf('c4') + 1));
        });

        it('filters on modifiedAfter (inclusive)', async () => {
            const { records } = await list({ ids: ['c2'] });
            const since = records[0]?._nango_metadata.last_modified_at ?? '';
            expect((await list({ modifiedAfter: since })).records.map((r) => r.id)).toEqual(['c2', 'c3']);
            expect((await list({ modifiedAfter: new Date(Date.now() + 60_000).toISOString() })).records).toEqual([]);
        });

        it('filters by last action, alone and combined, case-insensitively', async () => {
            const ids = async (filter: Filter) => (await list({ filter })).records.map((r) => r.id);
            expect(await ids('added')).toEqual(expectedOrder.slice(0, 8));
            expect(await ids('updated')).toEqual(['c2']);
            expect(await ids('deleted')).toEqual(['c3']);
            expect(await ids('added,updated')).toEqual(expectedOrder.slice(0, 9));
            expect(await ids('UPDATED,deleted')).toEqual(['c2', 'c3']);
        });

        it('selects by ids, one or many, and scopes to the model', async () => {
            expect((await list({ ids: ['c5'] })).records.map((r) => r.id)).toEqual(['c5']);
            expect((await list({ ids: ['c9', 'nope', 'c1'] })).records.map((r) => r.id)).toEqual(['c1', 'c9']);
            expect((await list({ ids: ['o1'] })).records).toEqual([]);
            expect((await list({ model: 'Other' })).records.map((r) => r.id)).toEqual(['o1']);
        });

        it('serves GET /v1/calls exactly like /records?model=Call', async () => {
            for (const query of ['', 'limit=4', 'filter=added&limit=2', 'ids=c2&ids=c3']) {
                const v1 = await raw(`/v1/calls?${query}`);
                const records = await raw(`/records?model=Call&${query}`);
                expect(v1.status).toBe(200);
                expect(await v1.json()).toEqual(await records.json());
            }
            expect((await raw('/v1/calls?model=Call')).status).toBe(400);
            expect((await raw('/v1/unknown')).status).toBe(404);
        });
    });

    describe('records API validation', () => {
        const badQueries: [string, string][] = [
            ['model=Call&foo=1', 'unrecognized_keys'],
            ['', 'invalid_type'],
            ['model=Call&limit=0', 'too_small'],
            ['model=Call&limit=10001', 'too_big'],
            ['model=Call&limit=abc', 'invalid_type'],
            ['model=Call&limit=1&limit=2', 'invalid_type'],
            ['model=Call&filter=created', 'invalid_value'],
            ['model=Call&modified_after=yesterday', 'invalid_format'],
            ['model=Call&modified_after=2001-01-01T00:00:00Z', 'custom'],
            [`model=Call&${Array.from({ length: 101 }, (_, i) => `ids=x${i}`).join('&')}`, 'invalid_union'],
            ['model=Call&cursor=bm9wZQ==', 'invalid_cursor']
        ];
        it.each(badQueries)('rejects ?%s with 400 invalid_query_params', async (query, issueCode) => {
            const res = await raw(`/records?${query}`);
            expect(res.status).toBe(400);
            const body = (await res.json()) as { error: { code: string; errors: { code: string; message: string; path: unknown[] }[] } };
            expect(body.error.code).toBe('invalid_query_params');
            expect(body.error.errors.map((e) => e.code)).toContain(issueCode);
            for (const error of body.error.errors) {
                expect(Object.keys(error).sort()).toEqual(['code', 'message', 'path']);
                expect(typeof error.message).toBe('string');
                expect(Array.isArray(error.path)).toBe(true);
            }
        });

        it('needs the connection headers and a known connection', async () => {
            const missing = await fetch(`${server.url}/records?model=Call`, { headers: { Authorization: `Bearer ${SECRET}` } });
            expect(missing.status).toBe(400);
            expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('invalid_headers');
            const unknown = await raw('/records?model=Call', { 'Connection-Id': 'other' });
            expect(unknown.status).toBe(400);
            expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_connection');
        });

        it('answers 401 without the secret key, on every route', async () => {
            for (const path of [
                '/records?model=Call',
                '/v1/calls',
                '/connection/conn-1?provider_config_key=clari-copilot',
                '/proxy/calls',
                '/nowhere'
            ]) {
                const none = await fetch(`${server.url}${path}`);
                expect(none.status).toBe(401);
                expect(await none.json()).toMatchObject({ error: { code: 'missing_auth_header' } });
                const wrong = await fetch(`${server.url}${path}`, { headers: { Authorization: 'Bearer nope' } });
                expect(wrong.status).toBe(401);
                expect(await wrong.json()).toMatchObject({ error: { code: 'unknown_account' } });
            }
            await expect(
                new Nango({ secretKey: 'nope', host: server.url }).listRecords({
                    providerConfigKey: KEY,
                    connectionId: CONN,
                    model: 'Call'
                })
            ).rejects.toMatchObject({
                response: { status: 401 }
            });
        });
    });

    describe('record lifecycle: PATCH /records/prune', () => {
        const PRUNE_CONN = 'conn-prune';
        const prune = (body: unknown, headers: Record<string, string> = {}, query = '') =>
            fetch(`${server.url}/records/prune${query}`, {
                method: 'PATCH',
                headers: {
                    Authorization: `Bearer ${SECRET}`,
                    'Content-Type': 'application/json',
                    'Connection-Id': PRUNE_CONN,
                    'Provider-Config-Key': KEY,
                    ...headers
                },
                body: JSON.stringify(body)
            });
        const listPruneConn = () => nango.listRecords({ providerConfigKey: KEY, connectionId: PRUNE_CONN, model: 'Call' });

        beforeAll(async () => {
            await store.connections.upsertConnection({
                connectionId: PRUNE_CONN,
                providerConfigKey: KEY,
                provider: KEY,
                apiKey: 'k',
                apiPassword: 'p'
            });
            await store.records.saveRecords(
                PRUNE_CONN,
                'Call',
                [
                    { id: 'p1', title: 'one' },
                    { id: 'p2', title: 'two' },
                    { id: 'p3', title: 'three' }
                ],
                'e1'
            );
        });

        it('prunes up to a cursor; the records API, ids= and /v1/calls then serve id and _nango_metadata only', async () => {
            const before = (await listPruneConn()).records;
            const until = before[1]?._nango_metadata.cursor ?? '';
            const res = await prune({ model: 'Call', until_cursor: until });
            expect(res.status).toBe(200);
            expect(await res.json()).toEqual({ count: 2, has_more: false });

            const after = (await listPruneConn()).records;
            expect(after.map((record) => Object.keys(record).sort())).toEqual([
                ['_nango_metadata', 'id'],
                ['_nango_metadata', 'id'],
                ['_nango_metadata', 'id', 'title']
            ]);
            expect(after.map((record) => record._nango_metadata.cursor)).toEqual(before.map((record) => record._nango_metadata.cursor));
            expect(after[0]?._nango_metadata).toEqual({ ...before[0]?._nango_metadata, pruned_at: expect.any(String) as unknown });
            expect(after[2]?._nango_metadata).toMatchObject({ pruned_at: null });

            const byIds = await nango.listRecords({ providerConfigKey: KEY, connectionId: PRUNE_CONN, model: 'Call', ids: ['p1'] });
            expect(byIds.records).toEqual([after[0]]);
            const endpoint = await fetch(`${server.url}/v1/calls`, {
                headers: { Authorization: `Bearer ${SECRET}`, 'Connection-Id': PRUNE_CONN, 'Provider-Config-Key': KEY }
            });
            expect(((await endpoint.json()) as Page).records).toEqual(after);
        });

        it('answers each bad request with Nango 400', async () => {
            const cursor = (await listPruneConn()).records[0]?._nango_metadata.cursor ?? '';
            const cases: [Promise<Response>, string][] = [
                [prune({}), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: '' }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: 'x'.repeat(1001) }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: cursor, limit: 0 }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: cursor, limit: 10_001 }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: cursor, extra: true }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: 'bm90IGEgY3Vyc29y' }), 'invalid_body'],
                [prune({ model: 'Call', until_cursor: cursor }, { 'Connection-Id': '' }), 'invalid_headers'],
                [prune({ model: 'Call', until_cursor: cursor }, { 'Connection-Id': 'nobody' }), 'unknown_connection'],
                [prune({ model: 'Call', until_cursor: cursor }, {}, '?limit=1'), 'invalid_query_params']
            ];
            for (const [response, code] of cases) {
                const res = await response;
                expect(res.status).toBe(400);
                expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
            }
            expect((await listPruneConn()).records[2]).toMatchObject({ title: 'three' });
        });
    });

    describe('what nango dryrun and the SDK read', () => {
        it('serves the connection on the CLI path and the SDK path', async () => {
            const res = await raw(`/connection/${CONN}?provider_config_key=${KEY}`);
            expect(res.status).toBe(200);
            const cli = (await res.json()) as Record<string, unknown>;
            expect(cli).toMatchObject({
                connection_id: CONN,
                provider_config_key: KEY,
                provider: 'clari-copilot',
                connection_config: { API_PASSWORD: 'p' },
                credentials: { type: 'API_KEY', apiKey: 'k' },
                metadata: { backfillDays: 3 }
            });
            expect(typeof cli['id']).toBe('number');
            const { last_fetched_at: _cliFetched, ...cliRest } = cli;
            const { last_fetched_at: _sdkFetched, ...sdkRest } = await nango.getConnection(KEY, CONN);
            expect(sdkRest).toEqual(cliRest);
            expect((await raw(`/connection/missing?provider_config_key=${KEY}`)).status).toBe(404);
        });

        it('reads and writes metadata through the SDK', async () => {
            expect(await nango.getMetadata(KEY, CONN)).toEqual({ backfillDays: 3 });
            await nango.setMetadata(KEY, CONN, { backfillDays: 5, includeMedia: false });
            await nango.updateMetadata(KEY, CONN, { includeMedia: true });
            expect(await nango.getMetadata(KEY, CONN)).toEqual({ backfillDays: 5, includeMedia: true });
            await expect(nango.setMetadata(KEY, 'missing', {})).rejects.toMatchObject({ response: { status: 404 } });
        });

        it('serves the integration and environment variables', async () => {
            const integration = await nango.getIntegration({ uniqueKey: KEY }, { include: ['webhook'] });
            expect(integration.data).toMatchObject({ unique_key: KEY, provider: 'clari-copilot' });
            await expect(nango.getIntegration({ uniqueKey: 'other' })).rejects.toMatchObject({ response: { status: 404 } });
            expect(await nango.getEnvironmentVariables()).toEqual([]);
        });
    });
});
