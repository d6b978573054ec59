import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, storeExists, type LocalStore } from './database.js';
import { actionFlow, confirmationBody, deployBody, KEY, syncFlow, type Json } from './deploy-fixtures.js';
import { readDeployedStateOf, startDeployInbox, STARTING_CODE, writeTakenDeploy } from './deploy-inbox.js';
import type { DeployedFlow } from './deployments.js';
import { startNangoServer } from './server.js';
import { makeTempDir } from './test-helpers.js';

/*
 * npm start's deploy: the CLI talks to an inbox while the store is closed, and the deployment is written once the
 * store is open again. Every step must leave the store, and answer the CLI, exactly as a deploy to a running
 * local Nango does; the same bodies go to both and the answers and the stored flows are compared.
 */

const SECRET = 'inbox-secret';

interface Answer {
    status: number;
    body: unknown;
}

async function post(url: string, body: unknown, secret: string | null = SECRET): Promise<Answer> {
    const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(secret === null ? {} : { Authorization: `Bearer ${secret}` }) },
        body: JSON.stringify(body)
    });
    return { status: response.status, body: await response.json() };
}

/** The stored flows without their timestamps, which differ between any two deploys. */
function withoutTimes(flows: DeployedFlow[]): Omit<DeployedFlow, 'deployedAt'>[] {
    return flows.map(({ deployedAt: _at, ...flow }) => flow);
}

function withoutLastDeployed(answer: Answer): Answer {
    const body = Array.isArray(answer.body) ? answer.body.map(({ last_deployed: _at, ...rest }: Json) => rest) : answer.body;
    return { status: answer.status, body };
}

describe('a deploy taken while the store is closed (npm start)', () => {
    const direct = makeTempDir('inbox-direct');
    const held = makeTempDir('inbox-held');
    let directStore: LocalStore;

    beforeAll(async () => {
        directStore = await openStore({ dir: direct.dir });
    });

    afterAll(async () => {
        await directStore.close();
        direct.cleanup();
        held.cleanup();
    });

    /** One `nango deploy` both ways: straight to a local Nango, and through the inbox into a closed store. */
    async function deployBothWays(confirmation: Json, deploy: Json): Promise<void> {
        const server = await startNangoServer({ store: directStore, secretKey: SECRET, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        const directConfirm = await post(`${server.url}/sync/deploy/confirmation`, confirmation);
        const directDeploy = await post(`${server.url}/sync/deploy`, deploy);
        await server.close();

        const created = storeExists(held.dir);
        const before = await readDeployedStateOf(held.dir);
        // Reading a store that does not exist yet leaves it to the local Nango to create.
        expect(storeExists(held.dir)).toBe(created);
        const inbox = await startDeployInbox({ before, secretKey: SECRET, storeDir: held.dir });
        const inboxConfirm = await post(`${inbox.url}/sync/deploy/confirmation`, confirmation);
        const inboxDeploy = await post(`${inbox.url}/sync/deploy`, deploy);
        await inbox.close();

        expect(inboxConfirm).toEqual(directConfirm);
        expect(withoutLastDeployed(inboxDeploy)).toEqual(withoutLastDeployed(directDeploy));
        const taken = inbox.taken();
        expect(taken).not.toBeNull();

        const store = await openStore({ dir: held.dir });
        try {
            // Nothing reached the store before the write.
            expect(withoutTimes(await store.deployments.listDeployedFlows())).toEqual(withoutTimes(before.flows));
            if (taken) {
                await writeTakenDeploy(store, taken);
            }
            expect(withoutTimes(await store.deployments.listDeployedFlows())).toEqual(
                withoutTimes(await directStore.deployments.listDeployedFlows())
            );
        } finally {
            await store.close();
        }
    }

    it('answers and stores a first deploy, a redeploy that moves an unversioned script up, and one that removes a script', async () => {
        const unversioned = syncFlow({ version: undefined });
        await deployBothWays(confirmationBody([unversioned, actionFlow()]), deployBody([unversioned, actionFlow()]));
        await deployBothWays(confirmationBody([unversioned, actionFlow()]), deployBody([unversioned, actionFlow()]));
        await deployBothWays(confirmationBody([unversioned]), deployBody([unversioned]));

        const flows = await directStore.deployments.listDeployedFlows();
        expect(flows.map((flow) => `${flow.type}:${flow.name}@${flow.version}`)).toEqual(['sync:calls@0.0.3']);
    });

    it('refuses a bad body or key as the local Nango does, and answers every other route with its starting 503', async () => {
        const inbox = await startDeployInbox({ before: { flows: [], connections: 0 }, secretKey: SECRET, storeDir: held.dir });
        try {
            expect(await post(`${inbox.url}/sync/deploy`, deployBody([syncFlow()]), null)).toMatchObject({
                status: 401,
                body: { error: { code: 'missing_auth_header' } }
            });
            expect(await post(`${inbox.url}/sync/deploy`, deployBody([syncFlow()]), 'wrong')).toMatchObject({
                status: 401,
                body: { error: { code: 'unknown_account' } }
            });
            expect(await post(`${inbox.url}/sync/deploy`, deployBody([syncFlow({ providerConfigKey: 'hubspot' })]))).toMatchObject({
                status: 400,
                body: { error: { code: 'invalid_body' } }
            });
            expect(inbox.taken()).toBeNull();

            const elsewhere = await fetch(`${inbox.url}/records?model=Call`, { headers: { Authorization: `Bearer ${SECRET}` } });
            expect(elsewhere.status).toBe(503);
            expect(await elsewhere.json()).toMatchObject({ error: { code: STARTING_CODE } });
            const dashboard = await fetch(`${inbox.url}/ui/live.json`);
            expect(dashboard.status).toBe(503);
            await dashboard.body?.cancel();
        } finally {
            await inbox.close();
        }
    });

    it('shows the confirmation the connections the store held', async () => {
        const inbox = await startDeployInbox({ before: { flows: [], connections: 2 }, secretKey: SECRET, storeDir: held.dir });
        try {
            const answer = await post(`${inbox.url}/sync/deploy/confirmation`, confirmationBody([syncFlow()]));
            expect(answer.body).toMatchObject({ newSyncs: [{ name: 'calls', providerConfigKey: KEY, connections: 2 }] });
        } finally {
            await inbox.close();
        }
    });
});
