import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureBundle } from './build.js';
import { bundlePath, NANGO_INTEGRATIONS_DIR } from './sandbox.js';

/*
 * How much memory request timeouts keep alive inside the runner's sandbox, where `setTimeout` exists but
 * `clearTimeout` does not (as on Nango): every timer then lives its full 120 s, holding whatever its callback
 * reaches. A probe sync drives the real Clari client 2,000 times against a fake `nango.get` answering ~100 KB,
 * then the heap is measured after a forced GC. The same bundle carries the control: the old request timeout
 * (raced against the request with `Promise.race`), so one run shows both what the fix keeps and what the
 * measurement would catch.
 *
 * `npx tsx local-stack/runner/timer-retention.ts` prints both figures; timer-retention.test.ts asserts them.
 */

export type Variant = 'fixed' | 'control';

export interface Measurement {
    variant: Variant;
    /** Responses `nango.get` answered. */
    responses: number;
    /** Their bodies' size as JSON text, before parsing. */
    responseBytes: number;
    /** Responses the probe received with the call it asked for: all of them, or the run measured less than it claims. */
    received: number;
    /** Heap after a forced GC, the run over and its timers still pending, minus the heap before the run. */
    retainedMiB: number;
}

export const RESPONSES = 2_000;
export const RESPONSE_BYTES = 100_000;

const REPO_ROOT = path.resolve(NANGO_INTEGRATIONS_DIR, '..');
const CHILD_SCRIPT = fileURLToPath(new URL('./timer-retention-child.ts', import.meta.url));

/**
 * The probe, compiled by `nango compile` in place of the calls sync. It imports the real client and
 * rate limiter; `racedGet` is the old `send()` kept as the control, on the same `startTimer`.
 */
const PROBE_SYNC = `import type { NangoSync } from '../../models.js';
import { createClariClient } from '../clari-client.js';
import { startTimer } from '../rate-limiter.js';
import { RunStats } from '../run-stats.js';

const TIMEOUT_MS = 120_000;

async function racedGet(nango: NangoSync, endpoint: string, params: Record<string, string>): Promise<unknown> {
    let cancelTimeout = (): void => undefined;
    try {
        const timeout = new Promise<never>((_, reject) => {
            cancelTimeout = startTimer(TIMEOUT_MS, () => {
                reject(new Error('no response within ' + TIMEOUT_MS + 'ms'));
            });
        });
        const response = await Promise.race([nango.get({ endpoint, params, retries: 0 }), timeout]);
        return response.data;
    } finally {
        cancelTimeout();
    }
}

export default async function fetchData(nango: NangoSync): Promise<void> {
    const { variant, requests } = (await nango.getMetadata()) as { variant: string; requests: number };
    const client = createClariClient(nango, { maxRequestsPerSecond: 1000, stats: new RunStats(), requestTimeoutMs: TIMEOUT_MS });
    let received = 0;
    for (let index = 0; index < requests; index++) {
        const params = { id: 'call-' + index };
        const data = variant === 'fixed' ? await client.get('/call-details', params) : await racedGet(nango, '/call-details', params);
        if ((data as { call: { id: string } }).call.id === params.id) {
            received++;
        }
    }
    await nango.log(JSON.stringify({ received }));
}
`;

/**
 * Compiles the probe with the pinned CLI, as the runner compiles the calls sync, in a copy of the Nango
 * project (`sourceDir`) under `root`. Returns the bundle's path.
 */
export async function buildProbeBundle(root: string, sourceDir: string = NANGO_INTEGRATIONS_DIR): Promise<string> {
    const projectDir = path.join(root, 'nango-integrations');
    fs.cpSync(sourceDir, projectDir, {
        recursive: true,
        filter: (source) => {
            const relative = path.relative(sourceDir, source);
            // A generated .nango is kept when there is one: ensureBundle then skips `nango generate`.
            return relative !== 'dist' && !['tests', 'mocks'].includes(path.basename(relative));
        }
    });
    fs.writeFileSync(path.join(projectDir, 'clari-copilot', 'syncs', 'calls.ts'), PROBE_SYNC);
    // The compiler type-checks against the repository's packages (zod, the SDK types).
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
    await ensureBundle({ log: () => undefined, projectDir });
    return bundlePath(projectDir);
}

/**
 * Runs one variant in a fresh Node with --expose-gc: a process of its own, so that neither the other
 * variant's pending timers nor the test runner's own allocations weigh on the figure.
 */
export async function measureRetention(bundleFile: string, variant: Variant): Promise<Measurement> {
    const args = ['--expose-gc', '--import', 'tsx', CHILD_SCRIPT, bundleFile, variant, String(RESPONSES), String(RESPONSE_BYTES)];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
        child.once('error', reject);
        child.once('close', (exitCode) => {
            resolve({ code: exitCode, stdout: out, stderr: err });
        });
    });
    const last = stdout.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !last.startsWith('{')) {
        throw new Error(`measuring ${variant} failed (exit code ${String(code)}): ${stderr.trim() || stdout.trim() || 'no output'}`);
    }
    return JSON.parse(last) as Measurement;
}

export function formatMeasurement(measurement: Measurement): string {
    const { variant, responses, responseBytes, retainedMiB } = measurement;
    const perResponse = Math.round(responseBytes / Math.max(1, responses) / 1000);
    return `${variant}: ${retainedMiB.toFixed(1)} MiB retained after ${responses} responses of ~${perResponse} KB`;
}

async function main(): Promise<void> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'timer-retention-'));
    try {
        const bundle = await buildProbeBundle(root);
        for (const variant of ['fixed', 'control'] as const) {
            console.log(formatMeasurement(await measureRetention(bundle, variant)));
        }
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    main().catch((error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exitCode = 1;
    });
}
