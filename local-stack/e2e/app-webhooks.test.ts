import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Nango as NangoCli } from '@nangohq/node';
import { Nango } from '@nangohq/node-current';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startReferenceApp, type RunningReferenceApp } from '../../examples/app/app.js';
import { CALL_MODEL, PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import { deployWithCli } from '../cli/deploy.js';
import type { SyncRun } from '../nango-server/index.js';
import type { WebhookSettings } from '../nango-server/sync-webhooks.js';
import { serializeSorted } from '../nango-server/webhook-delivery.js';
import { AWAITING_PROCESSING, CREDENTIALS, EmulatorControl, callTimeMs, pick, statusOf, type TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, isInWindow, lastDays } from './oracle.js';
import { startRunnerStack, type RunnerStack } from './runner-stack.js';
import { pruneEverything, type ServedRecord } from './served-records.js';
import { ALWAYS_RECONCILE, FAST_METADATA, SECRET_KEY } from './stack.js';

/**
 * Issue 17's proof: the reference app (examples/app) receives the local Nango's real sync webhooks, pulls from its
 * cursor with today's @nangohq/node, and keeps a copy equal to the emulator's truth through a first sync, changes,
 * and a reconciliation after Nango pruned every payload. A capturing receiver on the secondary URL sees each raw
 * webhook, to check signatures, bodies and retries.
 */

const CONNECTION = 'webhook-app';
const SIGNING_KEY = 'e2e-webhook-signing-key-0123456789';
const DAY_MS = 86_400_000;

interface Received {
    raw: string;
    headers: IncomingHttpHeaders;
    body: Record<string, unknown>;
}

/** Records every POST; answers each with the next scripted status, then 200. */
class Receiver {
    private constructor(
        private readonly server: Server,
        readonly url: string,
        private readonly hits: { received: Received[]; script: number[] }
    ) {}

    get received(): Received[] {
        return this.hits.received;
    }

    /** The statuses the next POSTs get, in order; 200 after them. */
    answerNext(statuses: number[]): void {
        this.hits.script = [...statuses];
    }

    static async start(): Promise<Receiver> {
        const hits: { received: Received[]; script: number[] } = { received: [], script: [] };
        const server = createServer((request, response) => {
            const chunks: Buffer[] = [];
            request.on('data', (chunk: Buffer) => chunks.push(chunk));
            request.on('end', () => {
                const raw = Buffer.concat(chunks).toString('utf8');
                hits.received.push({ raw, headers: request.headers, body: JSON.parse(raw) as Record<string, unknown> });
                response.statusCode = hits.script.shift() ?? 200;
                response.end();
            });
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks?token=receiver-query-token`, hits);
    }

    forRun(run: SyncRun): Received[] {
        return this.received.filter((hit) => (hit.body['modifiedAfter'] ?? hit.body['startedAt']) === run.startedAt.toISOString());
    }

    close(): Promise<void> {
        return new Promise((resolve) => {
            this.server.close(() => {
                resolve();
            });
        });
    }
}

const settings: WebhookSettings = { primaryUrl: 'http://127.0.0.1:9/not-yet', signingKey: SIGNING_KEY, always: false, onError: true };
let stack: RunnerStack;
let app: RunningReferenceApp;
let receiver: Receiver;
let nango: Nango;
let control: EmulatorControl;
const appLog: string[] = [];

beforeAll(async () => {
    stack = await startRunnerStack('app-webhooks', {
        emulator: { calls: 150, months: 6, seed: 51 },
        connectionId: CONNECTION,
        webhooks: settings
    });
    receiver = await Receiver.start();
    app = await startReferenceApp({
        nangoHost: stack.server.url,
        secretKey: SECRET_KEY,
        webhookSigningKey: SIGNING_KEY,
        log: (line) => appLog.push(line)
    });
    // The settings are read at each delivery: the app and the receiver take their slots now that they listen.
    settings.primaryUrl = app.webhookUrl;
    settings.secondaryUrl = receiver.url;
    nango = new Nango({ apiKey: SECRET_KEY, host: stack.server.url, webhookSigningKey: SIGNING_KEY });
    control = new EmulatorControl(stack.emulator.url);
}, 60_000);

afterAll(async () => {
    await stack.close();
    await app.close();
    await receiver.close();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

async function runs(): Promise<SyncRun[]> {
    return stack.store.runs.listRuns({ connectionId: CONNECTION, syncName: SYNC_NAME, limit: 100 });
}

/** Triggers a run with today's client and waits for it to end and for its webhooks (if any) to be answered. */
async function triggerAndSettle(expectWebhooks: number): Promise<SyncRun> {
    const before = (await runs())[0]?.runId ?? 0;
    await nango.triggerSync(PROVIDER_CONFIG_KEY, [SYNC_NAME], CONNECTION);
    const run = await until('the triggered run to end', async () => {
        const newest = (await runs()).find((candidate) => candidate.runId > before && candidate.status !== 'running');
        return newest;
    });
    await until('its webhook attempts', async () =>
        (await stack.store.runs.webhookAttempts(run.runId)).filter((attempt) => attempt.status !== null && attempt.status < 500).length >=
        expectWebhooks
            ? true
            : undefined
    );
    await app.idle();
    return run;
}

async function appCopyAsServed(): Promise<ServedRecord[]> {
    return [...(await app.copy.allCalls())].map(([id, data]) => ({
        id,
        data,
        lastAction: 'UPDATED',
        deletedAt: null,
        lastModifiedAt: '',
        prunedAt: null,
        cursor: ''
    }));
}

async function expectCopyEqualsTruth(run: SyncRun): Promise<void> {
    expectRecordsEqualTruth(await appCopyAsServed(), expectedRecords(await control.truth(), lastDays(run.startedAt)));
}

describe('the reference app keeps its own copy from the local Nango sync webhooks', () => {
    let first: SyncRun;

    it('deploys, runs the first sync, and the app pulls it whole on its webhook', async () => {
        await deployWithCli({ serverUrl: stack.server.url, secretKey: SECRET_KEY });
        const scripts = (await nango.getScriptsConfig()) as { providerConfigKey: string; syncs: { name: string }[] }[];
        expect(scripts.flatMap((config) => config.syncs.map((sync) => `${config.providerConfigKey}/${sync.name}`))).toEqual([
            `${PROVIDER_CONFIG_KEY}/${SYNC_NAME}`
        ]);
        // A deployed sync that never ran starts on the scheduler's next look.
        first = await until('the first run', async () => (await runs()).find((run) => run.status === 'success'));
        await until('the first webhook', () => Promise.resolve(receiver.forRun(first).length > 0 ? true : undefined));
        await app.idle();
        const status = (await nango.syncStatus(PROVIDER_CONFIG_KEY, [SYNC_NAME], CONNECTION)) as {
            syncs: { recordCount: Record<string, number> }[];
        };

        const [hook] = receiver.forRun(first);
        const expected = expectedRecords(await control.truth(), lastDays(first.startedAt));
        expect(hook?.body).toEqual({
            from: 'nango',
            type: 'sync',
            connectionId: CONNECTION,
            providerConfigKey: PROVIDER_CONFIG_KEY,
            syncName: SYNC_NAME,
            syncVariant: 'base',
            model: CALL_MODEL,
            syncType: 'INITIAL',
            success: true,
            responseResults: { added: expected.size, updated: 0, deleted: 0 },
            modifiedAfter: first.startedAt.toISOString(),
            queryTimeStamp: first.startedAt.toISOString(),
            // The range of checkpoints the run went through, as Nango's runner reports it.
            checkpoints: first.checkpoints
        });
        expect(status.syncs[0]?.recordCount).toEqual({ [CALL_MODEL]: expected.size });
        await expectCopyEqualsTruth(first);
        const [someId] = expected.keys();
        const served = await fetch(`${app.url}/calls/${someId ?? ''}`);
        expect(served.status).toBe(200);
        expect(await served.json()).toEqual(expected.get(someId ?? ''));
    }, 240_000);

    it('signs with X-Nango-Hmac-Sha256 over sorted keys, verified by @nangohq/node 0.71; a tampered body is refused', async () => {
        const [hook] = receiver.forRun(first);
        if (!hook) {
            throw new Error('no webhook captured');
        }
        expect(hook.raw).toBe(serializeSorted(JSON.parse(hook.raw)));
        expect(hook.headers['content-type']).toBe('application/json');
        expect(nango.verifyIncomingWebhookRequest(hook.raw, hook.headers)).toBe(true);
        expect(hook.headers['x-nango-signature']).toBe(createHash('sha256').update(`${SIGNING_KEY}${hook.raw}`).digest('hex'));
        const tampered = hook.raw.replace('"added":', '"added":1');
        expect(nango.verifyIncomingWebhookRequest(tampered, hook.headers)).toBe(false);
        const otherKey = new Nango({ apiKey: SECRET_KEY, host: stack.server.url, webhookSigningKey: 'another-key' });
        expect(otherKey.verifyIncomingWebhookRequest(hook.raw, hook.headers)).toBe(false);

        const post = (raw: string) =>
            fetch(app.webhookUrl, {
                method: 'POST',
                headers: {
                    'Content-Type': 'application/json',
                    'X-Nango-Hmac-Sha256': String(hook.headers['x-nango-hmac-sha256'])
                },
                body: raw
            });
        const refused = await post(tampered);
        expect(refused.status).toBe(401);
        expect(appLog.some((line) => line.startsWith('webhook refused'))).toBe(true);

        // A replayed webhook is answered and changes nothing: the app reads from its saved cursor, not from the webhook.
        const before = await app.copy.allCalls();
        const cursor = await app.copy.cursor({ providerConfigKey: PROVIDER_CONFIG_KEY, connectionId: CONNECTION, model: CALL_MODEL });
        expect((await Promise.all([post(hook.raw), post(hook.raw)])).map((response) => response.status)).toEqual([200, 200]);
        await app.idle();
        expect(await app.copy.allCalls()).toEqual(before);
        expect(await app.copy.cursor({ providerConfigKey: PROVIDER_CONFIG_KEY, connectionId: CONNECTION, model: CALL_MODEL })).toBe(cursor);
    });

    it('follows added, modified, late-processed and deleted calls in a reconciliation, with the store counts in the webhook', async () => {
        await stack.store.connections.setMetadata(CONNECTION, PROVIDER_CONFIG_KEY, ALWAYS_RECONCILE);
        const truth = await control.truth();
        const eligible = (call: TruthCall): boolean => !call.private && isInWindow(call, lastDays(new Date()));
        const taken = new Set<string>();
        const processedLate = pick(
            truth,
            2,
            (call) => eligible(call) && AWAITING_PROCESSING.includes(statusOf(call)) && callTimeMs(call) < Date.now() - DAY_MS,
            taken
        );
        const modified = pick(truth, 3, eligible, taken);
        const deleted = pick(truth, 2, eligible, taken);
        const mutation = await control.mutate({ add: 3, modify: modified, lateProcess: processedLate, delete: deleted });

        const run = await triggerAndSettle(2);
        expect(run.status).toBe('success');
        expect(receiver.forRun(run).map((hit) => hit.body['responseResults'])).toEqual([
            { added: mutation.add.length, updated: modified.length + processedLate.length, deleted: deleted.length }
        ]);
        expect(receiver.forRun(run)[0]?.body['syncType']).toBe('INCREMENTAL');
        await expectCopyEqualsTruth(run);
        for (const id of deleted) {
            expect((await fetch(`${app.url}/calls/${id}`)).status).toBe(404);
        }
    }, 120_000);

    it('keeps full payloads after Nango pruned every one, through more changes and a reconciliation', async () => {
        const cli = new NangoCli({ secretKey: SECRET_KEY, host: stack.server.url });
        expect(await pruneEverything(stack.server.url, SECRET_KEY, cli, CONNECTION)).toBeGreaterThan(0);
        const truth = await control.truth();
        const eligible = (call: TruthCall): boolean => !call.private && isInWindow(call, lastDays(new Date()));
        const taken = new Set<string>();
        const modified = pick(truth, 2, eligible, taken);
        const deleted = pick(truth, 1, eligible, taken);
        await control.mutate({ add: 2, modify: modified, delete: deleted });

        const run = await triggerAndSettle(2);
        expect(run.status).toBe('success');
        await expectCopyEqualsTruth(run);
        // Nango serves most calls as pruned stubs now; the app serves each whole from its copy.
        const search = (await (await fetch(`${app.url}/calls?limit=5`)).json()) as { calls: { id: string }[] };
        expect(search.calls).toHaveLength(5);
        const [one] = search.calls;
        const full = (await (await fetch(`${app.url}/calls/${one?.id ?? ''}`)).json()) as Record<string, unknown>;
        expect(Object.keys(full).length).toBeGreaterThan(5);
    }, 120_000);

    it('sends nothing for a run without changes, unless "always" is on; retries a 500 twice and gets the third attempt', async () => {
        await stack.store.connections.setMetadata(CONNECTION, PROVIDER_CONFIG_KEY, FAST_METADATA);
        const quiet = await triggerAndSettle(0);
        expect(quiet.status).toBe('success');

        settings.always = true;
        receiver.answerNext([500, 500]);
        try {
            const loud = await triggerAndSettle(2);
            const attempts = (await stack.store.runs.webhookAttempts(loud.runId)).filter((attempt) => attempt.url.includes('/hooks'));
            expect(attempts.map((attempt) => [attempt.attempt, attempt.status])).toEqual([
                [1, 500],
                [2, 500],
                [3, 200]
            ]);
            expect(receiver.forRun(loud).map((hit) => hit.body['responseResults'])).toEqual([
                { added: 0, updated: 0, deleted: 0 },
                { added: 0, updated: 0, deleted: 0 },
                { added: 0, updated: 0, deleted: 0 }
            ]);
            // The URL is shown without its query, which may hold a token.
            expect(attempts.every((attempt) => !attempt.url.includes('token'))).toBe(true);
        } finally {
            settings.always = false;
        }
        // The quiet run's turn came first: had it sent anything, it would be here by now.
        expect(receiver.forRun(quiet)).toEqual([]);
        expect(await stack.store.runs.webhookAttempts(quiet.runId)).toEqual([]);
    }, 120_000);

    it('sends a failure webhook for a failing run', async () => {
        await stack.store.connections.setMetadata(CONNECTION, PROVIDER_CONFIG_KEY, { ...FAST_METADATA, backfillDays: -1 });
        try {
            const failed = await triggerAndSettle(2);
            expect(failed.status).toBe('failed');
            const [hit] = receiver.forRun(failed);
            expect(hit?.body).toMatchObject({
                type: 'sync',
                success: false,
                model: CALL_MODEL,
                syncName: SYNC_NAME,
                error: { type: 'script_error' },
                startedAt: failed.startedAt.toISOString(),
                failedAt: failed.finishedAt?.toISOString()
            });
            expect(String((hit?.body['error'] as { description?: unknown } | undefined)?.description)).toContain('backfillDays');
            expect(hit && nango.verifyIncomingWebhookRequest(hit.raw, hit.headers)).toBe(true);
            expect(appLog.some((line) => line.includes('failed; the copy stays'))).toBe(true);
        } finally {
            await stack.store.connections.setMetadata(CONNECTION, PROVIDER_CONFIG_KEY, FAST_METADATA);
        }
    }, 120_000);

    it('shows the attempts on the run page, and no secret in a log, a webhook or the dashboard', async () => {
        const secrets = [SIGNING_KEY, SECRET_KEY, CREDENTIALS.apiKey, CREDENTIALS.apiPassword, 'receiver-query-token'];
        const texts: string[] = [];
        for (const run of await runs()) {
            texts.push(...(await stack.store.runs.runLogs(run.runId)).map((line) => line.message));
            const page = await fetch(`${stack.server.url}/ui/runs/${run.runId}`);
            expect(page.status).toBe(200);
            texts.push(await page.text());
        }
        const firstPage = await (await fetch(`${stack.server.url}/ui/runs/${first.runId}`)).text();
        expect(firstPage).toContain('Sync webhooks');
        expect(firstPage).toContain(app.webhookUrl);
        texts.push(...receiver.received.map((hit) => `${hit.raw} ${JSON.stringify(hit.headers)}`), ...appLog);
        expect(texts.some((text) => text.includes('webhook sync success'))).toBe(true);
        for (const secret of secrets) {
            expect(texts.filter((text) => text.includes(secret))).toEqual([]);
        }
    });
});
