import { describe, expect, it } from 'vitest';
import { cleanEnv, collect, freePort, ownLines, runCommand, startCommand, tempDir, waitFor } from './test-helpers.js';

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
