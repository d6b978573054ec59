import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { thisRunner } from '../nango-server/lock.js';
import type { SyncJob } from '../nango-server/scheduler.js';
import { createNangoServer } from '../nango-server/server.js';
import { openStore, type LocalStore } from '../nango-server/database.js';
import type { DeployFlowInput } from '../nango-server/deployments.js';
import type { NangoRecord } from '../nango-server/records.js';
import { makeTempDir } from '../nango-server/test-helpers.js';
import { callPage } from './call-view.js';
import { timeText } from './format.js';
import { dashboard } from './index.js';

/**
 * The dashboard's routes without a browser: what each page shows from a store seeded by hand, how it
 * answers bad input, that no page carries a credential or the secret key, and the guards that replace the
 * API's bearer token for these routes.
 */

const KEY = 'clari-copilot';
const CONNECTION = 'conn-a';
const SECRET_KEY = 'dashboard-test-secret-key';
const API_KEY = 'clari-api-key-0001';
const API_PASSWORD = 'clari-api-password-0002';
const ORIGIN = 'http://localhost:80';

const fullCall = {
    id: 'live-1',
    title: 'Weekly <script>alert("x")</script> & "sync"',
    time: '2026-03-04T15:00:00.000Z',
    status: 'POST_PROCESSING_DONE',
    type: 'ZOOM',
    account_name: 'Initech',
    deal_name: 'Initech renewal',
    call_review_page_url: 'javascript:alert(1)',
    users: [{ userId: 'u1', userEmail: 'rep@example.com', isOrganizer: true, personId: '11' }],
    externalParticipants: [
        { name: 'Pat Buyer', email: 'pat@initech.example', phone: null, personId: '22' },
        // Listed by phone alone, as Clari lists a dialled-in person; the phrase matches below name him.
        { name: null, email: null, phone: '+15582823341', personId: '33' }
    ],
    metrics: {
        talk_listen_ratio: 0.42,
        num_questions_asked: 7,
        call_duration: 1830,
        categories: [
            {
                name: 'Pricing',
                occurences: 3,
                phrases_matched: [
                    { text: 'discount', user_id: 'u1', name: 'Rita Rep', time: 31 },
                    { text: 'budget', user_id: '33', name: 'Sam Caller', time: 90 }
                ]
            }
        ]
    },
    summary: {
        full_summary: 'They went through pricing.',
        topics_discussed: [{ name: 'Pricing', start_timestamp: 30, end_timestamp: 60, summary: 'Discounts for two years' }],
        key_action_items: [{ action_item: 'Send the quote', speaker_name: 'rep@example.com', start_timestamp: 95, end_timestamp: 99 }]
    },
    competitor_sentiments: [{ competitor_name: 'Acme', sentiment: 'NEGATIVE', reasoning: 'too slow', personId: '22', turn_start_time: 65 }],
    transcript: [
        { text: 'Hello and welcome, Pat.', start: 0, end: 4.5, personId: '11', annotations: null },
        { text: 'Thanks <b>for</b> having me.', start: 65, end: 70, personId: '22', annotations: null },
        { text: 'Sam here, on the phone.', start: 90, end: 93, personId: '33', annotations: null },
        { text: 'Who is this?', start: 3725, end: 3730, personId: '99', annotations: null }
    ]
};

/** Thirty January days in an order unrelated to the order the calls are saved in. */
const STANDUP_TIMES = Array.from({ length: 30 }, (_, index) => `2026-01-${String(((index * 7) % 30) + 1).padStart(2, '0')}T09:30:00.000Z`);
/** conn-b's calls newest first by call time, as the calls list must show them. */
const STANDUPS_NEWEST_FIRST = STANDUP_TIMES.map((time, index) => ({ id: `b-${index}`, time }))
    .sort((a, b) => b.time.localeCompare(a.time))
    .map((call) => call.id);

function flow(autoStart: boolean): DeployFlowInput {
    return {
        providerConfigKey: KEY,
        type: 'sync',
        name: 'calls',
        version: '1.0.0',
        runs: 'every hour',
        models: ['Call'],
        endpoints: [{ method: 'GET', path: '/calls' }],
        syncType: 'incremental',
        trackDeletes: false,
        autoStart,
        inputModel: null,
        description: null,
        scopes: [],
        js: 'module.exports = {};',
        ts: '',
        jsonSchema: null,
        rawConfig: { syncName: 'calls' },
        sdkVersion: null
    };
}

async function seed(store: LocalStore): Promise<{ withheld: number; succeeded: number; failed: number; running: number }> {
    await store.connections.upsertConnection({
        connectionId: CONNECTION,
        providerConfigKey: KEY,
        provider: KEY,
        apiKey: API_KEY,
        apiPassword: API_PASSWORD,
        metadata: null
    });
    await store.records.saveRecords(CONNECTION, 'Call', [{ id: 'old-1', title: 'Old call', time: '2025-01-01T00:00:00.000Z' }], 'run-0');
    const [old] = (await store.records.listRecords({ connectionId: CONNECTION, model: 'Call', ids: ['old-1'] })).records;
    await store.records.pruneRecords({ connectionId: CONNECTION, model: 'Call', untilCursor: old?._nango_metadata.cursor ?? '' });
    await store.records.saveRecords(
        CONNECTION,
        'Call',
        [fullCall, { id: 'gone-1', title: 'Cancelled call', time: '2026-02-01T00:00:00.000Z' }],
        'run-1'
    );
    await store.records.deleteRecords(CONNECTION, 'Call', ['gone-1'], 'run-1');
    await store.deployments.deployFlows([flow(false)], { reconcile: true });
    await store.connections.upsertConnection({
        connectionId: 'conn-b',
        providerConfigKey: KEY,
        provider: KEY,
        apiKey: 'k',
        apiPassword: 'p',
        metadata: null
    });
    await store.records.saveRecords(
        'conn-b',
        'Call',
        Array.from({ length: 30 }, (_, index) => ({ id: `b-${index}`, title: `Standup ${index}`, time: STANDUP_TIMES[index] })),
        'run-b'
    );

    const logs = (runId: number, messages: string[]) =>
        store.runs.appendRunLogs(
            runId,
            messages.map((message) => ({ level: 'info', message, createdAt: new Date() }))
        );
    const withheld = await store.runs.startRun(CONNECTION, 'calls', thisRunner(), 'schedule');
    await logs(withheld.runId, [
        'Starting reconcile run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
        'Withholding every delete this run: 300 of 300 stored call(s) went unlisted',
        'paused: reason=budget resumes=2026-01-04T00:00:00.000Z weekSpent=49990 budget=50000 backfilledTo=2025-08-01T00:00:00.000Z',
        'Clari Copilot calls sync (reconcile) finished in 1.0s: listed=0 detailsFetched=0 unchangedSkipped=0 prunedSkipped=0 saved=0 invalid=0 deleted=0 failed=0 requests=2 retries=0 429s=0 deletes=withheld refreshed=0 deferred=0 confirmedAlive=0 withheld=300 weekSpent=49990 paused=budget'
    ]);
    await store.runs.finishRun(withheld.runId, 'success');
    const succeeded = await store.runs.startRun(CONNECTION, 'calls', thisRunner(), 'cli');
    await logs(succeeded.runId, [
        'Starting initial run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
        'window: matched=223',
        'page: listed=100 unchanged=0 pruned=0 fetched=100 saved=100 invalid=0 gone=0',
        'Clari Copilot calls sync (initial) finished in 2.2s: listed=223 detailsFetched=221 unchangedSkipped=1 prunedSkipped=2 saved=219 invalid=3 deleted=4 failed=5 requests=226 retries=7 429s=8 deletes=listRecords refreshed=0 deferred=0 confirmedAlive=0 withheld=0 weekSpent=226 paused=none'
    ]);
    await store.runs.finishRun(
        succeeded.runId,
        'success',
        JSON.stringify({ added: 219, updated: 0, unchanged: 1, deleted: 4, requests: 226, retries: 7 })
    );
    const failed = await store.runs.startRun(CONNECTION, 'calls', thisRunner(), 'dashboard');
    // A sync or a library that echoes the credentials must not put them on a page.
    await logs(failed.runId, [
        'Starting incremental run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
        `request with key ${API_KEY} refused`
    ]);
    await store.runs.finishRun(failed.runId, 'failed', `ProxyHttpError: 401 for ${API_KEY}:${API_PASSWORD}`);
    const running = await store.runs.startRun(CONNECTION, 'calls', thisRunner());
    await logs(running.runId, [
        'Starting incremental run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
        'window: matched=400',
        'page: listed=100 unchanged=10 pruned=0 fetched=90 saved=90 invalid=0 gone=0'
    ]);
    return { withheld: withheld.runId, succeeded: succeeded.runId, failed: failed.runId, running: running.runId };
}

const tmp = makeTempDir('dashboard-routes');
let store: LocalStore;
let app: FastifyInstance;
let runs: { withheld: number; succeeded: number; failed: number; running: number };
const jobs: SyncJob[] = [];

beforeAll(async () => {
    store = await openStore({ dir: tmp.dir });
    runs = await seed(store);
    app = createNangoServer({
        store,
        secretKey: SECRET_KEY,
        addOns: [dashboard],
        runJob: async (job) => {
            jobs.push(job);
            await Promise.resolve();
        }
    });
    await app.ready();
}, 60_000);

afterAll(async () => {
    await app.close();
    await store.close();
    tmp.cleanup();
});

async function page(url: string, options: Omit<InjectOptions, 'url'> = {}): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'GET', url, ...options });
}

/** The text a reader sees: tags dropped, entities decoded, white space folded. */
function textOf(html: string): string {
    return html
        .replace(/<script[\s\S]*?<\/script>/g, ' ')
        .replace(/<[^>]+>/g, ' ')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&')
        .replace(/\s+/g, ' ');
}

function expectCleanProblem(res: LightMyRequestResponse, status: number, heading: RegExp): void {
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(textOf(res.body)).toMatch(heading);
    // No stack trace, no file paths, no error class dumps.
    expect(res.body).not.toMatch(/\bat .+:\d+:\d+/);
    expect(res.body).not.toMatch(/node_modules|\.ts\b|Error:/);
}

describe('dashboard pages', () => {
    it('lists runs newest first with the summary line figures, a running run with its progress, a failed one with its error', async () => {
        const res = await page('/');
        expect(res.statusCode).toBe(200);
        const text = textOf(res.body);
        const order = [runs.running, runs.failed, runs.succeeded].map((id) => text.indexOf(`#${id} calls`));
        expect(order.every((index) => index >= 0)).toBe(true);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        const row = /<tr data-run="(\d+)"[^>]*>([\s\S]*?)<\/tr>/g;
        const rows = new Map([...res.body.matchAll(row)].map((match) => [Number(match[1]), match[2] ?? '']));
        const cells = (runId: number): Record<string, string> =>
            Object.fromEntries(
                [...(rows.get(runId) ?? '').matchAll(/data-field="(\w+)"[^>]*>([\s\S]*?)<\/td>/g)].map((m) => [
                    m[1] ?? '',
                    textOf(m[2] ?? '').trim()
                ])
            );
        expect(cells(runs.succeeded)).toMatchObject({
            trigger: 'npm run sync',
            kind: 'initial',
            status: 'success',
            listed: '223',
            detailsFetched: '221',
            unchangedSkipped: '1',
            prunedSkipped: '2',
            saved: '219',
            deleted: '4',
            invalid: '3',
            failed: '5',
            requests: '226',
            retries: '7',
            throttled: '8'
        });
        expect(cells(runs.withheld)).toMatchObject({ trigger: 'schedule' });
        expect(cells(runs.failed)).toMatchObject({ trigger: 'Run now' });
        expect(cells(runs.running)).toMatchObject({
            // Started without saying by what, as every run recorded before triggers were.
            trigger: 'unknown',
            kind: 'incremental',
            status: 'running',
            listed: '100',
            detailsFetched: '90',
            requests: '–'
        });
        expect(text).toContain('listed 100 of 400 (25%)');
        expect(text).toContain('ProxyHttpError: 401 for [redacted]:[redacted]');
        expect(res.body).toContain(`href="/ui/runs/${runs.succeeded}"`);
    });

    it('shows a run with its log lines, one click from the list', async () => {
        const res = await page(`/ui/runs/${runs.succeeded}`);
        expect(res.statusCode).toBe(200);
        const text = textOf(res.body);
        expect(text).toContain(`Run #${runs.succeeded}: calls (initial)`);
        expect(text).toContain('Started by npm run sync npm run sync started it.');
        expect(text).toContain('Log lines (4)');
        expect(text).toContain('page: listed=100 unchanged=0 pruned=0 fetched=100 saved=100 invalid=0 gone=0');
    });

    it('shows a reconciliation that withheld its deletes for what it is, on the list and on its page', async () => {
        const notice =
            /Deletes withheld: 300 stored call\(s\) went unlisted, more than a reconciliation may delete at once, so nothing was deleted/;
        expect(textOf((await page('/')).body)).toMatch(notice);
        const res = await page(`/ui/runs/${runs.withheld}`);
        expect(res.body).toContain('data-field="deletes-notice"');
        expect(textOf(res.body)).toMatch(notice);
        expect(textOf((await page(`/ui/runs/${runs.succeeded}`)).body)).not.toMatch(/Deletes withheld/);
    });

    it('shows a run paused by the weekly budget as paused, until when, and how far the backfill got', async () => {
        const paused =
            /Paused by the weekly budget until 2026-01-04 00:00:00\sUTC: this Clari week has cost 49990 of 50000 requests. The backfill has stored every call since 2025-08-01 00:00:00\sUTC./;
        expect(textOf((await page('/')).body)).toMatch(paused);
        const res = await page(`/ui/runs/${runs.withheld}`);
        expect(res.body).toContain('data-field="pause-notice"');
        expect(textOf(res.body)).toMatch(paused);
        expect(textOf((await page(`/ui/runs/${runs.succeeded}`)).body)).not.toMatch(/Paused by the weekly budget/);
    });

    it('reports a running run’s progress as JSON for the page’s script', async () => {
        const res = await page('/ui/live.json');
        expect(res.statusCode).toBe(200);
        const live = res.json<{ latestRunId: number; running: { runId: number; listed: number; matched: number; percent: number }[] }>();
        expect(live.latestRunId).toBe(runs.running);
        expect(live.running).toEqual([expect.objectContaining({ runId: runs.running, listed: 100, matched: 400, percent: 25 })]);
    });

    it('lists calls with their markers: deleted and pruned records say so', async () => {
        const res = await page('/ui/calls');
        expect(res.statusCode).toBe(200);
        const text = textOf(res.body);
        expect(text).toContain('Weekly <script>alert("x")</script> & "sync"');
        expect(text).toMatch(/Call old-1 payload pruned by Nango's record lifecycle on \d{4}-\d{2}-\d{2}/);
        expect(text).toMatch(/Cancelled call deleted on \d{4}-\d{2}-\d{2}/);
        expect(text).toContain('Rita Rep');
        expect(text).toContain('Initech');
        expect(text).toContain('2 live calls');
        expect(text).not.toMatch(/\d+ calls? match/);
    });

    it('searches titles and says how many calls match, over every page', async () => {
        const found = textOf((await page('/ui/calls?q=CANCELLED')).body);
        expect(found).toContain('Cancelled call');
        expect(found).not.toContain('Weekly');
        expect(found).toContain('1 call matches “CANCELLED”.');

        const none = textOf((await page('/ui/calls?q=%25%25')).body);
        expect(none).toContain('No call title contains that text.');
        expect(none).toContain('0 calls match “%%”.');

        expect(textOf((await page('/ui/calls?connection=conn-b&q=standup')).body)).toContain('30 calls match “standup”.');
        expect(textOf((await page('/ui/calls?connection=conn-b&q=Standup%201')).body)).toContain('11 calls match “Standup 1”.');
    });

    it('lists calls newest first by call time, and pages with the cursor in the next link', async () => {
        const shown = (html: string) => [...html.matchAll(/data-call="([^"]+)"/g)].map((match) => match[1]);
        const nextLink = (html: string) => /<a href="([^"]+)" rel="next">/.exec(html)?.[1]?.replace(/&amp;/g, '&');
        for (const q of ['', 'standup']) {
            const first = await page(`/ui/calls?connection=conn-b&q=${q}`);
            expect(shown(first.body)).toEqual(STANDUPS_NEWEST_FIRST.slice(0, 25));
            const next = nextLink(first.body);
            expect(next).toMatch(/cursor=.+&page=2/);
            const second = await page(next ?? '');
            expect(shown(second.body)).toEqual(STANDUPS_NEWEST_FIRST.slice(25));
            expect(textOf(second.body)).toContain('Page 2');
            expect(nextLink(second.body)).toBeUndefined();
            expect(second.body).toContain('>First page</a>');
        }
    });

    it('shows a call: metrics, summary, sentiments and the transcript with speakers and times, escaped', async () => {
        const res = await page('/ui/calls/live-1');
        expect(res.statusCode).toBe(200);
        const text = textOf(res.body);
        expect(text).toContain('0:00–0:04 Rita Rep Hello and welcome, Pat.');
        expect(text).toContain('1:05–1:10 Pat Buyer Thanks <b>for</b> having me.');
        expect(text).toContain('1:30–1:33 Sam Caller Sam here, on the phone.');
        expect(text).toContain('Rita Rep rep@example.com organizer');
        expect(text).toContain('Sam Caller +15582823341 external participant');
        expect(text).toContain('1:02:05–1:02:10 person 99 Who is this?');
        expect(text).toContain('Talk/listen ratio 0.42');
        expect(text).toMatch(/Pricing 0:30\s*: Discounts for two years/);
        expect(text).toContain('Send the quote (rep@example.com, 1:35)');
        expect(text).toContain('Acme NEGATIVE too slow Pat Buyer, 1:05');
        expect(res.body).not.toContain('<script>alert');
        expect(res.body).not.toContain('<b>for</b>');
        expect(res.body).not.toContain('javascript:');
    });

    it('shows deleted and pruned calls as such', async () => {
        const deleted = textOf((await page('/ui/calls/gone-1')).body);
        expect(deleted).toMatch(/This call was deleted on \d{4}-\d{2}-\d{2}/);
        const pruned = await page('/ui/calls/old-1');
        expect(pruned.statusCode).toBe(200);
        expect(textOf(pruned.body)).toMatch(/payload was pruned by Nango's record lifecycle on \d{4}-\d{2}-\d{2}/);
        expect(textOf(pruned.body)).not.toContain('Transcript');
    });

    it('shows the deployed sync, its schedule and a Run now button', async () => {
        const res = await page('/ui/deployed');
        expect(res.statusCode).toBe(200);
        const text = textOf(res.body);
        expect(text).toContain('calls sync, version 1.0.0');
        expect(text).toContain('every hour');
        expect(res.body).toContain('<button type="submit">Run now</button>');
    });
});

describe('bad input gets a clear page', () => {
    it('answers an unknown call, run, connection or page with a 404 page', async () => {
        expectCleanProblem(await page('/ui/calls/no-such-call'), 404, /There is no call no-such-call/);
        expectCleanProblem(await page('/ui/runs/999999'), 404, /There is no run 999999/);
        expectCleanProblem(await page('/ui/calls?connection=nobody'), 404, /There is no connection nobody/);
        expectCleanProblem(await page('/ui/calls/live-1?connection=nobody'), 404, /There is no connection nobody/);
        expectCleanProblem(await page('/ui/nowhere'), 404, /There is no such page/);
    });

    it('answers a bad page number, cursor, search or run id with a 400 page', async () => {
        expectCleanProblem(await page('/ui/calls?page=0'), 400, /page: Too small/);
        expectCleanProblem(await page('/ui/calls?page=two'), 400, /page: /);
        expectCleanProblem(await page('/ui/calls?cursor=bm9wZQ'), 400, /cursor: not a cursor this list gave out/);
        expectCleanProblem(await page(`/ui/calls?q=${'x'.repeat(201)}`), 400, /q: a search is at most 200 characters/);
        expectCleanProblem(await page('/ui/calls?q=a%00b'), 400, /q: must not contain NUL bytes/);
        expectCleanProblem(await page('/ui/calls?q=a&q=b'), 400, /q: /);
        expectCleanProblem(await page('/ui/calls?sort=title'), 400, /Unrecognized key/);
        expectCleanProblem(await page('/ui/runs/abc'), 400, /a run id is a whole number/);
        expectCleanProblem(await page('/?limit=-1'), 400, /limit: /);
        expectCleanProblem(await page('/ui/calls/%00'), 400, /must not contain NUL bytes/);
    });
});

describe('no secrets, and guards in place of the bearer token', () => {
    it('puts neither the secret key nor a connection credential on any page', async () => {
        const urls = [
            '/',
            `/ui/runs/${runs.succeeded}`,
            `/ui/runs/${runs.failed}`,
            `/ui/runs/${runs.running}`,
            '/ui/live.json',
            '/ui/calls',
            '/ui/calls/live-1',
            '/ui/calls/old-1',
            '/ui/calls/gone-1',
            '/ui/deployed',
            '/ui/calls/nope',
            '/ui/calls?page=0'
        ];
        for (const url of urls) {
            const res = await page(url);
            expect(res.statusCode, url).toBeLessThan(500);
            for (const secret of [SECRET_KEY, API_KEY, API_PASSWORD]) {
                expect(res.body, `${url} shows ${secret}`).not.toContain(secret);
            }
        }
        // The failed run's log line that echoed the key is there, redacted.
        expect(textOf((await page(`/ui/runs/${runs.failed}`)).body)).toContain('request with key [redacted] refused');
    });

    it('keeps the API behind the bearer token, even under /ui/ and at /', async () => {
        expect(
            (await page('/records?model=Call', { headers: { 'connection-id': CONNECTION, 'provider-config-key': KEY } })).statusCode
        ).toBe(401);
        expect((await app.inject({ method: 'POST', url: '/sync/trigger', payload: { syncs: ['calls'] } })).statusCode).toBe(401);
        expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(401);
        expect((await app.inject({ method: 'POST', url: '/ui/calls' })).statusCode).toBe(401);
    });

    it('answers only to a loopback Host', async () => {
        expectCleanProblem(
            await page('/', { headers: { host: 'attacker.example:3003' } }),
            403,
            /answers on 127\.0\.0\.1 and localhost only/
        );
        expect((await page('/', { headers: { host: '127.0.0.1:3003' } })).statusCode).toBe(200);
        expect((await page('/', { headers: { host: '[::1]:3003' } })).statusCode).toBe(200);
    });

    it('runs a sync now through the scheduler for a same-origin POST, and refuses one from elsewhere', async () => {
        const form = 'integration=clari-copilot&sync=calls&connection=conn-a';
        const post = (headers: Record<string, string>, payload = form) =>
            app.inject({
                method: 'POST',
                url: '/ui/deployed/run',
                headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
                payload
            });
        jobs.length = 0;
        expectCleanProblem(await post({ origin: 'http://attacker.example' }), 403, /Run now only works from this dashboard/);
        expectCleanProblem(await post({ origin: ORIGIN, 'sec-fetch-site': 'cross-site' }), 403, /Sec-Fetch-Site/);
        expectCleanProblem(await post({}), 403, /no Origin header/);
        expectCleanProblem(await post({ origin: ORIGIN }, 'integration=clari-copilot&sync=nope&connection=conn-a'), 400, /not deployed/);
        expectCleanProblem(
            await post({ origin: ORIGIN }, 'integration=clari-copilot&sync=calls&connection=nobody'),
            400,
            /no connection nobody/
        );
        expectCleanProblem(await post({ origin: ORIGIN }, 'sync=calls'), 400, /integration: /);
        expect(jobs).toEqual([]);

        const res = await post({ origin: ORIGIN, 'sec-fetch-site': 'same-origin' });
        expect(res.statusCode).toBe(303);
        expect(res.headers.location).toBe('/?requested=calls+for+conn-a');
        await expect
            .poll(() => jobs.map((job) => `${job.flow.name} ${job.connectionId} ${job.mode} ${job.trigger}`))
            .toEqual(['calls conn-a incremental dashboard']);
        expect(textOf((await page('/?requested=calls+for+conn-a')).body)).toContain('Run now: calls for conn-a was queued');
    });
});

describe('a local Nango without a runner', () => {
    it('says so on the deployed page instead of offering Run now, and refuses the POST', async () => {
        const bare = createNangoServer({ store, secretKey: SECRET_KEY, addOns: [dashboard] });
        try {
            const res = await bare.inject({ url: '/ui/deployed' });
            expect(res.statusCode).toBe(200);
            expect(textOf(res.body)).toContain('started without a runner');
            expect(res.body).not.toContain('Run now</button>');
            const post = await bare.inject({
                method: 'POST',
                url: '/ui/deployed/run',
                headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
                payload: 'integration=clari-copilot&sync=calls&connection=conn-a'
            });
            expectCleanProblem(post, 501, /runs no syncs/);
        } finally {
            await bare.close();
        }
    });
});

describe('checkpoints and interruptions', () => {
    it('shows an interrupted run for what it is, with the checkpoints it went through, and the sync’s current checkpoint', async () => {
        // A connection of its own: the seeded one has a run still running.
        const connection = await store.connections.upsertConnection({
            connectionId: 'conn-checkpointed',
            providerConfigKey: 'clari-copilot',
            provider: 'clari-copilot',
            apiKey: API_KEY,
            apiPassword: API_PASSWORD
        });
        const run = await store.runs.startRun(connection.connectionId, 'calls', thisRunner());
        await store.runs.finishRun(run.runId, 'success', '{}', {
            interrupted: true,
            checkpoints: { from: { window: 2 }, to: { window: 5, since: '2025-01-01T00:00:00.000Z' } }
        });
        await store.checkpoints.putCheckpoint(connection.id, 'sync:calls', { window: 5, since: '2025-01-01T00:00:00.000Z' }, 1);

        const runPage = await page(`/ui/runs/${run.runId}`);
        expect(runPage.statusCode).toBe(200);
        expect(runPage.body).toContain('status-interrupted');
        expect(textOf(runPage.body)).toContain('Checkpoints from {"window":2} to {"since":"2025-01-01T00:00:00.000Z","window":5}');
        expect(textOf(runPage.body)).toContain('it counts as a success, and the next execution started at once');
        expect(textOf((await page('/')).body)).toMatch(/interrupted/);

        const deployed = textOf((await page('/ui/deployed')).body);
        expect(deployed).toContain('Checkpoint');
        expect(deployed).toContain('{"since":"2025-01-01T00:00:00.000Z","window":5}');
    });
});

describe('people are named wherever the record names them', () => {
    const recordOf = (call: object): NangoRecord => ({
        ...call,
        id: 'named',
        _nango_metadata: {
            first_seen_at: '2026-03-04T15:00:00.000Z',
            last_modified_at: '2026-03-04T15:00:00.000Z',
            last_action: 'ADDED',
            deleted_at: null,
            pruned_at: null,
            cursor: 'c'
        }
    });
    const phoneOnly = { name: null, email: null, phone: '+15582823341', personId: '33' };
    const speakerOf = (call: object): string | undefined => callPage(recordOf(call)).transcript?.[0]?.speaker;
    const said = [{ text: 'Hello', start: 0, end: 1, personId: '33' }];

    it('shows the phone of a person the record names nowhere', () => {
        expect(
            speakerOf({ externalParticipants: [phoneOnly, { ...phoneOnly, phone: '+15550000000', personId: '34' }], transcript: said })
        ).toBe('+15582823341');
    });

    it('names a person listed by phone from another entry for the same phone', () => {
        const sameByPhone = { name: 'Sam Caller', email: null, phone: '+15582823341', personId: null };
        expect(speakerOf({ externalParticipants: [sameByPhone, phoneOnly], transcript: said })).toBe('Sam Caller');
    });

    it('names a person from a phrase match of theirs, but a name on the entry itself wins', () => {
        const metrics = { categories: [{ name: 'Pricing', phrases_matched: [{ text: 'budget', user_id: '33', name: 'Sam Caller' }] }] };
        expect(speakerOf({ externalParticipants: [phoneOnly], metrics, transcript: said })).toBe('Sam Caller');
        expect(speakerOf({ externalParticipants: [{ ...phoneOnly, name: 'Samuel Caller' }], metrics, transcript: said })).toBe(
            'Samuel Caller'
        );
        const namedElsewhere = { name: 'Samuel Caller', email: null, phone: '+15582823341', personId: null };
        expect(speakerOf({ externalParticipants: [phoneOnly, namedElsewhere], metrics, transcript: said })).toBe('Samuel Caller');
    });

    it('names the one external participant of a call after its one CRM contact, and not when there are several', () => {
        expect(speakerOf({ externalParticipants: [phoneOnly], contact_names: ['Dana Prospect'], transcript: said })).toBe('Dana Prospect');
        const two = [phoneOnly, { ...phoneOnly, phone: '+15550000000', personId: '34' }];
        expect(speakerOf({ externalParticipants: two, contact_names: ['Dana Prospect', 'Lee Other'], transcript: said })).toBe(
            '+15582823341'
        );
    });

    it('keeps the phone or email beside the name in the list of people', () => {
        const page = callPage(
            recordOf({
                users: [{ userId: 'u1', userEmail: 'rep@example.com', isOrganizer: true, personId: '11' }],
                externalParticipants: [phoneOnly],
                contact_names: ['Dana Prospect'],
                metrics: { categories: [{ name: 'Pricing', phrases_matched: [{ user_id: 'u1', name: 'Rita Rep' }] }] }
            })
        );
        expect(page.people).toEqual([
            { label: 'Rita Rep', contact: 'rep@example.com', role: 'organizer' },
            { label: 'Dana Prospect', contact: '+15582823341', role: 'external participant' }
        ]);
        expect(page.users).toEqual(['Rita Rep']);
    });
});

describe('every time says its zone', () => {
    const UTC_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\u00a0UTC$/;

    it('writes a time in UTC and says so', () => {
        expect(timeText('2026-12-03T14:05:09.123+01:00')?.text).toBe('2026-12-03 13:05:09\u00a0UTC');
        expect(timeText(new Date(Date.UTC(2026, 0, 4)))?.text).toBe('2026-01-04 00:00:00\u00a0UTC');
        expect(timeText('not a time')).toBeNull();
    });

    it('gives every time on every page its zone, the ones inside sentences too', async () => {
        const urls = [
            '/',
            `/ui/runs/${runs.withheld}`,
            `/ui/runs/${runs.succeeded}`,
            '/ui/calls',
            '/ui/calls/live-1',
            '/ui/calls/gone-1',
            '/ui/calls/old-1',
            '/ui/deployed'
        ];
        let times = 0;
        for (const url of urls) {
            const html = (await page(url)).body;
            for (const [, shown] of html.matchAll(/<time datetime="[^"]+"[^>]*>([^<]*)<\/time>/g)) {
                expect(shown, url).toMatch(UTC_TIME);
                times++;
            }
            // What the sync wrote (log lines) and stored values (checkpoints, in <code>) are shown as they are.
            const written = textOf(html.replace(/<ol class="log">[\s\S]*?<\/ol>/g, '').replace(/<code>[\s\S]*?<\/code>/g, ''));
            expect(written, url).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
        }
        expect(times).toBeGreaterThan(20);
    });
});
