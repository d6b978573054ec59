import { stripVTControlCharacters } from 'node:util';
import { Nango } from '@nangohq/node';
import { describe, expect, it } from 'vitest';
import { cleanEnv, collect, freePort, ownLines, runCommand, runOutcomeIn, startCommand, tempDir, waitFor } from './test-helpers.js';

/*
 * `npm start` as a newcomer restarts it: on a store that already synced, it says when the next run is and prints
 * its hints at once; a second one beside it says one is running and exits 2; Ctrl-C on an idle one exits at once.
 */

/** Ctrl-C on an idle `npm start` closes servers and a store, nothing that waits; this bound is ample for that. */
const IDLE_STOP_BOUND_MS = 1_000;

describe('npm start, restarted on the same store', () => {
    it('speaks at once when no run is due, refuses a second one with exit 2, and stops within 1 s of Ctrl-C', async () => {
        const env = cleanEnv({
            NANGO_LOCAL_PORT: String(await freePort()),
            CLARI_EMULATOR_PORT: String(await freePort()),
            REFERENCE_APP_PORT: String(await freePort()),
            NANGO_LOCAL_DB: tempDir('restart-')
        });
        const args = ['start', '--', '--metadata', '{"backfillDays":10,"maxRequestsPerSecond":500}'];

        const first = startCommand('npm', args, env);
        const firstOutput = collect(first);
        await waitFor(() => firstOutput.output().stdout.includes('Serving.'), 120_000, 'the first npm start to serve');
        process.kill(-(first.pid ?? 0), 'SIGINT');
        await firstOutput.done;

        const again = startCommand('npm', args, env);
        const againOutput = collect(again);
        try {
            await waitFor(() => againOutput.output().stdout.includes('Serving.'), 90_000, 'the restarted npm start to serve');
            const printed = againOutput.output().stdout;
            expect(printed).toMatch(/no run is due now: the last started at .+, the next starts at .+ \(every hour\)/);
            expect(printed).not.toContain('Running calls@');
            expect(printed).toContain('nango.listRecords(');
            expect(printed).toContain('npx nango dryrun calls local');

            const second = await runCommand('npm', ['start'], env);
            expect(second.code).toBe(2);
            const lines = ownLines(second.stderr);
            expect(lines, second.stderr).toHaveLength(1);
            expect(lines[0]).toMatch(/^start: a local Nango is already running on http:\/\/127\.0\.0\.1:\d+ /);
            expect(second.stdout).not.toContain('Clari Copilot emulator on');
        } finally {
            process.kill(-(again.pid ?? 0), 'SIGINT');
        }
        const interruptedAt = Date.now();
        const stopped = await againOutput.done;
        const took = Date.now() - interruptedAt;
        expect(stopped.stdout).toContain('SIGINT: stopping');
        expect(took, `npm start took ${took} ms to stop after Ctrl-C`).toBeLessThan(IDLE_STOP_BOUND_MS);
    }, 240_000);
});

describe('npm start with --weekly-quota', () => {
    it('pauses the backfill at the week, moves to the next simulated Clari week, and completes it there exactly', async () => {
        const ports = { nango: await freePort(), emulator: await freePort() };
        const env = cleanEnv({
            NANGO_LOCAL_PORT: String(ports.nango),
            CLARI_EMULATOR_PORT: String(ports.emulator),
            REFERENCE_APP_PORT: String(await freePort()),
            NANGO_LOCAL_DB: tempDir('weeks-')
        });
        // About 180 calls: the 150-request budget that a 300-request quota gives takes two weeks for them.
        const child = startCommand('npm', ['start', '--', '--weekly-quota', '300', '--metadata', '{"backfillDays":40}'], env);
        const output = collect(child);
        try {
            await waitFor(() => output.output().stdout.includes('Serving.'), 180_000, 'npm start to finish the backfill and serve');
            const printed = stripVTControlCharacters(output.output().stdout);
            expect(printed).toContain("the sync's weeklyRequestBudget is 150");
            expect(printed).toMatch(
                /paused by the weekly budget until \d{4}-\d{2}-\d{2}T00:00:00\.000Z \(\d+ of 150 requests this Clari week\)/
            );
            expect(printed).toMatch(
                /Simulated Clari week 2: the emulator's and the sync's clocks now read \d{4}-\d{2}-\d{2}T00:01:00\.000Z/
            );
            // The run that ended the first run's wait is the one that finished the backfill.
            expect(runOutcomeIn(printed), printed).toMatchObject({ run: 'initial', failed: 0, paused: false });

            // What the last run covered, on the simulated clock; SCHEDULED calls later than that are not due yet. The
            // week's jump moves the window's start too, so a call the first week stored may now lie before it: it
            // stays stored, as in Nango, but nothing older than the first run's window may be there.
            const starts = [...printed.matchAll(/^Starting \w+ run: (.+)$/gm)].map((match) => match[1] ?? '');
            const bounds = (line: string) => {
                const windows = [...line.matchAll(/calls between (\S+) and ([^,;\s]+)/g)];
                return {
                    oldest: Math.min(...windows.map((match) => Date.parse(match[1] ?? ''))),
                    newest: Math.max(...windows.map((match) => Date.parse(match[2] ?? '')))
                };
            };
            const last = bounds(starts.at(-1) ?? '');
            const first = bounds(starts[0] ?? '');
            const due = await truthBetween(`http://127.0.0.1:${ports.emulator}`, last.oldest, last.newest);
            const allowed = new Set(await truthBetween(`http://127.0.0.1:${ports.emulator}`, first.oldest, last.newest));
            expect(due.length).toBeGreaterThan(100);
            const stored = await storedIds(`http://127.0.0.1:${ports.nango}`);
            expect(
                due.filter((id) => !stored.includes(id)),
                printed
            ).toEqual([]);
            expect(
                stored.filter((id) => !allowed.has(id)),
                printed
            ).toEqual([]);
        } finally {
            process.kill(-(child.pid ?? 0), 'SIGINT');
            await output.done;
        }
    }, 300_000);
});

/** The emulator's non-private calls from `since` to before `until`, sorted ids. */
async function truthBetween(emulatorUrl: string, since: number, until: number): Promise<string[]> {
    const ids: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined;) {
        const response = await fetch(`${emulatorUrl}/_control/calls?details=false&offset=${offset}&limit=1000`);
        const page = (await response.json()) as { calls: { id: string; time: string }[]; nextOffset?: number };
        ids.push(...page.calls.filter((call) => Date.parse(call.time) >= since && Date.parse(call.time) < until).map((call) => call.id));
        offset = page.nextOffset;
    }
    return ids.sort();
}

async function storedIds(nangoUrl: string): Promise<string[]> {
    const nango = new Nango({ secretKey: 'local-dev-secret', host: nangoUrl });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
        const page: { records: { id: string | number }[]; next_cursor: string | null } = await nango.listRecords({
            providerConfigKey: 'clari-copilot',
            connectionId: 'local',
            model: 'Call',
            limit: 1000,
            ...(cursor ? { cursor } : {})
        });
        ids.push(...page.records.map((record) => String(record.id)));
        cursor = page.next_cursor;
    } while (cursor);
    return ids.sort();
}
