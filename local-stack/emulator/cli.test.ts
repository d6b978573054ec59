import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCli, startErrorMessage, UsageError } from './cli-options.js';
import { startClariEmulator } from './server.js';
import { AUTH } from './test-helpers.js';

/** The CLI: flag parsing (in-process), and one real run for the banner, serving and a clean SIGTERM exit. */

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

function runCli(args: string[], onStdout?: (text: string, stop: () => void) => void): Promise<Run> {
    const env = { ...process.env };
    delete env['CLARI_EMULATOR_PORT'];
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
            onStdout?.(stdout, () => child.kill('SIGTERM'));
        });
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

describe('cli flags', () => {
    it('applies defaults from the environment, then the built-in ones', () => {
        expect(parseCli([], {})).toMatchObject({
            port: 3004,
            calls: 2000,
            seed: 42,
            months: 15,
            rate: 10,
            retryAfter: true,
            apiKey: 'emulator-key'
        });
        expect(parseCli([], { CLARI_EMULATOR_PORT: '4100', CLARI_EMULATOR_API_PASSWORD: 'pw' })).toMatchObject({
            port: 4100,
            apiPassword: 'pw'
        });
        expect(parseCli(['--port', '0', '--rate', '0', '--no-retry-after'], { CLARI_EMULATOR_PORT: '4100' })).toMatchObject({
            port: 0,
            rate: 0,
            retryAfter: false
        });
    });

    it('parses latency, faults and the default stall duration', () => {
        const options = parseCli(
            ['--latency', '150-400', '--list-latency', '20', '--fault', '429:0.05', '--fault', 'stall:0.01', '--stall-ms', 'forever'],
            {}
        );
        expect(options).toMatchObject({
            latency: { details: { minMs: 150, maxMs: 400 }, list: { minMs: 20, maxMs: 20 } },
            faults: [
                { kind: '429', probability: 0.05 },
                { kind: 'stall', probability: 0.01, stallMs: 'forever' }
            ]
        });
    });

    it('parses ties, unstable ties and the clock offset', () => {
        expect(parseCli([], {})).toMatchObject({ ties: false, unstableTies: false, clockOffsetMs: 0 });
        expect(parseCli(['--ties', '--unstable-ties', '--clock-offset=-5000'], {})).toMatchObject({
            ties: true,
            unstableTies: true,
            clockOffsetMs: -5000
        });
        expect(parseCli(['--clock-offset', '+120000'], {})).toMatchObject({ clockOffsetMs: 120_000 });
    });

    it.each([
        [['--clock-offset', 'ahead'], '--clock-offset'],
        [['--clock-offset', '-5000'], '--clock-offset'],
        [['--rate', 'fast'], '--rate'],
        [['--calls', '1.5'], '--calls'],
        [['--port', '70000'], '--port'],
        [['--fault', '418:0.5'], '--fault'],
        [['--latency', '400-150'], '--latency'],
        [['--stall-ms', 'soon'], '--stall-ms'],
        [['--nope'], '--nope']
    ])('rejects %j naming the flag', (args, flag) => {
        expect(() => parseCli(args, {})).toThrow(UsageError);
        expect(() => parseCli(args, {})).toThrow(flag);
    });

    it('names the environment variable when it is the bad value', () => {
        expect(() => parseCli([], { CLARI_EMULATOR_PORT: 'x' })).toThrow('CLARI_EMULATOR_PORT');
    });

    it('explains a taken port in one line', async () => {
        const running = await startClariEmulator({ calls: 5 });
        const port = Number(new URL(running.url).port);
        try {
            const error = await startClariEmulator({ calls: 5, port }).then(
                () => undefined,
                (reason: unknown) => reason
            );
            expect(startErrorMessage(error, port)).toBe(`port ${port} is already in use (pick another with --port or CLARI_EMULATOR_PORT)`);
        } finally {
            await running.close();
        }
    });
});

describe('cli process', () => {
    it('exits 2 with one line and no stack trace on a bad flag', async () => {
        const run = await runCli(['--rate', 'fast']);
        expect(run.code).toBe(2);
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toContain('--rate');
    });

    it('prints the URL and header names, serves, and shuts down cleanly on SIGTERM', async () => {
        let served = 0;
        const run = await runCli(['--port', '0', '--calls', '30', '--api-password', 'not-the-default'], (stdout, stop) => {
            const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
            if (url && served === 0) {
                served = -1;
                void fetch(`${url}/calls?limit=1`, { headers: { ...AUTH, 'x-api-password': 'not-the-default' } }).then((response) => {
                    served = response.status;
                    stop();
                });
            }
        });
        expect(served).toBe(200);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain('X-Api-Key: emulator-key');
        expect(run.stdout).toContain('X-Api-Password');
        expect(run.stdout).not.toContain('not-the-default');
    });
});
