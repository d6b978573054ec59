import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { pgText } from '../nango-server/pg-input.js';
import { UnknownSyncError, type SyncScheduler } from '../nango-server/scheduler.js';
import type { ServerAddOn } from '../nango-server/server.js';
import { logServerError } from '../nango-server/server-log.js';
import type { LocalStore } from '../nango-server/database.js';
import { InvalidCursorError } from '../nango-server/records.js';
import { callListRow, callPage } from './call-view.js';
import { timeText } from './format.js';
import { connectionSecrets, deployedViews, progressView, redact, runRow, RUN_COLUMNS } from './pages.js';
import { runFigures } from './run-figures.js';

/**
 * The local Nango's dashboard: runs, calls and deployed scripts, as HTML pages at `/` and under `/ui/`.
 * Server-side Eta templates (views/), one stylesheet and one small script (assets/), no build step.
 *
 * Browsers cannot send the API's bearer token, so these routes are exempt from it (`isDashboardRequest`).
 * What guards them instead: the server listens on 127.0.0.1, every page answers only to a loopback Host
 * (a DNS-rebinding page on another name gets nothing), the one POST must come from the dashboard's own
 * origin, and nothing on any page comes from the credentials or the secret key.
 */

declare module 'fastify' {
    interface FastifyContextConfig {
        /** Marks the dashboard's routes, which browsers reach without the API's bearer token. */
        dashboard?: boolean;
    }
}

export interface DashboardOptions {
    store: LocalStore;
    /** Null when the server runs no syncs: the dashboard then shows that instead of "Run now". */
    scheduler: SyncScheduler | null;
    providerConfigKey?: string | undefined;
}

const MODEL = 'Call';
const CALLS_PER_PAGE = 25;
const DEFAULT_RUNS = 50;
/** How far the run page looks for a run id; the store lists runs newest first only. */
const RUNS_SCANNED = 100_000;
/** How often the page's script asks /ui/live.json, in milliseconds. */
const POLL_MS = 2_000;

const here = (relative: string): string => path.resolve(import.meta.dirname, '../dashboard', relative);

const ASSETS: Record<string, { type: string; body: string }> = {
    'dashboard.css': { type: 'text/css; charset=utf-8', body: readFileSync(here('./assets/dashboard.css'), 'utf8') },
    'dashboard.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(here('./assets/dashboard.js'), 'utf8') }
};

// Every interpolation is HTML-escaped (autoEscape); titles, transcripts and log lines come from Clari and syncs.
const eta = new Eta({ views: here('./views'), cache: true, autoEscape: true });

const CONTENT_SECURITY_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'"
].join('; ');

/** A dashboard route: the route's pattern is `/` or under `/ui/`, and it was registered as the dashboard's. */
export function isDashboardRequest(request: FastifyRequest): boolean {
    const route = request.routeOptions.url;
    return request.routeOptions.config.dashboard === true && route !== undefined && (route === '/' || route.startsWith('/ui/'));
}

/** localhost, 127.x.x.x or [::1], with any port. */
function isLoopbackHost(host: string | undefined): boolean {
    if (host === undefined) {
        return false;
    }
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
    return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** Why a POST is refused as cross-site, or null when it comes from a page of this dashboard. */
function crossSiteReason(request: FastifyRequest): string | null {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') {
        return `the browser marked it as ${site} (Sec-Fetch-Site), not same-origin`;
    }
    const origin = request.headers.origin;
    if (origin === undefined) {
        return 'it has no Origin header';
    }
    return origin === `http://${request.headers.host ?? ''}` ? null : `its Origin ${origin} is not this dashboard's`;
}

type Nav = 'runs' | 'calls' | 'deployed' | null;

interface PageFrame {
    title: string;
    nav: Nav;
    /**
     * The page polls /ui/live.json while it shows a run in progress, and reloads when one ends; with
     * `watchNewRuns` it also reloads when a run newer than `latestRunId` starts.
     */
    live?: { watchNewRuns: boolean; latestRunId: number | null } | null;
}

function render(reply: FastifyReply, status: number, template: string, frame: PageFrame, data: object): FastifyReply {
    const html = eta.render(template, { ...data, frame: { live: null, pollMs: POLL_MS, ...frame } });
    return reply.code(status).type('text/html; charset=utf-8').send(html);
}

function problem(reply: FastifyReply, status: number, heading: string, details: readonly string[] = []): FastifyReply {
    return render(reply, status, 'problem', { title: heading, nav: null }, { status, heading, details });
}

function issues(error: z.ZodError): string[] {
    return error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`);
}

const runsQuerySchema = z.strictObject({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    requested: pgText().min(1).max(255).optional()
});

const runParamsSchema = z.object({ id: z.string().regex(/^\d{1,9}$/, 'a run id is a whole number') });

const searchText = pgText()
    .max(200, 'a search is at most 200 characters')
    .transform((value) => value.trim())
    .optional();

const callsQuerySchema = z.strictObject({
    connection: pgText().min(1).max(255).optional(),
    q: searchText,
    cursor: z.string().min(1).max(1000).optional(),
    // The records API pages with cursors; the page number is only shown, but a nonsense one is still refused.
    page: z.coerce.number().int().min(1).max(1_000_000).optional()
});

const callParamsSchema = z.object({ id: pgText().min(1).max(256) });
const callQuerySchema = z.strictObject({ connection: pgText().min(1).max(255).optional() });

const runNowBodySchema = z.strictObject({
    integration: pgText().min(1).max(255),
    sync: pgText().min(1).max(255),
    connection: pgText().min(1).max(255)
});

/** The dashboard as an entry point mounts it on the local Nango: `createNangoServer({ addOns: [dashboard] })`. */
export const dashboard: ServerAddOn = {
    isPublicRequest: isDashboardRequest,
    register: (app, context) => {
        registerDashboard(app, context);
    }
};

export function registerDashboard(app: FastifyInstance, options: DashboardOptions): void {
    const { store, scheduler } = options;
    const providerConfigKey = options.providerConfigKey ?? 'clari-copilot';
    const config = { dashboard: true };

    void app.register((ui, _pluginOptions, pluginDone) => {
        ui.addHook('onRequest', (request, reply, done) => {
            if (isLoopbackHost(request.headers.host)) {
                done();
                return;
            }
            void problem(reply, 403, 'This dashboard answers on 127.0.0.1 and localhost only', [
                `The request named the host ${request.headers.host ?? '(none)'}.`
            ]);
        });
        ui.addHook('onSend', async (_request, reply, payload) => {
            reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
            reply.header('x-content-type-options', 'nosniff');
            // Not no-referrer: under it Chromium sends `Origin: null` with a form POST, and Run now could not tell its own pages.
            reply.header('referrer-policy', 'same-origin');
            reply.header('cache-control', 'no-store');
            return payload;
        });
        ui.setErrorHandler((err: FastifyError, request, reply) => {
            if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
                return problem(reply, err.statusCode, 'The request could not be read', [err.message]);
            }
            logServerError(request, err, { storeDir: store.dir, secrets: [] });
            return problem(reply, 500, 'Something went wrong in the local Nango', [
                'The server console has a one-line description of the error.'
            ]);
        });
        ui.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
            done(null, Object.fromEntries(new URLSearchParams(String(body))));
        });

        ui.get('/', { config }, async (request, reply) => {
            const query = runsQuerySchema.safeParse(request.query);
            if (!query.success) {
                return problem(reply, 400, 'That runs page does not exist', issues(query.error));
            }
            const limit = query.data.limit ?? DEFAULT_RUNS;
            const runs = await store.runs.listRuns({ limit });
            const secrets = await connectionSecrets(
                store,
                providerConfigKey,
                runs.map((run) => run.connectionId)
            );
            const rows = [];
            for (const run of runs) {
                rows.push(runRow(run, await store.runs.runLogs(run.runId), secrets));
            }
            return render(
                reply,
                200,
                'runs',
                { title: 'Runs', nav: 'runs', live: { watchNewRuns: true, latestRunId: runs[0]?.runId ?? null } },
                {
                    rows,
                    columns: RUN_COLUMNS,
                    requested: query.data.requested ?? null,
                    more: runs.length === limit && limit < 1000 ? `/?limit=${Math.min(1000, limit * 2)}` : null,
                    hasRunner: scheduler !== null
                }
            );
        });

        ui.get('/ui/runs/:id', { config }, async (request, reply) => {
            const params = runParamsSchema.safeParse(request.params);
            if (!params.success || Object.keys(request.query as object).length > 0) {
                return problem(
                    reply,
                    400,
                    'That is not a run',
                    params.success ? ['this page takes no query parameters'] : issues(params.error)
                );
            }
            const runId = Number(params.data.id);
            const run = (await store.runs.listRuns({ limit: RUNS_SCANNED })).find((candidate) => candidate.runId === runId);
            if (!run) {
                return problem(reply, 404, `There is no run ${runId}`, ['The runs page lists every run this local Nango has recorded.']);
            }
            const lines = await store.runs.runLogs(runId);
            const secrets = await connectionSecrets(store, providerConfigKey, [run.connectionId]);
            return render(
                reply,
                200,
                'run',
                { title: `Run ${runId}`, nav: 'runs', live: run.status === 'running' ? { watchNewRuns: false, latestRunId: null } : null },
                {
                    row: runRow(run, lines, secrets),
                    columns: RUN_COLUMNS,
                    lines: lines.map((line) => ({
                        level: line.level,
                        time: timeText(line.createdAt),
                        message: redact(line.message, secrets)
                    })),
                    webhooks: (await store.runs.webhookAttempts(runId)).map((attempt) => ({
                        time: timeText(attempt.createdAt),
                        url: redact(attempt.url, secrets),
                        kind: attempt.success ? 'success' : 'failure',
                        model: attempt.model,
                        attempt: attempt.attempt,
                        outcome: attempt.status === null ? `no response (${attempt.error ?? 'network error'})` : `HTTP ${attempt.status}`,
                        delivered: attempt.status !== null && attempt.status >= 200 && attempt.status < 300,
                        duration: `${attempt.durationMs} ms`
                    }))
                }
            );
        });

        ui.get('/ui/live.json', { config }, async (_request, reply) => {
            const runs = await store.runs.listRuns({ limit: 20 });
            const now = new Date();
            const running = [];
            for (const run of runs.filter((candidate) => candidate.status === 'running')) {
                running.push(progressView(run, runFigures(await store.runs.runLogs(run.runId)), now));
            }
            return reply.send({ latestRunId: runs[0]?.runId ?? null, running });
        });

        ui.get('/ui/calls', { config }, async (request, reply) => {
            const query = callsQuerySchema.safeParse(request.query);
            if (!query.success) {
                return problem(reply, 400, 'That calls page cannot be shown', issues(query.error));
            }
            const connections = await store.connections.listConnectionIds(providerConfigKey);
            const connectionId = query.data.connection ?? connections[0];
            if (connectionId === undefined) {
                return render(reply, 200, 'calls', { title: 'Calls', nav: 'calls' }, { connectionId: null, connections, rows: [] });
            }
            if (!connections.includes(connectionId)) {
                return problem(reply, 404, `There is no connection ${connectionId}`, [
                    `Connections of ${providerConfigKey}: ${connections.join(', ') || 'none'}.`
                ]);
            }
            const text = query.data.q === '' ? undefined : query.data.q;
            let page;
            try {
                page = await store.records.listNewestFirst({
                    connectionId,
                    model: MODEL,
                    titleContains: text,
                    limit: CALLS_PER_PAGE,
                    cursor: query.data.cursor
                });
            } catch (error) {
                if (error instanceof InvalidCursorError) {
                    return problem(reply, 400, 'That calls page cannot be shown', [
                        'cursor: not a cursor this list gave out; start again from the first page.'
                    ]);
                }
                throw error;
            }
            const pageNumber = query.data.page ?? 1;
            const link = (extra: Record<string, string>): string =>
                `/ui/calls?${new URLSearchParams({ connection: connectionId, ...(text === undefined ? {} : { q: text }), ...extra }).toString()}`;
            return render(
                reply,
                200,
                'calls',
                { title: text === undefined ? 'Calls' : `Calls matching “${text}”`, nav: 'calls' },
                {
                    connectionId,
                    connections,
                    q: text ?? '',
                    rows: page.records.map(callListRow),
                    matchCount: page.total,
                    pageNumber,
                    liveCount: await store.records.countLiveRecords(connectionId, MODEL),
                    next: page.next_cursor === null ? null : link({ cursor: page.next_cursor, page: String(pageNumber + 1) }),
                    first: query.data.cursor === undefined ? null : link({}),
                    callLink: (id: string) =>
                        `/ui/calls/${encodeURIComponent(id)}?${new URLSearchParams({ connection: connectionId }).toString()}`
                }
            );
        });

        ui.get('/ui/calls/:id', { config }, async (request, reply) => {
            const params = callParamsSchema.safeParse(request.params);
            const query = callQuerySchema.safeParse(request.query);
            if (!params.success || !query.success) {
                return problem(reply, 400, 'That is not a call id', [
                    ...(params.success ? [] : issues(params.error)),
                    ...(query.success ? [] : issues(query.error))
                ]);
            }
            const connections = await store.connections.listConnectionIds(providerConfigKey);
            const connectionId = query.data.connection ?? connections[0];
            if (connectionId === undefined || !connections.includes(connectionId)) {
                return problem(reply, 404, `There is no connection ${connectionId ?? 'yet'}`, [
                    `Connections of ${providerConfigKey}: ${connections.join(', ') || 'none'}.`
                ]);
            }
            const { id } = params.data;
            const [record] = (await store.records.listRecords({ connectionId, model: MODEL, ids: [id], limit: 1 })).records;
            if (!record) {
                return problem(reply, 404, `There is no call ${id}`, [
                    `Connection ${connectionId} has no ${MODEL} record with that id, live or deleted.`
                ]);
            }
            const call = callPage(record);
            return render(
                reply,
                200,
                'call',
                { title: call.title ?? `Call ${id}`, nav: 'calls' },
                { call, connectionId, back: `/ui/calls?${new URLSearchParams({ connection: connectionId }).toString()}` }
            );
        });

        ui.get('/ui/deployed', { config }, async (request, reply) => {
            if (Object.keys(request.query as object).length > 0) {
                return problem(reply, 400, 'This page takes no query parameters');
            }
            return render(
                reply,
                200,
                'deployed',
                { title: 'Deployed', nav: 'deployed' },
                { flows: await deployedViews(store, scheduler), hasRunner: scheduler !== null }
            );
        });

        ui.post('/ui/deployed/run', { config }, async (request, reply) => {
            const refused = crossSiteReason(request);
            if (refused !== null) {
                return problem(reply, 403, 'Run now only works from this dashboard', [`The request was refused: ${refused}.`]);
            }
            const body = runNowBodySchema.safeParse(request.body);
            if (!body.success) {
                return problem(reply, 400, 'That run cannot be started', issues(body.error));
            }
            if (!scheduler) {
                return problem(reply, 501, 'This local Nango runs no syncs', [
                    'It was started without a runner (npm run serve); npm start runs the deployed sync.'
                ]);
            }
            const { integration, sync, connection } = body.data;
            if (!(await store.connections.getConnection(connection, integration))) {
                return problem(reply, 400, `There is no connection ${connection} for ${integration}`);
            }
            try {
                // The same call POST /sync/trigger makes.
                await scheduler.trigger(integration, [sync], connection, 'incremental', 'dashboard');
            } catch (error) {
                if (error instanceof UnknownSyncError) {
                    return problem(reply, 400, 'That sync is not deployed', [error.message]);
                }
                throw error;
            }
            return reply.redirect(`/?${new URLSearchParams({ requested: `${sync} for ${connection}` }).toString()}`, 303);
        });

        ui.get('/ui/assets/:name', { config }, async (request, reply) => {
            const { name } = request.params as { name: string };
            const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
            if (!asset) {
                return problem(reply, 404, `There is no asset ${name}`);
            }
            return reply.type(asset.type).send(asset.body);
        });

        // Anything else under /ui/ gets a page too, rather than the API's JSON 401.
        ui.get('/ui/*', { config }, async (request, reply) =>
            problem(reply, 404, 'There is no such page', [`${request.url.split('?')[0] ?? ''} is not a page of this dashboard.`])
        );
        pluginDone();
    });
}
