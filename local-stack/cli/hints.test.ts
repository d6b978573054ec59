import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../e2e/emulator-client.js';
import { startClariEmulator, type RunningClariEmulator } from '../emulator/index.js';
import { openStore, startNangoServer, type LocalStore, type RunningNangoServer } from '../nango-server/index.js';
import { DEFAULT_SECRET_KEY } from './config.js';
import { queryHints } from './hints.js';
import { cleanEnv, repoRoot, runCommand, tempDir } from './test-helpers.js';

/*
 * The hints `npm start` and `npm run serve` print, followed exactly as printed: the @nangohq/node snippet saved to a
 * file and run with node, and the dry-run line run in a shell, whose output must stay small enough to read.
 */

describe('the printed hints, run as printed', () => {
    let emulator: RunningClariEmulator;
    let store: LocalStore;
    let server: RunningNangoServer;
    let hints: string;

    beforeAll(async () => {
        emulator = await startClariEmulator({ port: 0, calls: 2000, seed: 42, rate: 0 });
        // The dry-run hint covers the last day, which the dataset leaves empty on most weekends (the CLI prints no
        // results then): three calls that just ended fill it on any day.
        await new EmulatorControl(emulator.url).mutate({ add: 3 });
        store = await openStore({ dir: tempDir('hints-') });
        server = await startNangoServer({ store, secretKey: DEFAULT_SECRET_KEY, port: 0, clariBaseUrl: emulator.url });
        await store.connections.upsertConnection({
            connectionId: 'local',
            providerConfigKey: 'clari-copilot',
            provider: 'clari-copilot',
            apiKey: 'emulator-key',
            apiPassword: 'emulator-password'
        });
        await store.records.saveRecords(
            'local',
            'Call',
            [{ id: 'c1', title: 'Kick-off with Acme', time: '2026-01-05T10:00:00.000Z' }],
            'e1'
        );
        hints = queryHints(server.url, 'local', DEFAULT_SECRET_KEY);
    }, 60_000);
    afterAll(async () => {
        await server.close();
        await store.close();
        await emulator.close();
    });

    it('the @nangohq/node snippet runs as printed, from the file it names, and reads the records', async () => {
        const lines = hints.split('\n');
        const start = lines.findIndex((line) => line.includes('// @nangohq/node'));
        const snippet = lines.slice(start, lines.indexOf('', start));
        const fileName = /save as (\S+)/.exec(snippet[0] ?? '')?.[1];
        expect(fileName, snippet[0]).toBe('list-calls.mjs');
        // In the repository, as the hint says, so that @nangohq/node resolves from its node_modules.
        const dir = mkdtempSync(path.join(repoRoot, '.hint-test-'));
        try {
            writeFileSync(path.join(dir, fileName ?? ''), `${snippet.join('\n')}\n`);
            const result = await runCommand('node', [fileName ?? ''], cleanEnv({}), dir);
            expect(result.stderr).toBe('');
            expect(result.code).toBe(0);
            expect(result.stdout.trim()).toBe('1 calls, the first: Kick-off with Acme; next_cursor: null');
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 60_000);

    it('the dry-run line runs as printed, and prints the run and its counts, not every record', async () => {
        const line = hints.split('\n').find((candidate) => candidate.includes('npx nango dryrun'));
        expect(line).toBeDefined();
        const result = await runCommand('sh', ['-c', line?.trim() ?? ''], cleanEnv({}));
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toMatch(/would produce the following results: \{\s*"updated": 0,\s*"added": \d+,\s*"deleted": 0\s*\}/);
        expect(result.stdout).toContain('Clari Copilot calls sync (initial) finished');
        expect(result.stdout).not.toContain('"transcript"');
        // A terminal's worth: the whole backfill printed 66 MB.
        expect(result.stdout.split('\n').length).toBeLessThan(60);
    }, 120_000);
});
