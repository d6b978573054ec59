import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { startNangoServer, type RunningNangoServer } from './server.js';
import { describeServerError } from './server-log.js';
import { openStore, type LocalStore } from './database.js';
import { makeTempDir } from './test-helpers.js';

const SECRET = 'server-errors-secret';
const KEY = 'clari-copilot';
const CONN = 'conn-errors';

describe('server errors', () => {
    const tmp = makeTempDir('server-errors-test');
    let store: LocalStore;
    const servers: RunningNangoServer[] = [];

    /** A server whose store fails every connection lookup with `failure`. */
    const serverFailingWith = async (failure: Error, dir?: string): Promise<RunningNangoServer> => {
        const failing: LocalStore = {
            ...store,
            ...(dir === undefined ? {} : { dir }),
            connections: { ...store.connections, getConnection: () => Promise.reject(failure) }
        };
        const server = await startNangoServer({ store: failing, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        servers.push(server);
        return server;
    };
    const get = (server: RunningNangoServer, url: string) =>
        fetch(`${server.url}${url}`, { headers: { Authorization: `Bearer ${SECRET}`, 'Connection-Id': CONN, 'Provider-Config-Key': KEY } });

    beforeAll(async () => {
        store = await openStore({ dir: path.join(tmp.dir, 'store') });
    });

    afterEach(async () => {
        vi.restoreAllMocks();
        await Promise.all(servers.splice(0).map((server) => server.close()));
    });

    afterAll(async () => {
        await store.close();
        tmp.cleanup();
    });

    it('logs a 500 on the console in one line, without the query string or the secret key', async () => {
        const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const server = await serverFailingWith(new Error(`lookup failed near ${SECRET}\nDETAIL: second line`));

        const res = await get(server, '/records?model=Call&ids=private-id');
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ error: { code: 'server_error', message: 'Internal error in the local Nango server' } });

        expect(logged).toHaveBeenCalledTimes(1);
        const line = String(logged.mock.calls[0]?.[0]);
        expect(line).toBe('nango-local: GET /records failed with a 500: Error: lookup failed near [redacted] | DETAIL: second line');
    });

    it('says so when the store folder was deleted under the running server', async () => {
        const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const gone = path.join(tmp.dir, 'deleted-store');
        const server = await serverFailingWith(new Error('could not create directory "base/5": File exists'), gone);

        expect((await get(server, '/v1/calls')).status).toBe(500);
        expect(logged).toHaveBeenCalledTimes(1);
        expect(String(logged.mock.calls[0]?.[0])).toContain(`the store folder ${gone} was deleted while the server was running`);
    });

    it('describes what PGlite throws that is not an Error', () => {
        const line = describeServerError(
            { method: 'POST', url: '/connections/metadata?x=1' },
            { name: 'ErrnoError', errno: 44 },
            { storeDir: tmp.dir, secrets: [''] }
        );
        expect(line).toBe('nango-local: POST /connections/metadata failed with a 500: ErrnoError 44');
    });
});
