import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import type { Call } from '../../nango-integrations/models.js';
import { deployWithCli } from '../cli/deploy.js';
import { CALL_MODEL as MODEL, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import { EmulatorControl } from '../e2e/emulator-client.js';
import { expectedRecords, lastDays } from '../e2e/oracle.js';
import { summaryOf } from '../e2e/run-logs.js';
import { startRunnerStack } from '../e2e/runner-stack.js';
import { REPO_ROOT, SECRET_KEY } from '../e2e/stack.js';
import type { RunningClariEmulator } from '../emulator/index.js';
import { thisRunner } from '../nango-server/lock.js';
import type { LocalStore, RunningNangoServer, SyncRun } from '../nango-server/index.js';

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser download),
 * against the local Nango running the deployed sync on the Clari emulator. With DASHBOARD_SCREENSHOTS=1 it
 * also writes the README's two screenshots to docs/; otherwise it writes nothing in the repository.
 */

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOTS = process.env['DASHBOARD_SCREENSHOTS'] === '1' ? path.join(REPO_ROOT, 'docs') : null;
const CONNECTION = 'local';

if (!HAS_CHROMIUM) {
    console.log(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);
}

let emulator: RunningClariEmulator;
let store: LocalStore;
let server: RunningNangoServer;
let browser: Browser;
let page: Page;
/** What afterAll closes, newest first: beforeAll may stop halfway. */
const cleanups: (() => Promise<void>)[] = [];

async function newestRun(): Promise<SyncRun | undefined> {
    const [run] = await store.runs.listRuns({ connectionId: CONNECTION, syncName: SYNC_NAME, limit: 1 });
    return run;
}

/** The newest run of the connection once it has ended after `afterRunId`; fails the test if it failed. */
async function untilRunEnds(afterRunId: number): Promise<SyncRun> {
    const deadline = Date.now() + 120_000;
    for (;;) {
        const run = await newestRun();
        if (run && run.runId > afterRunId && run.status !== 'running') {
            if (run.status !== 'success') {
                throw new Error(`run ${run.runId} failed: ${run.summary ?? ''}`);
            }
            return run;
        }
        if (Date.now() > deadline) {
            throw new Error(`no run after ${afterRunId} ended within 2 minutes`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

/** The page from its top down to the bottom of `last`, for the README. */
async function screenshot(name: string, last: Locator): Promise<void> {
    if (!SCREENSHOTS) {
        return;
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    const box = await last.boundingBox();
    const width = page.viewportSize()?.width ?? 1440;
    const height = box ? Math.ceil(box.y + box.height + 24) : 900;
    await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true, clip: { x: 0, y: 0, width, height } });
}

/** The figures a runs-table row shows, by column key. */
async function rowFigures(runId: number): Promise<Record<string, string>> {
    const figures: Record<string, string> = {};
    for (const cell of await page.locator(`tr[data-run="${runId}"] [data-field]`).all()) {
        figures[(await cell.getAttribute('data-field')) ?? ''] = ((await cell.textContent()) ?? '').trim();
    }
    return figures;
}

describe.skipIf(!HAS_CHROMIUM)('dashboard in Chromium', () => {
    let firstRun: SyncRun;
    let pick: Call;
    /** The calls the first run stored, as the emulator's truth has them. */
    let expected: Call[];

    beforeAll(async () => {
        const stack = await startRunnerStack('dashboard-browser', {
            emulator: { calls: 150, months: 4, seed: 23 },
            connectionId: CONNECTION
        });
        cleanups.push(() => stack.close());
        ({ emulator, store, server } = stack);
        // As `npm start` does: deploy with the real CLI; the scheduler then starts the first run on its own.
        await deployWithCli({ serverUrl: server.url, secretKey: SECRET_KEY });
        firstRun = await untilRunEnds(0);

        const truth = await new EmulatorControl(emulator.url).truth();
        expected = [...expectedRecords(truth, lastDays(firstRun.startedAt)).values()].sort((a, b) => a.id.localeCompare(b.id));
        const withTranscript = expected.filter((call) => call.title !== null && (call.transcript?.length ?? 0) > 0);
        const chosen = withTranscript.find((call) => (call.competitor_sentiments?.length ?? 0) > 0) ?? withTranscript[0];
        if (!chosen) {
            throw new Error('the emulator dataset has no call with a title and a transcript in the window');
        }
        pick = chosen;

        browser = await chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            args: [
                '--headless',
                '--no-sandbox',
                '--disable-gpu',
                '--disable-quic',
                '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync'
            ]
        });
        cleanups.push(() => browser.close());
        // A viewer east of UTC: the pages' times must still say UTC, and the tooltip names the viewer's zone.
        const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
        page = await context.newPage();
    }, 240_000);

    afterAll(async () => {
        for (const cleanup of cleanups.reverse()) {
            await cleanup();
        }
    });

    it("shows the first run's counts in the runs table", async () => {
        await page.goto(`${server.url}/`);
        const summary = summaryOf(await store.runs.runLogs(firstRun.runId));
        const figures = await rowFigures(firstRun.runId);
        expect(figures).toMatchObject({
            // The scheduler started it on its own, the moment the sync was deployed.
            trigger: 'schedule',
            kind: 'initial',
            status: 'success',
            listed: String(summary.counts.listed),
            detailsFetched: String(summary.counts.detailsFetched),
            unchangedSkipped: String(summary.counts.unchangedSkipped),
            prunedSkipped: String(summary.counts.prunedSkipped),
            saved: String(summary.counts.saved),
            deleted: String(summary.counts.deleted),
            invalid: String(summary.counts.invalid),
            failed: String(summary.counts.failed),
            requests: String(summary.counts.requests),
            retries: String(summary.counts.retries),
            throttled: String(summary.counts.throttled)
        });
        // And the figures are the emulator's: every valid call of the window saved once.
        expect(Number(figures['saved'])).toBe(await store.records.countLiveRecords(CONNECTION, MODEL));
        expect(Number(figures['saved'])).toBeGreaterThan(50);
        const started = page.locator(`tr[data-run="${firstRun.runId}"] time`);
        expect(await started.textContent()).toBe(`${firstRun.startedAt.toISOString().slice(0, 19).replace('T', ' ')}\u00a0UTC`);
        expect(await started.getAttribute('title')).toMatch(/^Your time: .*\b(CET|CEST|GMT\+[12])$/);

        await page.locator(`tr[data-run="${firstRun.runId}"] a`).first().click();
        await expect.poll(() => page.locator('ol.log li').count()).toBeGreaterThan(2);
        expect(await page.locator('ol.log').textContent()).toContain('Clari Copilot calls sync (initial) finished');
    });

    it('lists the calls newest first by call time, across pages', async () => {
        const shownTimes = async (): Promise<string[]> =>
            Promise.all((await page.locator('tr[data-call] time').all()).map(async (time) => (await time.getAttribute('datetime')) ?? ''));
        await page.goto(`${server.url}/ui/calls`);
        const first = await shownTimes();
        expect(first).toHaveLength(25);
        expect(first).toEqual([...first].sort().reverse());
        const newest = expected
            .map((call) => call.time)
            .sort()
            .reverse();
        expect(first).toEqual(newest.slice(0, 25));

        await page.getByRole('link', { name: 'Next page' }).click();
        await page.waitForURL(/page=2/);
        expect(await shownTimes()).toEqual(newest.slice(25, 50));
    });

    it("finds a call by a title from the emulator's truth, says how many match, and its page shows the transcript's first line", async () => {
        await page.goto(`${server.url}/ui/calls`);
        await page.getByRole('searchbox', { name: 'Search titles' }).fill(pick.title ?? '');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.waitForURL(/\/ui\/calls\?.*q=/);
        const title = (pick.title ?? '').toLowerCase();
        const matching = expected.filter((call) => call.title?.toLowerCase().includes(title)).length;
        expect(matching).toBeGreaterThan(0);
        expect(await page.locator('[data-field="match-count"]').textContent()).toBe(
            `${matching === 1 ? '1 call matches' : `${matching} calls match`} “${pick.title ?? ''}”.`
        );
        // A search matching more calls than a page holds: the count is of them all, not of the page.
        await page.goto(`${server.url}/ui/calls?q=a`);
        const many = expected.filter((call) => call.title?.toLowerCase().includes('a')).length;
        expect(many).toBeGreaterThan(25);
        expect(await page.locator('[data-field="match-count"]').textContent()).toBe(`${many} calls match “a”.`);
        await page.goto(`${server.url}/ui/calls`);
        await page.getByRole('searchbox', { name: 'Search titles' }).fill(pick.title ?? '');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.waitForURL(/\/ui\/calls\?.*q=/);
        const link = page.locator(`tr[data-call="${pick.id}"] a`);
        expect(await link.textContent()).toBe(pick.title);

        await link.click();
        await page.waitForURL(new RegExp(`/ui/calls/${pick.id}`));
        expect(await page.locator('h1').textContent()).toBe(pick.title);
        const first = page.locator('ol.transcript li').first();
        expect(await first.locator('.text').textContent()).toBe(pick.transcript?.[0]?.text);
        expect(await page.locator('ol.transcript li').count()).toBe(pick.transcript?.length);
        await screenshot('dashboard-call.png', page.locator('ol.transcript li').nth(7));
    });

    it('Run now starts a new run, which the runs page shows reaching success', async () => {
        const before = (await newestRun())?.runId ?? 0;
        await page.goto(`${server.url}/ui/deployed`);
        expect(await page.locator('section[data-flow="calls"]').textContent()).toContain('every hour');
        await page.locator(`tr[data-connection="${CONNECTION}"]`).getByRole('button', { name: 'Run now' }).click();
        await page.waitForURL(/\/\?requested=/);
        // No reload by the test: the page's own polling brings the new run in and then its end.
        const newRow = page.locator('tbody tr[data-run]').first();
        await expect.poll(async () => Number(await newRow.getAttribute('data-run')), { timeout: 60_000 }).toBeGreaterThan(before);
        const runId = Number(await newRow.getAttribute('data-run'));
        await page.locator(`tr[data-run="${runId}"] .status-success`).waitFor({ timeout: 60_000 });
        expect(await rowFigures(runId)).toMatchObject({ trigger: 'Run now', kind: 'incremental', status: 'success' });
        expect((await untilRunEnds(before)).runId).toBe(runId);
        await screenshot('dashboard-runs.png', page.locator('main p.hint').first());
    });

    it('fits the runs table in a 1,280 px window, the 429s column included, without a horizontal scrollbar', async () => {
        await page.setViewportSize({ width: 1280, height: 800 });
        try {
            await page.goto(`${server.url}/`);
            // Run in the page as text: this project's TypeScript has no DOM types.
            const fit = z.object({ table: z.number(), container: z.number(), document: z.number(), window: z.number() }).parse(
                await page.evaluate(`(() => {
                        const table = document.querySelector('table.runs');
                        return {
                            table: table.scrollWidth,
                            container: table.parentElement.clientWidth,
                            document: document.documentElement.scrollWidth,
                            window: document.documentElement.clientWidth
                        };
                    })()`)
            );
            expect(fit.table).toBeLessThanOrEqual(fit.container);
            expect(fit.document).toBeLessThanOrEqual(fit.window);
            const throttled = await page.locator('th[data-column="throttled"]').boundingBox();
            expect((throttled?.x ?? Infinity) + (throttled?.width ?? 0)).toBeLessThanOrEqual(1280);
        } finally {
            await page.setViewportSize({ width: 1440, height: 900 });
        }
    });

    it("moves a running run's progress in place, then shows how it ended", async () => {
        // A run recorded by hand on a connection the scheduler does not know, so its log lines come when the test says.
        const run = await store.runs.startRun('progress-demo', SYNC_NAME, thisRunner());
        const log = (message: string) => store.runs.appendRunLogs(run.runId, [{ level: 'info', message, createdAt: new Date() }]);
        await log('Starting initial run: calls between 2026-01-01T00:00:00.000Z and 2026-02-01T00:00:00.000Z');
        await log('window: matched=400');
        await log('page: listed=100 unchanged=0 pruned=0 fetched=100 saved=100 invalid=0 gone=0');
        await page.goto(`${server.url}/`);
        const progress = page.locator(`[data-progress="${run.runId}"]`);
        expect(await progress.locator('[data-progress-text]').textContent()).toContain('listed 100 of 400 (25%)');
        let loads = 0;
        page.on('load', () => {
            loads++;
        });

        await log('page: listed=100 unchanged=0 pruned=0 fetched=100 saved=100 invalid=0 gone=0');
        await expect
            .poll(() => progress.locator('[data-progress-text]').textContent(), { timeout: 15_000 })
            .toContain('listed 200 of 400 (50%)');
        expect(await progress.locator('progress').getAttribute('value')).toBe('200');
        expect(loads, 'the progress moved without a reload').toBe(0);

        await store.runs.finishRun(run.runId, 'failed', 'stopped by the test');
        await page.locator(`tr[data-run="${run.runId}"] .status-failed`).waitFor({ timeout: 15_000 });
        expect(await page.locator('body').textContent()).toContain('stopped by the test');
    });
});
