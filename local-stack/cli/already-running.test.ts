import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import { startDeployInbox } from '../nango-server/deploy-inbox.js';
import { makeTempDir } from '../nango-server/test-helpers.js';
import { refuseIfAlreadyRunning } from './already-running.js';
import { freePort } from './test-helpers.js';

async function listen(server: Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
}

describe('a second npm start on the same port', () => {
    it('starts when nothing listens there', async () => {
        await expect(refuseIfAlreadyRunning(await freePort())).resolves.toBeUndefined();
    });

    it('is refused while the first one is still taking its deploy', async () => {
        const store = makeTempDir('already-running');
        const inbox = await startDeployInbox({ before: { flows: [], connections: 0 }, secretKey: 'key', storeDir: store.dir });
        try {
            const port = Number(new URL(inbox.url).port);
            await expect(refuseIfAlreadyRunning(port)).rejects.toThrow(/^a local Nango is already running on http:\/\/127\.0\.0\.1:\d+ /);
        } finally {
            await inbox.close();
            store.cleanup();
        }
    });

    it('is told that something else holds the port when a 503 is not the local Nango starting', async () => {
        const other = createServer((_request, response) => {
            response.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":{"code":"maintenance"}}');
        });
        const port = await listen(other);
        try {
            await expect(refuseIfAlreadyRunning(port)).rejects.toThrow(/in use by something other than a local Nango/);
        } finally {
            other.close();
        }
    });
});
