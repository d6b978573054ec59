import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore, type LocalStore } from '../nango-server/database.js';
import type { DeployFlowInput } from '../nango-server/deployments.js';
import type { ClariProxy } from '../nango-server/proxy.js';
import { startNangoServer, type RunningNangoServer } from '../nango-server/server.js';
import { makeTempDir, sleep } from '../nango-server/test-helpers.js';
import { deployedSyncRunner } from '../runner/deployed-runner.js';
import { ExecutionKilledError } from '../runner/execution-limit.js';
import { createHttpPersist } from '../runner/http-persist.js';
import { handOverLine, runSyncChain } from '../runner/run-chain.js';
import { loadBundledSync } from '../runner/sandbox.js';
import { silentSync, STEP_MODEL, steppingSync } from './checkpoint-scripts.js';

/**
 * Interruptions as on Nango's Lambda runtime, end to end: scripts in the sandbox, a local Nango owning the
 * store, the runner writing through its persist API (as `npm run sync` beside `npm start` does) or run by
 * its scheduler (as a deployed sync is), each execution bounded by NANGO_LOCAL_RUN_TIMEOUT_S's 2 s.
 */

const KEY = 'clari-copilot';
const SECRET = 'e2e-checkpoints';
const TIMEOUT_MS = 2000;
const STEPS = 12;
const STEP_MS = 250;
const noClari: ClariProxy = {
    baseUrl: 'http://127.0.0.1:9',
    request: () => Promise.reject(new Error('these scripts never call Clari')),
    close: () => undefined
};

function flow(name: string, js: string): DeployFlowInput {
    return {
        providerConfigKey: KEY,
        type: 'sync',
        name,
        version: '1',
        runs: 'every day',
        models: [STEP_MODEL],
        endpoints: [],
        syncType: 'incremental',
        trackDeletes: false,
        autoStart: false,
        inputModel: null,
        description: null,
        scopes: [],
        js,
        ts: '',
        jsonSchema: null,
        rawConfig: {},
        sdkVersion: null
    };
}

describe('checkpoints and interruptions, end to end', () => {
    const tmp = makeTempDir('e2e-checkpoints');
    let store: LocalStore;
    let server: RunningNangoServer;

    const steps = async (connectionId: string) =>
        (await store.records.listRecords({ connectionId, model: STEP_MODEL, limit: 1000 })).records.map((record) => ({
            id: record.id,
            after: record['after'],
            action: record._nango_metadata.last_action
        }));

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        for (const connectionId of ['through-persist', 'deployed', 'silent']) {
            await store.connections.upsertConnection({
                connectionId,
                providerConfigKey: KEY,
                provider: KEY,
                apiKey: 'k',
                apiPassword: 'p'
            });
        }
        server = await startNangoServer({
            store,
            secretKey: SECRET,
            port: 0,
            clariBaseUrl: noClari.baseUrl,
            runJob: deployedSyncRunner({ store, clariBaseUrl: noClari.baseUrl, timeoutMs: TIMEOUT_MS })
        });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('completes a checkpointing script across several interrupted executions, each resuming where the last one saved', async () => {
        const lines: string[] = [];
        const { final, interrupted } = await runSyncChain({
            persist: createHttpPersist({ url: server.url, secretKey: SECRET, providerConfigKey: KEY }),
            proxy: noClari,
            connectionId: 'through-persist',
            providerConfigKey: KEY,
            syncName: 'stepping',
            fetchData: loadBundledSync(steppingSync(STEPS, STEP_MS), 'stepping.js'),
            timeoutMs: TIMEOUT_MS,
            onHandOver: (result) => {
                lines.push(handOverLine(result));
            }
        });

        // 80% of 2 s is about six steps of 250 ms: twelve steps take two or three executions.
        expect(interrupted.length).toBeGreaterThanOrEqual(1);
        expect(final.interrupted).toBe(false);
        const executions = [...interrupted, final];
        expect(executions[0]?.checkpoints?.from).toBeNull();
        executions.slice(1).forEach((execution, index) => {
            const previous = executions[index];
            // Each execution starts from the checkpoint the one before saved, with lastSyncDate at that one's start.
            expect(execution.checkpoints?.from).toEqual(previous?.checkpoints?.to);
            expect(execution.lastSyncDate).toEqual(previous?.startedAt);
        });
        expect(final.checkpoints?.to).toMatchObject({ step: STEPS, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown });
        // Every step was done once: no execution started over.
        expect(executions.reduce((sum, execution) => sum + execution.counts.added, 0)).toBe(STEPS);
        expect(executions.reduce((sum, execution) => sum + execution.counts.updated + execution.counts.unchanged, 0)).toBe(0);
        expect((await steps('through-persist')).map((step) => step.id).sort()).toHaveLength(STEPS);

        expect(lines).toHaveLength(interrupted.length);
        interrupted.forEach((execution, index) => {
            expect(lines[index]).toContain('interrupted at checkpoint');
            expect(lines[index]).toContain(`"step":${String(execution.checkpoints?.to?.['step'])}`);
        });
        const runs = await store.runs.listRuns({ connectionId: 'through-persist', syncName: 'stepping', limit: 10 });
        expect(runs.map((run) => (run.interrupted ? 'interrupted' : run.status)).reverse()).toEqual([
            ...interrupted.map(() => 'interrupted'),
            'success'
        ]);
        expect(await store.runs.lastSuccessfulRunStart('through-persist', 'stepping')).toEqual(final.startedAt);
    }, 60_000);

    it('runs a deployed checkpointing sync to its end through the scheduler, starting each next execution at once', async () => {
        await store.deployments.deployFlows([flow('stepping', steppingSync(STEPS, STEP_MS)), flow('silent', silentSync(10_000))], {
            reconcile: true
        });
        const trigger = await fetch(`${server.url}/sync/trigger`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
            body: JSON.stringify({ syncs: ['stepping'], provider_config_key: KEY, connection_id: 'deployed' })
        });
        expect(trigger.status).toBe(200);

        const seen = new Set<string>();
        interface LatestRun {
            status: string;
            checkpoints: { to: { step?: number } | null } | null;
        }
        let latest: LatestRun | null = null as LatestRun | null;
        for (const deadline = Date.now() + 40_000; Date.now() < deadline;) {
            await sleep(100);
            const status = await fetch(`${server.url}/sync/status?syncs=stepping&provider_config_key=${KEY}&connection_id=deployed`, {
                headers: { authorization: `Bearer ${SECRET}` }
            });
            const body = (await status.json()) as { syncs: { latestRun: LatestRun | null }[] };
            latest = body.syncs[0]?.latestRun ?? null;
            if (latest) {
                seen.add(latest.status);
            }
            if (latest?.status === 'SUCCESS' && latest.checkpoints?.to?.step === STEPS) {
                break;
            }
        }
        expect(latest).toMatchObject({ status: 'SUCCESS', checkpoints: { to: { step: STEPS } } });
        const runs = (await store.runs.listRuns({ connectionId: 'deployed', syncName: 'stepping', limit: 10 })).reverse();
        expect(runs.length).toBeGreaterThanOrEqual(2);
        expect(runs.slice(0, -1).every((run) => run.status === 'success' && run.interrupted)).toBe(true);
        expect(runs[runs.length - 1]).toMatchObject({ status: 'success', interrupted: false });
        // The next execution starts at once: no gap of a schedule's length between them.
        runs.slice(1).forEach((run, index) => {
            const previousEnd = runs[index]?.finishedAt?.getTime() ?? Number.NaN;
            expect(run.startedAt.getTime() - previousEnd).toBeLessThan(1000);
        });
        // Resumed, never restarted: each step's record was saved once, by the execution that reached it.
        const saved = await steps('deployed');
        expect(saved).toHaveLength(STEPS);
        expect(saved.every((step) => step.action === 'ADDED')).toBe(true);
        expect(new Set(saved.map((step) => step.after)).size).toBe(runs.length);
        expect(seen.has('ERROR')).toBe(false);
    }, 60_000);

    it('kills a script that never checkpoints at 95% of its execution and records its run as failed', async () => {
        const started = Date.now();
        await expect(
            runSyncChain({
                persist: createHttpPersist({ url: server.url, secretKey: SECRET, providerConfigKey: KEY }),
                proxy: noClari,
                connectionId: 'silent',
                providerConfigKey: KEY,
                syncName: 'silent',
                fetchData: loadBundledSync(silentSync(10_000), 'silent.js'),
                timeoutMs: TIMEOUT_MS
            })
        ).rejects.toBeInstanceOf(ExecutionKilledError);
        const elapsed = Date.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.95 - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
        const [run] = await store.runs.listRuns({ connectionId: 'silent', syncName: 'silent', limit: 1 });
        expect(run).toMatchObject({ status: 'failed', interrupted: false, summary: expect.stringMatching(/killed at 95%/) as unknown });
        expect(await store.runs.lastSuccessfulRunStart('silent', 'silent')).toBeUndefined();
        await sleep(TIMEOUT_MS);
        // What the script did after the kill was refused: its last save never landed.
        expect(await steps('silent')).toEqual([]);
    }, 30_000);
});
