import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from './database.js';
import { startNangoServer, type RunningNangoServer } from './server.js';
import { makeTempDir } from './test-helpers.js';

/** The records API's answers to a newcomer's first mistakes say what to send instead. */

const SECRET = 'local-secret-key';
const HEADERS = { Authorization: `Bearer ${SECRET}`, 'Connection-Id': 'local', 'Provider-Config-Key': 'clari-copilot' };

interface ErrorBody {
    error: { code: string; message?: string; errors?: { code: string; message: string; path: string[] }[] };
}

describe('records API hints', () => {
    const tmp = makeTempDir('records-hints');
    let store: LocalStore;
    let server: RunningNangoServer;
    const get = async (path: string): Promise<{ status: number; body: ErrorBody }> => {
        const res = await fetch(`${server.url}${path}`, { headers: HEADERS });
        return { status: res.status, body: (await res.json()) as ErrorBody };
    };

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: 'local',
            providerConfigKey: 'clari-copilot',
            provider: 'clari-copilot',
            apiKey: 'k',
            apiPassword: 'p'
        });
        server = await startNangoServer({ store, secretKey: SECRET, port: 0 });
    });
    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('answers GET /calls, the path nango.yaml declares, with a 404 naming /v1/calls', async () => {
        const { status, body } = await get('/calls?limit=2');
        expect(status).toBe(404);
        expect(body.error.code).toBe('not_found');
        expect(body.error.message).toContain('GET /v1/calls');
        expect((await fetch(`${server.url}/v1/calls?limit=2`, { headers: HEADERS })).status).toBe(200);
    });

    it.each(['/v1/calls?', '/records?model=Call&'])(
        'answers modified_after=yesterday on %s… with one error showing a value it accepts',
        async (path) => {
            const { status, body } = await get(`${path}modified_after=yesterday`);
            expect(status).toBe(400);
            expect(body.error.errors).toHaveLength(1);
            const message = body.error.errors?.[0]?.message ?? '';
            expect(message).not.toContain('12 months');
            const example = /such as (\S+)/.exec(message)?.[1] ?? '';
            // The example works when pasted.
            const pasted = await get(`${path}modified_after=${encodeURIComponent(example)}`);
            expect(pasted.status, JSON.stringify(pasted.body)).toBe(200);
        }
    );

    it('answers a date older than 12 months with one error that says so', async () => {
        const { status, body } = await get('/v1/calls?modified_after=2001-01-01T00:00:00Z');
        expect(status).toBe(400);
        expect(body.error.errors?.map((error) => error.message)).toEqual([expect.stringContaining('within the last 12 months')]);
    });
});
