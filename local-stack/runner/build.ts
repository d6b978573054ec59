import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import { bundlePath, fetchDataFromBundle, NANGO_INTEGRATIONS_DIR, type SandboxOptions, type SyncEntry } from './sandbox.js';

/**
 * Keeps nango-integrations/dist/calls-clari-copilot.js in step with its sources, so local runs execute
 * what `nango deploy` would upload rather than a stale build.
 */

export interface EnsureBundleOptions {
    /** Gets one line when a build starts (what and why); nothing when the bundle is fresh. */
    log: (line: string) => void;
    /** The Nango project (default nango-integrations/). */
    projectDir?: string;
    /** The CLI to build with (default the pinned one in node_modules). */
    nangoBin?: string;
}

export interface EnsureBundleResult {
    built: boolean;
    /** Why it was built: "missing" or "older than <file>". */
    reason?: string;
}

const DEFAULT_NANGO_BIN = path.resolve(import.meta.dirname, '../../node_modules/.bin/nango');
/** How much of the CLI's output a failure quotes: its last lines are where it says what went wrong. */
const QUOTED_LINES = 3;

/** What `nango compile` reads: the yaml and the integration's TypeScript, not its tests and mocks. */
export function bundleSources(projectDir: string = NANGO_INTEGRATIONS_DIR): string[] {
    const sources = [path.join(projectDir, 'nango.yaml')];
    const walk = (dir: string): void => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== 'tests' && entry.name !== 'mocks') {
                    walk(full);
                }
            } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
                sources.push(full);
            }
        }
    };
    walk(path.join(projectDir, PROVIDER_CONFIG_KEY));
    // models.ts is left out on purpose: `nango generate` writes it from nango.yaml, which is watched.
    return sources;
}

/** Why the bundle needs building, or undefined when it is newer than every source. */
export function staleReason(projectDir: string = NANGO_INTEGRATIONS_DIR): string | undefined {
    const bundle = fs.statSync(bundlePath(projectDir), { throwIfNoEntry: false });
    if (!bundle) {
        return 'missing';
    }
    let newest: { file: string; mtimeMs: number } | undefined;
    for (const file of bundleSources(projectDir)) {
        const { mtimeMs } = fs.statSync(file);
        // Equal counts as older: the clock behind mtimes ticks coarsely, so a tie cannot say which came first.
        if (mtimeMs >= bundle.mtimeMs && (!newest || mtimeMs > newest.mtimeMs)) {
            newest = { file, mtimeMs };
        }
    }
    return newest ? `older than ${path.relative(projectDir, newest.file)}` : undefined;
}

export class BundleBuildError extends Error {
    override readonly name = 'BundleBuildError';
}

// eslint-disable-next-line no-control-regex -- the CLI colours its output; quoted lines drop the escapes
const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;

/** The CLI's last lines, in the order it wrote them (stdout and stderr share one file for that). */
function lastLines(output: string): string {
    const lines = output
        .replace(ANSI_ESCAPE, '')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
    return lines.slice(-QUOTED_LINES).join(' | ') || 'no output';
}

async function runNango(nangoBin: string, command: string, projectDir: string): Promise<void> {
    const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nango-build-'));
    const outputFile = path.join(outputDir, 'output.txt');
    const fd = fs.openSync(outputFile, 'w');
    try {
        const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
            const child = spawn(nangoBin, [command], {
                cwd: projectDir,
                env: { ...process.env, NANGO_CLI_UPGRADE_MODE: 'ignore' },
                stdio: ['ignore', fd, fd]
            });
            child.once('error', (error) => {
                reject(new BundleBuildError(`could not start \`nango ${command}\` (${nangoBin}): ${error.message}`, { cause: error }));
            });
            child.once('close', (code, signal) => {
                resolve({ code, signal });
            });
        });
        if (exit.code !== 0) {
            const status = exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
            const output = fs.readFileSync(outputFile, 'utf8');
            throw new BundleBuildError(`\`nango ${command}\` failed (${status}) in ${projectDir}: ${lastLines(output)}`);
        }
    } finally {
        fs.closeSync(fd);
        fs.rmSync(outputDir, { recursive: true, force: true });
    }
}

/**
 * Builds the bundle with the pinned CLI when it is missing or older than a source (running
 * `nango generate` first when the project was never generated), and says so in one line.
 */
export async function ensureBundle(options: EnsureBundleOptions): Promise<EnsureBundleResult> {
    const projectDir = options.projectDir ?? NANGO_INTEGRATIONS_DIR;
    const nangoBin = options.nangoBin ?? DEFAULT_NANGO_BIN;
    const reason = staleReason(projectDir);
    if (reason === undefined) {
        return { built: false };
    }
    const bundle = bundlePath(projectDir);
    // Both paths in the line are relative to the project, the folder the CLI runs in.
    const relative = path.relative(process.cwd(), projectDir);
    const where = relative === '' ? '.' : relative.startsWith('..') ? projectDir : relative;
    options.log(`Building the sync bundle (nango compile in ${where}): ${path.relative(projectDir, bundle)} is ${reason}.`);
    if (!fs.existsSync(path.join(projectDir, '.nango')) || !fs.existsSync(path.join(projectDir, 'models.ts'))) {
        await runNango(nangoBin, 'generate', projectDir);
    }
    await runNango(nangoBin, 'compile', projectDir);
    const after = staleReason(projectDir);
    if (after !== undefined) {
        throw new BundleBuildError(`\`nango compile\` succeeded but ${bundle} is still ${after}`);
    }
    return { built: true, reason };
}

/** The deployed sync, built first when stale: what the local commands and the e2e suite run. */
export async function loadDeployedSync(options: EnsureBundleOptions & SandboxOptions): Promise<SyncEntry> {
    await ensureBundle(options);
    return fetchDataFromBundle(bundlePath(options.projectDir), options.now ? { now: options.now } : {});
}
