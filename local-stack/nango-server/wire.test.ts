import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startNangoServer, type RunningNangoServer } from './server.js';
import { openStoreInThread } from './store-thread.js';
import type { LocalStore } from './database.js';
import { makeTempDir } from './test-helpers.js';

const SECRET = 'wire-test-secret';
const KEY = 'clari-copilot';
const CONN = 'conn-wire';

describe('record bodies parsed and serialized in the store thread', () => {
    const tmp = makeTempDir('wire-test');
    let store: LocalStore;
    let server: RunningNangoServer;

    const save = (body: string) =>
        fetch(`${server.url}/persist/records/save`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${SECRET}`, 'Content-Type': 'application/json' },
            body
        });
    const errorOf = async (response: Response): Promise<{ code: string; message?: string; errors?: { path: unknown[] }[] }> =>
        ((await response.json()) as { error: { code: string; message?: string; errors?: { path: unknown[] }[] } }).error;

    beforeAll(async () => {
        store = await openStoreInThread({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: CONN,
            providerConfigKey: KEY,
            provider: 'clari-copilot',
            apiKey: 'k',
            apiPassword: 'p',
            metadata: {}
        });
        server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('saves a page sent as text and serves it back from GET /records as JSON', async () => {
        // Multi-byte characters too: the body crosses to the store thread as UTF-8 bytes, and back.
        const transcript = 'a long transcript, café 👋 '.repeat(2_000);
        const records = [
            { id: 'c1', title: 'one', transcript },
            { id: 'c2', title: 'two', transcript }
        ];
        const saved = await save(JSON.stringify({ connectionId: CONN, model: 'Call', executionId: 'e1', records }));
        expect(saved.status).toBe(200);
        expect(await saved.json()).toEqual({ added: ['c1', 'c2'], updated: [], unchanged: [], undeleted: [] });

        const listed = await fetch(`${server.url}/records?model=Call`, {
            headers: { Authorization: `Bearer ${SECRET}`, 'Connection-Id': CONN, 'Provider-Config-Key': KEY }
        });
        expect(listed.status).toBe(200);
        expect(listed.headers.get('content-type')).toMatch(/^application\/json/);
        const page = (await listed.json()) as { records: { id: string; transcript: string }[]; next_cursor: string | null };
        expect(page.records.map((record) => [record.id, record.transcript])).toEqual([
            ['c1', transcript],
            ['c2', transcript]
        ]);
        expect(page.next_cursor).toBeNull();
    });

    it('answers a body that is not JSON, a body of the wrong shape and a record without an id with a 400, and saves nothing', async () => {
        const notJson = await save('{"connectionId": "conn-wire", "records": [');
        expect(notJson.status).toBe(400);
        const notJsonError = await errorOf(notJson);
        expect(notJsonError.code).toBe('invalid_body');
        expect(notJsonError.message).toMatch(/^the body is not JSON/);

        const wrongShape = await save(JSON.stringify({ connectionId: CONN, model: 'Call', records: [] }));
        expect(wrongShape.status).toBe(400);
        const shapeError = await errorOf(wrongShape);
        expect(shapeError.code).toBe('invalid_body');
        expect(shapeError.errors?.map((issue) => issue.path)).toEqual([['executionId']]);

        const noId = await save(JSON.stringify({ connectionId: CONN, model: 'Call', executionId: 'e2', records: [{ title: 'x' }] }));
        expect(noId.status).toBe(400);
        const noIdError = await errorOf(noId);
        expect(noIdError.code).toBe('invalid_body');
        expect(noIdError.message).toMatch(/id/);

        expect(await store.records.countLiveRecords(CONN, 'Call')).toBe(2);
    });
});
