import { existsSync } from 'node:fs';
import path from 'node:path';
import { Nango } from '@nangohq/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { openStore, startNangoServer, type LocalStore, type RunningNangoServer } from '../nango-server/index.js';
import {
    cleanEnv,
    collect,
    freePort,
    ownLines,
    repoRoot,
    runCommand,
    runOutcomeIn,
    runSummaryIn,
    startCommand,
    tempDir,
    waitFor
} from './test-helpers.js';

/*
 * The commands as a user runs them: `npm run sync` as a child process against the emulator, the
 * records it stored read back through the real @nangohq/node client, the real nango CLI's dryrun
 * against the stand-in, `npm start` end to end, and one-line configuration errors.
 */

const SECRET = 'test-secret';
const CREDENTIALS = { CLARI_API_KEY: 'emulator-key', CLARI_API_PASSWORD: 'emulator-password' };
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

interface TruthCall {
    id: string;
    time: string;
    private: boolean;
}

async function groundTruth(emulator: RunningClariEmulator): Promise<TruthCall[]> {
    const calls: TruthCall[] = [];
    for (let offset: number | undefined = 0; offset !== undefined;) {
        const response = await fetch(`${emulator.url}/_control/calls?includePrivate=true&details=false&offset=${offset}&limit=1000`);
        const page = (await response.json()) as { calls: TruthCall[]; nextOffset?: number };
        calls.push(...page.calls);
        offset = page.nextOffset;
    }
    return calls;
}

async function mutate(emulator: RunningClariEmulator, body: Record<string, string[]>): Promise<Record<string, string[]>> {
    const response = await fetch(`${emulator.url}/_control/mutate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body)
    });
    return (await response.json()) as Record<string, string[]>;
}

/** Opens the store the child wrote, serves it, and hands a real @nangohq/node client to `read`. */
async function readThroughClient<T>(storeDir: string, read: (nango: Nango, store: LocalStore) => Promise<T>): Promise<T> {
    const store = await openStore({ dir: storeDir });
    let server: RunningNangoServer | undefined;
    try {
        server = await startNangoServer({ store, secretKey: SECRET, port: 0 });
        return await read(new Nango({ secretKey: SECRET, host: server.url }), store);
    } finally {
        await server?.close();
        await store.close();
    }
}

const base = { providerConfigKey: 'clari-copilot', connectionId: 'local', model: 'Call' } as const;

async function allIds(nango: Nango, query: { filter?: 'added' | 'updated' | 'deleted'; modifiedAfter?: string } = {}): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
        const page: { records: { id: string | number }[]; next_cursor: string | null } = await nango.listRecords({
            ...base,
            ...query,
            limit: 37,
            ...(cursor ? { cursor } : {})
        });
        ids.push(...page.records.map((record) => String(record.id)));
        cursor = page.next_cursor;
    } while (cursor);
    return ids;
}

describe('npm run sync, then the records through @nangohq/node', () => {
    let emulator: RunningClariEmulator;
    const storeDir = tempDir('sync-child-');
    const env = (): NodeJS.ProcessEnv => cleanEnv({ ...CREDENTIALS, CLARI_BASE_URL: emulator.url, NANGO_LOCAL_DB: storeDir });

    beforeAll(async () => {
        emulator = await startClariEmulator({ port: 0, calls: 300, seed: 7, rate: 0 });
    });
    afterAll(async () => {
        await emulator.close();
    });

    it('stores exactly the non-private calls of the past year, pages them to the end, and follows changes', async () => {
        const first = await runCommand('npm', ['run', 'sync', '--', '--metadata', '{"maxRequestsPerSecond":500}'], env());
        expect(first.code, first.stderr).toBe(0);
        expect(runOutcomeIn(first.stdout)?.run, first.stdout).toBe('initial');

        const truth = await groundTruth(emulator);
        const { ids, runStart } = await readThroughClient(storeDir, async (nango, store) => ({
            ids: await allIds(nango),
            runStart: await store.runs.lastSuccessfulRunStart('local', 'calls')
        }));
        const start = runStart?.getTime() ?? 0;
        const expected = truth.filter((call) => !call.private && Date.parse(call.time) > start - YEAR_MS && Date.parse(call.time) < start);
        expect(expected.length).toBeGreaterThan(150);
        expect(ids.length).toBe(new Set(ids).size);
        expect([...ids].sort()).toEqual(expected.map((call) => call.id).sort());

        const changed = await mutate(emulator, {
            modify: expected.slice(0, 3).map((call) => call.id),
            delete: expected.slice(3, 5).map((call) => call.id)
        });
        expect(changed['modify']).toHaveLength(3);
        const beforeSecondRun = new Date().toISOString();
        const second = await runCommand(
            'npm',
            ['run', 'sync', '--', '--metadata', '{"maxRequestsPerSecond":500,"reconcileEveryHours":0}'],
            env()
        );
        expect(second.code, second.stderr).toBe(0);

        await readThroughClient(storeDir, async (nango) => {
            expect((await allIds(nango, { filter: 'deleted' })).sort()).toEqual([...(changed['delete'] ?? [])].sort());
            expect((await allIds(nango, { filter: 'updated' })).sort()).toEqual([...(changed['modify'] ?? [])].sort());
            expect((await allIds(nango, { filter: 'added' })).length).toBe(expected.length - 3 - 2);
            const sinceSecondRun = await allIds(nango, { modifiedAfter: beforeSecondRun });
            expect(sinceSecondRun.sort()).toEqual([...(changed['modify'] ?? []), ...(changed['delete'] ?? [])].sort());

            const limited = await nango.listRecords({ ...base, limit: 5 });
            expect(limited.records.length).toBe(5);
            expect(limited.next_cursor).not.toBeNull();
            const wanted = expected.slice(5, 8).map((call) => call.id);
            const byIds = await nango.listRecords({ ...base, ids: wanted });
            expect(byIds.records.map((record) => String(record.id)).sort()).toEqual([...wanted].sort());
            expect(byIds.records[0]?._nango_metadata.last_action).toMatch(/ADDED|UPDATED|DELETED/);
        });
    }, 180_000);
});

describe('nango dryrun (CLI 0.69.14) against the stand-in and the emulator', () => {
    it('runs the compiled sync offline and reports the calls it would save', async () => {
        const emulator = await startClariEmulator({ port: 0, calls: 300, seed: 11, rate: 0 });
        const store = await openStore({ dir: tempDir('dryrun-') });
        const server = await startNangoServer({ store, secretKey: SECRET, port: 0, clariBaseUrl: emulator.url });
        try {
            await store.connections.upsertConnection({
                connectionId: 'local',
                providerConfigKey: 'clari-copilot',
                provider: 'clari-copilot',
                apiKey: CREDENTIALS.CLARI_API_KEY,
                apiPassword: CREDENTIALS.CLARI_API_PASSWORD
            });
            const metadata = '{"backfillDays":30,"maxRequestsPerSecond":500}';
            const result = await runCommand(
                `${repoRoot}/node_modules/.bin/nango`,
                ['dryrun', 'calls', 'local', '-e', 'dev', '--auto-confirm', '--metadata', metadata],
                cleanEnv({ NANGO_HOSTPORT: server.url, NANGO_SECRET_KEY_DEV: SECRET }),
                `${repoRoot}/nango-integrations`
            );
            const truth = await groundTruth(emulator);
            const now = Date.now();
            const inWindow = truth.filter(
                (call) => !call.private && Date.parse(call.time) > now - 30 * 86_400_000 && Date.parse(call.time) < now
            );
            expect(result.stdout).not.toContain('❌');
            expect(runSummaryIn(result.stdout)?.run, result.stdout).toBe('initial');
            const summary = /would produce the following results: (\{[^}]*\})/.exec(result.stdout)?.[1] ?? '{}';
            expect(JSON.parse(summary)).toEqual({ added: inWindow.length, updated: 0, deleted: 0 });
            expect(inWindow.length).toBeGreaterThan(0);
        } finally {
            await server.close();
            await store.close();
            await emulator.close();
        }
    }, 120_000);
});

describe('npm start', () => {
    it('syncs, prints how to query, serves the records, and stops cleanly on Ctrl-C', async () => {
        const nangoPort = await freePort();
        const emulatorPort = await freePort();
        const storeDir = tempDir('start-');
        const child = startCommand(
            'npm',
            ['start', '--', '--metadata', '{"backfillDays":20,"maxRequestsPerSecond":200}'],
            cleanEnv({ NANGO_LOCAL_PORT: String(nangoPort), CLARI_EMULATOR_PORT: String(emulatorPort), NANGO_LOCAL_DB: storeDir })
        );
        const output = collect(child);
        try {
            await waitFor(() => output.output().stdout.includes('Serving.'), 90_000, '"Serving." from npm start');
            const printed = output.output().stdout;
            expect(runOutcomeIn(printed), printed).toMatchObject({ run: 'initial', failed: 0 });
            expect(printed).toContain('curl -s -H "Authorization: Bearer local-dev-secret"');
            expect(printed).toContain('nango.listRecords(');
            expect(printed).toContain('npx nango dryrun calls local -e dev --auto-confirm');
            expect(printed).toContain(`Dashboard: http://127.0.0.1:${nangoPort}/ `);
            const dashboard = await fetch(`http://127.0.0.1:${nangoPort}/`);
            expect(dashboard.status).toBe(200);
            expect(await dashboard.text()).toContain('<td data-field="kind">initial</td>');

            const response = await fetch(`http://127.0.0.1:${nangoPort}/v1/calls?limit=3`, {
                headers: { Authorization: 'Bearer local-dev-secret', 'Connection-Id': 'local', 'Provider-Config-Key': 'clari-copilot' }
            });
            expect(response.status).toBe(200);
            const body = (await response.json()) as { records: unknown[] };
            expect(body.records.length).toBe(3);
        } finally {
            if (child.pid !== undefined) {
                process.kill(-child.pid, 'SIGINT');
            }
        }
        const timeout = new Promise<null>((resolve) => {
            setTimeout(() => {
                resolve(null);
            }, 20_000);
        });
        const finished = await Promise.race([output.done, timeout]);
        // npm reports Ctrl-C as exit 130 / SIGINT, as in a terminal; what matters is that everything stopped and cleaned up.
        expect(finished, 'npm start did not stop within 20 s of Ctrl-C').not.toBeNull();
        expect(finished?.stdout).toContain('SIGINT: stopping');
        expect(existsSync(path.join(storeDir, 'store.lock')), 'the store lock was not released').toBe(false);
    }, 150_000);
});

describe('npm run sync beside a running npm run serve', () => {
    let emulator: RunningClariEmulator;
    let port: number;
    const storeDir = tempDir('serve-and-sync-');
    let serve: ReturnType<typeof startCommand>;
    let served: ReturnType<typeof collect>;
    let nango: Nango;
    const syncEnv = (): NodeJS.ProcessEnv =>
        cleanEnv({ NANGO_LOCAL_PORT: String(port), NANGO_LOCAL_DB: storeDir, NANGO_SECRET_KEY_DEV: SECRET });
    const slowSync = (rate: number) =>
        startCommand('npm', ['run', 'sync', '--', '--metadata', JSON.stringify({ maxRequestsPerSecond: rate })], syncEnv());

    beforeAll(async () => {
        emulator = await startClariEmulator({ port: 0, calls: 300, seed: 11, rate: 0 });
        port = await freePort();
        serve = startCommand(
            'npm',
            ['run', 'serve'],
            cleanEnv({
                ...CREDENTIALS,
                CLARI_BASE_URL: emulator.url,
                NANGO_LOCAL_PORT: String(port),
                NANGO_LOCAL_DB: storeDir,
                NANGO_SECRET_KEY_DEV: SECRET
            })
        );
        served = collect(serve);
        await waitFor(() => served.output().stdout.includes('Ctrl-C to stop'), 60_000, 'npm run serve to listen');
        expect(served.output().stdout).toContain('Registered connection local');
        nango = new Nango({ secretKey: SECRET, host: `http://127.0.0.1:${port}` });
    }, 90_000);

    afterAll(async () => {
        if (serve.pid !== undefined) {
            process.kill(-serve.pid, 'SIGINT');
        }
        await served.done;
        await emulator.close();
    });

    it('syncs through the server without credentials; the records API follows each batch; a second run waits its turn', async () => {
        const first = slowSync(15);
        const firstOutput = collect(first);
        const counts: number[] = [];
        let refused: Awaited<ReturnType<typeof runCommand>> | undefined;
        // Set from a callback, which flow analysis does not see.
        let finished = false as boolean;
        void firstOutput.done.then(() => (finished = true));
        while (!finished) {
            counts.push((await allIds(nango)).length);
            if (refused === undefined && (counts.at(-1) ?? 0) > 0) {
                refused = await runCommand('npm', ['run', 'sync'], syncEnv());
            }
            await new Promise((resolve) => setTimeout(resolve, 300));
        }
        const result = await firstOutput.done;
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toMatch(/Syncing through the local Nango at http:\/\/127\.0\.0\.1:\d+/);
        expect(runOutcomeIn(result.stdout), result.stdout).toMatchObject({ run: 'initial', failed: 0 });

        const truth = await groundTruth(emulator);
        const final = await allIds(nango);
        const expected = truth.filter(
            (call) => !call.private && Date.parse(call.time) > Date.now() - YEAR_MS && Date.parse(call.time) < Date.now()
        );
        expect(final.sort()).toEqual(expected.map((call) => call.id).sort());
        // Seen part-way: the served records grew while the sync ran, with no restart of the server.
        expect(
            counts.some((count) => count > 0 && count < final.length),
            `counts seen: ${counts.join(',')}`
        ).toBe(true);

        expect(refused?.code, refused?.stderr).toBe(1);
        expect(ownLines(refused?.stderr ?? '')).toEqual([
            expect.stringMatching(/^sync: the calls sync of connection local is already running/)
        ]);
    }, 120_000);

    it('a sync killed with SIGKILL does not block the next one', async () => {
        // A connection of its own, registered by the sync from its credentials: its first run is long enough to kill.
        const ownConnection = { ...CREDENTIALS, CLARI_BASE_URL: emulator.url, NANGO_CONNECTION_ID: 'killed' };
        const doomed = startCommand('npm', ['run', 'sync', '--', '--metadata', '{"maxRequestsPerSecond":20}'], {
            ...syncEnv(),
            ...ownConnection
        });
        const doomedOutput = collect(doomed);
        await waitFor(() => doomedOutput.output().stdout.includes('Syncing through the local Nango'), 60_000, 'the sync to start');
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(doomedOutput.output().stderr, 'the sync ended before it could be killed').not.toMatch(/sync:/);
        if (doomed.pid !== undefined) {
            process.kill(-doomed.pid, 'SIGKILL');
        }
        await doomedOutput.done;

        const next = await runCommand('npm', ['run', 'sync', '--', '--metadata', '{"maxRequestsPerSecond":500}'], {
            ...syncEnv(),
            ...ownConnection
        });
        expect(next.code, next.stderr).toBe(0);
        expect(runOutcomeIn(next.stdout)?.failed, next.stdout).toBe(0);
    }, 120_000);
});

describe('configuration errors', () => {
    const cases: { name: string; args: string[]; env: Record<string, string>; code: number; mentions: RegExp }[] = [
        {
            name: 'a bad URL',
            args: ['run', 'sync'],
            env: { ...CREDENTIALS, CLARI_BASE_URL: 'not a url' },
            code: 2,
            mentions: /CLARI_BASE_URL/
        },
        { name: 'missing credentials', args: ['run', 'sync'], env: {}, code: 2, mentions: /CLARI_API_KEY and CLARI_API_PASSWORD/ },
        {
            name: 'half the credentials',
            args: ['run', 'sync'],
            env: { CLARI_API_KEY: 'k' },
            code: 2,
            mentions: /CLARI_API_PASSWORD is missing/
        },
        {
            name: 'bad metadata JSON',
            args: ['run', 'sync', '--', '--metadata', '{nope'],
            env: CREDENTIALS,
            code: 2,
            mentions: /--metadata is not valid JSON/
        },
        {
            name: 'an invalid metadata value',
            args: ['run', 'sync', '--', '--metadata', '{"backfillDays":0}'],
            // Nothing listens on port 9: if the value got past the check, the run could not reach anything.
            env: { ...CREDENTIALS, CLARI_BASE_URL: 'http://127.0.0.1:9' },
            code: 2,
            mentions: /--metadata: .*backfillDays/
        },
        { name: 'a bad port', args: ['run', 'serve'], env: { NANGO_LOCAL_PORT: '70000' }, code: 2, mentions: /NANGO_LOCAL_PORT/ }
    ];
    for (const { name, args, env, code, mentions } of cases) {
        it(`reports ${name} in one line, without a stack trace`, async () => {
            const result = await runCommand('npm', args, cleanEnv({ NANGO_LOCAL_DB: tempDir('config-'), ...env }));
            expect(result.code).toBe(code);
            const lines = ownLines(result.stderr);
            expect(lines, result.stderr).toHaveLength(1);
            expect(lines[0]).toMatch(mentions);
            expect(result.stderr).not.toMatch(/\n\s+at /);
        }, 60_000);
    }

    it('reports credentials Clari rejects in one line naming the variables they come from, exit 1', async () => {
        const emulator = await startClariEmulator({ port: 0, calls: 20, seed: 5, rate: 0 });
        try {
            const result = await runCommand(
                'npm',
                ['run', 'sync'],
                cleanEnv({
                    ...CREDENTIALS,
                    CLARI_API_PASSWORD: 'not-the-password',
                    CLARI_BASE_URL: emulator.url,
                    NANGO_LOCAL_DB: tempDir('unauthorized-')
                })
            );
            expect(result.code).toBe(1);
            const lines = ownLines(result.stderr);
            expect(lines, result.stderr).toHaveLength(1);
            expect(lines[0]).toMatch(/HTTP 401.*CLARI_API_KEY and CLARI_API_PASSWORD/);
        } finally {
            await emulator.close();
        }
    }, 60_000);

    it('reports a port in use in one line, exit 2', async () => {
        const store = await openStore({ dir: tempDir('busy-') });
        const busy = await startNangoServer({ store, secretKey: SECRET, port: 0 });
        try {
            const port = new URL(busy.url).port;
            const result = await runCommand(
                'npm',
                ['run', 'serve'],
                cleanEnv({ NANGO_LOCAL_PORT: port, NANGO_LOCAL_DB: tempDir('serve-') })
            );
            // A port another process holds is the user's to fix, as docs/local-stack.md says: exit 2.
            expect(result.code).toBe(2);
            const lines = ownLines(result.stderr);
            expect(lines).toHaveLength(1);
            expect(lines[0]).toMatch(/port is in use/);
        } finally {
            await busy.close();
            await store.close();
        }
    }, 60_000);
});
