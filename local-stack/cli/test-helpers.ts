import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';

import { parseReportLine, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface Finished {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** The environment a fresh shell would have: no .env overrides leaking in from the developer's shell. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], CI: 'true', NANGO_CLI_UPGRADE_MODE: 'ignore' };
    return { ...env, ...extra };
}

export function startCommand(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = repoRoot): ChildProcess {
    // Own process group, so a test can deliver Ctrl-C to npm and everything it started, as a terminal does.
    return spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): { output: () => Finished; done: Promise<Finished> } {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<Finished>((resolve) => {
        child.on('close', (code) => {
            resolve({ code, stdout, stderr });
        });
    });
    return { output: () => ({ code: null, stdout, stderr }), done };
}

export async function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = repoRoot): Promise<Finished> {
    return collect(startCommand(command, args, env, cwd)).done;
}

/** The run summary a command printed (the sync's line, as the CLI or `nango dryrun` prints it), if any. */
export function runSummaryIn(stdout: string): RunSummary | undefined {
    for (const line of stdout.split('\n')) {
        const report = parseReportLine(stripVTControlCharacters(line).trim());
        if (report?.type === 'summary') {
            return report;
        }
    }
    return undefined;
}

/**
 * How a run went, read from the plain words npm start and npm run sync print (run-words.ts): the run's kind,
 * the calls Clari failed to serve, and whether it paused. Undefined when no run said it was done.
 */
export function runOutcomeIn(stdout: string): { run: string; failed: number; paused: boolean } | undefined {
    const lines = stripVTControlCharacters(stdout).split('\n');
    const done = lines.findLastIndex((line) => /^\w+ run done in /.test(line));
    if (done === -1) {
        return undefined;
    }
    const own = lines.slice(done, lines.findIndex((line, index) => index > done && line.startsWith('Record store: ')) + 1 || undefined);
    const failed = /(\d[\d,]*) calls? Clari failed to serve/.exec(own.join('\n'))?.[1];
    return {
        run: (lines[done] ?? '').split(' ')[0]?.toLowerCase() ?? '',
        failed: failed === undefined ? 0 : Number(failed.replaceAll(',', '')),
        paused: own.some((line) => line.startsWith('Paused: '))
    };
}

/** stderr without npm's own notices, which depend on the machine's npm configuration. */
export function ownLines(text: string): string[] {
    return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm '));
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            const port = typeof address === 'object' && address !== null ? address.port : 0;
            server.close(() => {
                resolve(port);
            });
        });
    });
}

export function tempDir(prefix: string): string {
    return mkdtempSync(path.join(tmpdir(), prefix));
}
