import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHttpPersist } from '../runner/http-persist.js';
import { startingRunsAs, storePersist } from '../runner/persist.js';
import { openStore, type LocalStore } from './database.js';
import type { DeployFlowInput } from './deployments.js';
import { createRunsStore } from './runs.js';
import type { SyncJob } from './scheduler.js';
import { MIGRATIONS, migrate } from './schema.js';
import { startNangoServer, type RunningNangoServer } from './server.js';
import { makeTempDir } from './test-helpers.js';

/** Every run says what started it: the scheduler's jobs carry it, the store and the persist API record it. */

const SECRET = 'trigger-secret';
const KEY = 'clari-copilot';
const RUNNER = { pid: process.pid };

const callsFlow: DeployFlowInput = {
    providerConfigKey: KEY,
    type: 'sync',
    name: 'calls',
    version: '1.0.0',
    runs: 'every hour',
    models: ['Call'],
    endpoints: [{ method: 'GET', path: '/calls' }],
    syncType: 'incremental',
    trackDeletes: false,
    // Not on a schedule: the scheduler's ticks must not start runs of their own during the test.
    autoStart: false,
    inputModel: null,
    description: null,
    scopes: [],
    js: 'module.exports = {};',
    ts: '',
    jsonSchema: null,
    rawConfig: { syncName: 'calls' },
    sdkVersion: null
};

describe('run triggers', () => {
    const tmp = makeTempDir('run-triggers');
    let store: LocalStore;
    let server: RunningNangoServer;
    const jobs: SyncJob[] = [];
    /** How the next jobs end: an interrupted one hands over to the next execution. */
    const outcomes: { interrupted: boolean }[] = [];

    beforeAll(async () => {
        store = await openStore({ dir: tmp.dir });
        await store.connections.upsertConnection({
            connectionId: 'conn',
            providerConfigKey: KEY,
            provider: KEY,
            apiKey: 'k',
            apiPassword: 'p'
        });
        await store.deployments.deployFlows([callsFlow], { reconcile: true });
        server = await startNangoServer({
            store,
            secretKey: SECRET,
            port: 0,
            runJob: (job) => {
                jobs.push(job);
                return Promise.resolve(outcomes.shift() ?? { interrupted: false });
            }
        });
    });

    afterAll(async () => {
        await server.close();
        await store.close();
        tmp.cleanup();
    });

    it('records the trigger a run was started with, and null when none was given', async () => {
        const triggered = await store.runs.startRun('conn-a', 'calls', RUNNER, 'dashboard');
        await store.runs.finishRun(triggered.runId, 'success');
        const unsaid = await store.runs.startRun('conn-a', 'calls', RUNNER);
        await store.runs.finishRun(unsaid.runId, 'success');
        const runs = await store.runs.listRuns({ connectionId: 'conn-a', limit: 2 });
        expect(runs.map((run) => [run.runId, run.trigger])).toEqual([
            [unsaid.runId, null],
            [triggered.runId, 'dashboard']
        ]);
    });

    it('gives runs recorded before triggers existed no trigger', async () => {
        const db = new PGlite();
        try {
            // A store as the previous release left it: every migration up to webhooks, and one finished run.
            await db.exec(
                'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())'
            );
            for (const migration of MIGRATIONS.filter((candidate) => candidate.version <= 6)) {
                await db.exec(migration.sql);
                await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
            }
            await db.query(
                `INSERT INTO sync_runs (connection_id, sync_name, started_at, finished_at, heartbeat_at, status) VALUES ('old', 'calls', now(), now(), now(), 'success')`
            );
            await migrate(db);
            const [run] = await createRunsStore(db).listRuns({ connectionId: 'old', limit: 1 });
            expect(run).toMatchObject({ status: 'success', trigger: null });
        } finally {
            await db.close();
        }
    });

    it('labels a POST /sync/trigger run api, and the execution after an interrupted one a hand-over', async () => {
        jobs.length = 0;
        outcomes.push({ interrupted: true });
        const res = await fetch(`${server.url}/sync/trigger`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
            body: JSON.stringify({ syncs: ['calls'], provider_config_key: KEY, connection_id: 'conn' })
        });
        expect(res.status).toBe(200);
        await expect.poll(() => jobs.map((job) => job.trigger)).toEqual(['api', 'handover']);
    });

    it('takes a trigger through the persist API, as npm run sync sends it, and refuses one it does not know', async () => {
        const persist = startingRunsAs('cli', createHttpPersist({ url: server.url, secretKey: SECRET, providerConfigKey: KEY }));
        const run = await persist.startRun('conn-http', 'calls', RUNNER);
        await persist.finishRun(run.runId, 'success');
        const inProcess = await startingRunsAs('schedule', storePersist(store)).startRun('conn-http', 'calls', RUNNER);
        await store.runs.finishRun(inProcess.runId, 'success');
        const runs = await store.runs.listRuns({ connectionId: 'conn-http', limit: 2 });
        expect(runs.map((recorded) => recorded.trigger)).toEqual(['schedule', 'cli']);

        const refused = await fetch(`${server.url}/persist/runs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
            body: JSON.stringify({ connectionId: 'conn-http', syncName: 'calls', runner: RUNNER, trigger: 'cron' })
        });
        expect(refused.status).toBe(400);
    });
});
