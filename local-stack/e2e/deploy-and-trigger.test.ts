import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { deployWithCli } from '../cli/deploy.js';
import type { LocalStore, RunningNangoServer } from '../nango-server/index.js';
import type { RunningClariEmulator } from '../emulator/index.js';
import { PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import { EmulatorControl } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, lastDays } from './oracle.js';
import { listServed } from './served-records.js';
import { startRunnerStack, type RunnerStack } from './runner-stack.js';
import { SECRET_KEY } from './stack.js';

/**
 * As an app drives Nango: `nango deploy` (the pinned CLI) to the local Nango, then `@nangohq/node`'s
 * triggerSync, syncStatus until the run succeeded, and listRecords. The deployed bundle runs in the
 * server's runner, on the server's store.
 */

interface StatusEntry {
    status: string;
    type: string;
    finishedAt: string | null;
    nextScheduledSyncAt: string | null;
    frequency: string | null;
    recordCount: Record<string, number>;
    latestResult: Record<string, { added: number }> | null;
}

let stack: RunnerStack;
let emulator: RunningClariEmulator;
let store: LocalStore;
let server: RunningNangoServer;
let nango: Nango;
const CONNECTION = 'app-connection';

beforeAll(async () => {
    stack = await startRunnerStack('deploy-trigger', { emulator: { calls: 200, months: 6, seed: 41 }, connectionId: CONNECTION });
    ({ emulator, store, server } = stack);
    nango = new Nango({ secretKey: SECRET_KEY, host: server.url });
}, 60_000);

afterAll(async () => {
    await stack.close();
});

async function statusOf(): Promise<StatusEntry> {
    const body = (await nango.syncStatus(PROVIDER_CONFIG_KEY, [SYNC_NAME], CONNECTION)) as { syncs: StatusEntry[] };
    expect(body.syncs).toHaveLength(1);
    const [entry] = body.syncs;
    if (!entry) {
        throw new Error('no status entry');
    }
    return entry;
}

async function untilSucceededAfter(since: number): Promise<StatusEntry> {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const entry = await statusOf();
        if (entry.status === 'SUCCESS' && entry.finishedAt !== null && Date.parse(entry.finishedAt) >= since) {
            return entry;
        }
        if (entry.status === 'ERROR' || Date.now() > deadline) {
            throw new Error(`the sync did not succeed: ${JSON.stringify(entry)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

describe('deploy, trigger, status, records', () => {
    it('deploys with the real CLI, then runs the deployed sync on trigger; its records equal the emulator truth', async () => {
        const deployment = await deployWithCli({ serverUrl: server.url, secretKey: SECRET_KEY });
        expect(deployment.deployed).toEqual(['calls@v1.0.0']);
        const scripts = (await nango.getScriptsConfig()) as { providerConfigKey: string; syncs: { name: string }[] }[];
        expect(scripts.flatMap((config) => config.syncs.map((sync) => `${config.providerConfigKey}/${sync.name}`))).toEqual([
            'clari-copilot/calls'
        ]);

        // The scheduler starts a deployed sync that never ran; the trigger runs it (again) now.
        const triggeredAt = Date.now();
        await nango.triggerSync(PROVIDER_CONFIG_KEY, [SYNC_NAME], CONNECTION);
        const done = await untilSucceededAfter(triggeredAt);
        expect(done).toMatchObject({ frequency: 'every hour' });
        expect(Date.parse(done.nextScheduledSyncAt ?? '')).toBeGreaterThan(Date.now());

        const truth = await new EmulatorControl(emulator.url).truth();
        const served = await listServed(nango, CONNECTION);
        const [lastRun] = await store.runs.listRuns({ connectionId: CONNECTION, syncName: SYNC_NAME, limit: 1 });
        const expected = expectedRecords(truth, lastDays(lastRun?.startedAt ?? new Date()));
        expectRecordsEqualTruth(served, expected);
        expect(done.recordCount).toEqual({ Call: expected.size });

        // A second trigger is an incremental run of the same deployed code.
        const again = Date.now();
        await nango.triggerSync(PROVIDER_CONFIG_KEY, [SYNC_NAME], CONNECTION);
        expect((await untilSucceededAfter(again)).type).toBe('INCREMENTAL');
    }, 180_000);

    it('answers bad input with Nango 400s and runs nothing', async () => {
        const runsBefore = await store.runs.listRuns({ connectionId: CONNECTION, limit: 100 });
        const post = (body: unknown) =>
            fetch(`${server.url}/sync/trigger`, {
                method: 'POST',
                headers: { Authorization: `Bearer ${SECRET_KEY}`, 'Content-Type': 'application/json' },
                body: JSON.stringify(body)
            });
        const get = (query: string) => fetch(`${server.url}/sync/status?${query}`, { headers: { Authorization: `Bearer ${SECRET_KEY}` } });
        const cases: [Promise<Response>, string][] = [
            [post({ provider_config_key: PROVIDER_CONFIG_KEY, syncs: ['nope'], connection_id: CONNECTION }), 'unknown_sync'],
            [post({ provider_config_key: PROVIDER_CONFIG_KEY, syncs: [SYNC_NAME], connection_id: 'nobody' }), 'unknown_connection'],
            [post({ provider_config_key: PROVIDER_CONFIG_KEY, syncs: 'calls' }), 'invalid_body'],
            [post({ syncs: [SYNC_NAME] }), 'missing_provider_config_key'],
            [post({ provider_config_key: PROVIDER_CONFIG_KEY, syncs: [SYNC_NAME], extra: 1 }), 'invalid_body'],
            [get(`provider_config_key=${PROVIDER_CONFIG_KEY}&syncs=nope`), 'unknown_sync'],
            [get(`provider_config_key=${PROVIDER_CONFIG_KEY}&syncs=calls&connection_id=nobody`), 'unknown_connection'],
            [get('syncs=calls'), 'invalid_query_params']
        ];
        for (const [response, code] of cases) {
            const res = await response;
            expect(res.status).toBe(400);
            expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
        }
        expect(await store.runs.listRuns({ connectionId: CONNECTION, limit: 100 })).toHaveLength(runsBefore.length);
    });
});
