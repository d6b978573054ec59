import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPgTimestamp } from './pg-input.js';
import { decodeCursor, encodeCursor } from './record-codec.js';
import { startNangoServer, type RunningNangoServer } from './server.js';
import { openStore, type LocalStore } from './database.js';
import { makeTempDir } from './test-helpers.js';

const SECRET = 'crafted-input-secret';
const KEY = 'clari-copilot';
const CONN = 'conn-crafted';

const cursorOf = (raw: string): string => encodeURIComponent(Buffer.from(raw).toString('base64'));
const pastOffset = (offset: string): string => encodeURIComponent(new Date(Date.now() - 60_000).toISOString().replace('Z', offset));

interface ErrorBody {
    error: { code: string; message?: string; errors?: { code: string; message: string; path: (string | number)[] }[] };
}

describe('crafted input never reaches Postgres', () => {
    const tmp = makeTempDir('crafted-input-test');
    let store: LocalStore;
    let server: RunningNangoServer;
    let validCursor: string;

    const send = async (path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: ErrorBody }> => {
        const res = await fetch(`${server.url}${path}`, {
            method: init.method ?? 'GET',
            headers: {
                Authorization: `Bearer ${SECRET}`,
                'Connection-Id': CONN,
                'Provider-Config-Key': KEY,
                ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' })
            },
            ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
        });
        return { status: res.status, body: (await res.json()) as ErrorBody };
    };

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: CONN,
            providerConfigKey: KEY,
            provider: 'clari-copilot',
            apiKey: 'k',
            apiPassword: 'p'
        });
        await store.records.saveRecords(CONN, 'Call', [{ id: 'a' }, { id: 'b' }], 'e1');
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        const page = await store.records.listRecords({ connectionId: CONN, model: 'Call', limit: 1 });
        validCursor = page.next_cursor ?? '';
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    // [what, query string, the failing parameter, the issue code]
    const crafted: [string, string, string, string][] = [
        ['a cursor with an impossible time', `cursor=${cursorOf('1||1')}`, 'cursor', 'invalid_cursor'],
        [
            'a cursor with an id past 2^63',
            `cursor=${cursorOf('2024-01-01T00:00:00.000+00:00||9223372036854775808')}`,
            'cursor',
            'invalid_cursor'
        ],
        [
            'a cursor with a 20-digit id',
            `cursor=${cursorOf('2024-01-01T00:00:00.000+00:00||99999999999999999999')}`,
            'cursor',
            'invalid_cursor'
        ],
        ['a cursor on 30 February', `cursor=${cursorOf('2024-02-30T00:00:00.000+00:00||1')}`, 'cursor', 'invalid_cursor'],
        ['a cursor in year 0', `cursor=${cursorOf('0000-01-01T00:00:00.000+00:00||1')}`, 'cursor', 'invalid_cursor'],
        ['a cursor with an offset past 15:59', `cursor=${cursorOf('2024-01-01T00:00:00.000+23:00||1')}`, 'cursor', 'invalid_cursor'],
        ['a NUL in variant', 'variant=a%00b', 'variant', 'custom'],
        ['a NUL in ids', 'ids=a%00b', 'ids', 'custom'],
        ['a NUL in one of several ids', 'ids=a&ids=b%00', 'ids', 'custom'],
        ['modified_after with an offset past 15:59', `modified_after=${pastOffset('+23:59')}`, 'modified_after', 'custom'],
        ['delta with an offset past 15:59', `delta=${pastOffset('-16:00')}`, 'delta', 'custom']
    ];

    const expectInvalidQuery = (result: { status: number; body: ErrorBody }, param: string, issueCode: string): void => {
        expect(result.status).toBe(400);
        expect(result.body.error.code).toBe('invalid_query_params');
        expect(result.body.error.errors?.map((e) => [e.code, e.path[0]])).toContainEqual([issueCode, param]);
    };

    it.each(crafted)('GET /records answers %s with a 400', async (_what, query, param, issueCode) => {
        expectInvalidQuery(await send(`/records?model=Call&${query}`), param, issueCode);
    });

    it.each(crafted)('GET /v1/calls answers %s with a 400', async (_what, query, param, issueCode) => {
        expectInvalidQuery(await send(`/v1/calls?${query}`), param, issueCode);
    });

    it('GET /records answers a NUL in model with a 400', async () => {
        expectInvalidQuery(await send('/records?model=Call%00'), 'model', 'custom');
    });

    it('still accepts the cursors it hands out and in-range offsets', async () => {
        const page = await send(`/records?model=Call&cursor=${encodeURIComponent(validCursor)}`);
        expect(page.status).toBe(200);
        expect((await send(`/v1/calls?modified_after=${pastOffset('+15:59')}`)).status).toBe(200);
        expect((await send(`/v1/calls?modified_after=${pastOffset('-05:30')}`)).status).toBe(200);
    });

    it('answers a NUL in a connection lookup with a 400', async () => {
        const inId = await send(`/connection/${CONN}%00?provider_config_key=${KEY}`);
        expect(inId.status).toBe(400);
        expect(inId.body.error.code).toBe('invalid_uri_params');
        const inKey = await send(`/connections/${CONN}?provider_config_key=clari%00copilot`);
        expect(inKey.status).toBe(400);
        expect(inKey.body.error.code).toBe('invalid_query_params');
    });

    it.each([
        ['a value', { connection_id: CONN, provider_config_key: KEY, metadata: { note: 'a\u0000b' } }, 'metadata'],
        ['a nested key', { connection_id: CONN, provider_config_key: KEY, metadata: { deep: [{ 'k\u0000': 1 }] } }, 'metadata'],
        ['the connection id', { connection_id: [CONN, 'x\u0000'], provider_config_key: KEY, metadata: {} }, 'connection_id'],
        ['the provider config key', { connection_id: CONN, provider_config_key: 'k\u0000', metadata: {} }, 'provider_config_key']
    ])('answers metadata with a NUL in %s with a 400, and leaves the metadata alone', async (_what, body, param) => {
        for (const method of ['POST', 'PATCH']) {
            const result = await send('/connections/metadata', { method, body });
            expect(result.status).toBe(400);
            expect(result.body.error.code).toBe('invalid_body');
            expect(result.body.error.errors?.map((e) => e.path[0])).toContain(param);
        }
        expect(await store.connections.getMetadata(CONN, KEY)).toEqual({});
    });
});

describe('cursor decoding', () => {
    it('round-trips what encodeCursor makes, microseconds and offsets included', () => {
        for (const sort of ['2026-01-02T03:04:05.123456+00:00', '2024-02-29T23:59:59+05:30', '2024-12-31T00:00:00.5-15:59']) {
            const cursor = { sort, id: '9223372036854775807' };
            expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
        }
    });

    it.each([
        '1',
        '2024-01-01',
        '2023-02-29T00:00:00Z',
        '2024-13-01T00:00:00Z',
        '2024-01-01T24:00:00Z',
        '2024-01-01T00:60:00Z',
        'Tue Jan 01 2030'
    ])('rejects %s as a cursor time', (sort) => {
        expect(isPgTimestamp(sort)).toBe(false);
        expect(decodeCursor(encodeCursor({ sort, id: '1' }))).toBeUndefined();
    });
});
