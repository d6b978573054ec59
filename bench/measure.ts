import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import {
    DEFAULT_CREDENTIALS,
    startClariEmulator,
    type LatencyConfig,
    type LatencyRange,
    type RunningClariEmulator,
    type StatsSnapshot
} from '../local-stack/emulator/index.js';
import { DEFAULT_PROVIDER_CONFIG_KEY, openStore } from '../local-stack/nango-server/index.js';
import { nodeFlagsOf, packageScripts } from './node-flags.js';
import { registerRemoteConnection, type LocalNangoEndpoint } from '../local-stack/runner/http-persist.js';
import { CALL_MODEL } from '../nango-integrations/clari-copilot/constants.js';
import {
    NANGO_RESULT_PREFIX,
    NANGO_URL_PREFIX,
    RESULT_PREFIX,
    childResultSchema,
    serverResultSchema,
    type ChildConfig,
    type ChildResult,
    type NangoChildConfig,
    type ServerResult
} from './protocol.js';

/** The emulator (in this process), and for each measured run a local Nango and a sync runner (a child process each). */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Each child runs its entry bundled, as `npm start` and `npm run serve` do (local-stack/launch.mjs). */
const LAUNCHER = path.join(REPO_ROOT, 'local-stack', 'launch.mjs');
/**
 * The local Nango runs PGlite, so it starts as `npm run serve` does (package.json): WebAssembly kept on V8's baseline
 * compiler (optimising PGlite's largest functions takes hundreds of MB for a moment), and a heap that grows by a tenth
 * past what the last collection kept, with 2 MB semi-spaces for the young generation in each of its two threads, so
 * that a page's garbage is collected soon instead of piling up to a late full collection (bench/README.md, "Where the
 * memory goes").
 */
const LOCAL_NANGO_NODE_FLAGS = nodeFlagsOf(packageScripts(REPO_ROOT), 'serve');
/**
 * Nango runs an execution in 512 MB. V8 here sizes its heap for the whole machine, and the detail responses of a
 * page in progress live long enough to reach the old generation, so garbage piled up until a late full collection:
 * 271 MB peak RSS at 5,000 calls and 167 at 1,000, while the heap left after a forced collection stayed 19–37 MB
 * throughout. A heap sized as for a small runtime collects that garbage sooner, for a few percent of wall time at
 * --speed 10 (bench/README.md, "Where the memory goes").
 */
const RUNNER_NODE_FLAGS = ['--max-old-space-size=256'];
const CHILD_SCRIPT = path.join(REPO_ROOT, 'bench', 'sync-child.ts');
const NANGO_SCRIPT = path.join(REPO_ROOT, 'bench', 'nango-child.ts');
/** The servers listen on 127.0.0.1 for one run each; a fresh key per bench keeps a stray client of another one out. */
const SECRET_KEY = randomBytes(16).toString('hex');
const PROGRESS_EVERY_MS = 10_000;
const DAY_MS = 86_400_000;

/** Clari's documented limit. */
export const CLARI_RATE = 10;
/** Realistic latencies at speed 1. */
export const REAL_LATENCY: LatencyConfig = { list: { minMs: 100, maxMs: 300 }, details: { minMs: 150, maxMs: 400 } };
/** The ours-vs-naive comparison runs with this fixed /call-details latency (at speed 1). */
export const BASELINE_DETAIL_MS = 300;
/**
 * The dataset's calls are spread over 11 months so that every one of them falls inside the sync's
 * 365-day backfill window: "a first sync of N calls" then means N calls (less the ~3% Clari marks private).
 */
export const DATASET_MONTHS = 11;

export function scaleRange(range: LatencyRange, speed: number): LatencyRange {
    return { minMs: Math.round(range.minMs / speed), maxMs: Math.round(range.maxMs / speed) };
}

export function scaledLatency(latency: LatencyConfig, speed: number): LatencyConfig {
    return { list: scaleRange(latency.list, speed), details: scaleRange(latency.details, speed) };
}

export function comparisonLatency(speed: number): LatencyConfig {
    return scaledLatency({ list: REAL_LATENCY.list, details: { minMs: BASELINE_DETAIL_MS, maxMs: BASELINE_DETAIL_MS } }, speed);
}

export interface EmulatorFigures {
    total: number;
    list: number;
    details: number;
    rateLimited: number;
    maxObservedRps: number;
    /**
     * Event-loop delay of the bench process, which hosts the emulator, over the run. A stall there stamps the
     * requests that queued during it all at once, so it shows as a busy second that no sender made.
     * Absent in runs recorded before it was measured.
     */
    loopDelayP99Ms?: number;
    loopDelayMaxMs?: number;
}

/** Where the run's store lived: in a local Nango process of its own, or (runs recorded before it moved) in the runner. */
export type StoreLocation = 'server' | 'runner';

export interface ServerFigures extends ServerResult {
    /** CPU time / wall time of the server process over the run. */
    cpuShare: number;
}

export interface Measurement extends ChildResult {
    label: string;
    storeIn: StoreLocation;
    /** The local Nango process that owned the store and proxied Clari; null for runs recorded before it existed. */
    server: ServerFigures | null;
    speed: number;
    /** Requests per second Clari (the emulator) allows in this measurement: 10 x speed. */
    allowedRate: number;
    latency: LatencyConfig;
    /** Every Clari request the run made (retries included, the server proxy's too). */
    clariRequests: number;
    wallS: number;
    /** (list requests + detail requests) / allowed rate: no run can be faster. */
    boundS: number;
    wallOverBound: number;
    /** Clari requests per record saved; null when nothing was saved. */
    requestsPerCall: number | null;
    recordsPerSecond: number;
    /** CPU time / wall time of the runner (child) and of the bench process (the emulator, mostly); the server's is in `server`. */
    runnerCpuShare: number;
    emulatorCpuShare: number;
    emulator: EmulatorFigures;
}

export interface DatasetFigures {
    calls: number;
    /** Public past calls inside the 365-day window: what a complete first sync saves. */
    expectedSynced: number;
    privateCalls: number;
    scheduledCalls: number;
    /** Mean /call-details JSON size over a sample of calls (no media URLs), in KB. */
    meanDetailKb: number;
    maxDetailKb: number;
}

export class BenchEmulator {
    private constructor(
        private readonly emulator: RunningClariEmulator,
        readonly now: Date
    ) {}

    static async start(options: { calls: number; seed: number; now: Date; speed: number }): Promise<BenchEmulator> {
        const emulator = await startClariEmulator({
            port: 0,
            calls: options.calls,
            seed: options.seed,
            months: DATASET_MONTHS,
            now: options.now,
            rate: CLARI_RATE * options.speed,
            retryAfter: true,
            latency: scaledLatency(REAL_LATENCY, options.speed)
        });
        return new BenchEmulator(emulator, options.now);
    }

    get url(): string {
        return this.emulator.url;
    }

    close(): Promise<void> {
        return this.emulator.close();
    }

    private async control(method: 'GET' | 'POST' | 'PUT', route: string, body?: object): Promise<unknown> {
        const response = await fetch(`${this.emulator.url}/_control/${route}`, {
            method,
            ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        });
        if (!response.ok) {
            throw new Error(`emulator control ${method} ${route} answered ${response.status}: ${await response.text()}`);
        }
        return response.json();
    }

    async resetStats(): Promise<void> {
        await this.control('POST', 'stats/reset');
    }

    async stats(): Promise<StatsSnapshot> {
        return (await this.control('GET', 'stats')) as StatsSnapshot;
    }

    /** Changes `count` past public calls (new content version, last_modified_time = now); returns how many changed. */
    async modify(count: number): Promise<number> {
        const result = (await this.control('POST', 'mutate', { modify: count })) as { modify: string[] };
        return result.modify.length;
    }

    /** Regenerates the dataset (same seed and now), zeroes counters, then applies this rate and latency. */
    async resetTo(rate: number, latency: LatencyConfig): Promise<void> {
        await this.control('POST', 'reset');
        await this.control('PUT', 'rate', { rate, retryAfter: true });
        await this.control('PUT', 'latency', latency);
    }

    dataset(): DatasetFigures {
        const state = this.emulator.state;
        const nowMs = Date.now();
        const all = state.sorted().filter((record) => !record.deleted);
        const expected = all.filter((record) => !record.isPrivate && record.timeMs < nowMs && record.timeMs > nowMs - 365 * DAY_MS);
        const sample = expected.filter((_, index) => index % Math.max(1, Math.floor(expected.length / 200)) === 0);
        const sizes = sample.map((record) => Buffer.byteLength(JSON.stringify({ call: state.detailsPayload(record) })) / 1024);
        return {
            calls: all.filter((record) => record.timeMs < nowMs).length,
            expectedSynced: expected.length,
            privateCalls: all.filter((record) => record.isPrivate).length,
            scheduledCalls: all.filter((record) => record.timeMs >= nowMs).length,
            meanDetailKb: sizes.reduce((sum, size) => sum + size, 0) / Math.max(1, sizes.length),
            maxDetailKb: Math.max(0, ...sizes)
        };
    }
}

export interface RunConfig {
    strategy: ChildConfig['strategy'];
    /** A fresh temp folder for a first sync, the same one for the runs that follow it. */
    storeDir: string;
    connectionId: string;
    metadata: ChildConfig['metadata'];
}

export interface RunOptions {
    label: string;
    emulator: BenchEmulator;
    speed: number;
    latency: LatencyConfig;
    config: RunConfig;
    /** For progress lines: roughly how many Clari requests the run should make. */
    expectedRequests: number;
}

interface ChildOutput {
    code: number | null;
    stdout: string;
    stderr: string;
}

function runChild(config: ChildConfig): Promise<ChildOutput> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...RUNNER_NODE_FLAGS, LAUNCHER, CHILD_SCRIPT, JSON.stringify(config)], {
            cwd: REPO_ROOT,
            stdio: ['ignore', 'pipe', 'pipe']
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            stdout += chunk;
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
            stderr += chunk;
        });
        child.on('error', reject);
        child.on('close', (code) => {
            resolve({ code, stdout, stderr });
        });
    });
}

function crashed(what: string, output: ChildOutput): Error {
    const tail = output.stderr.trim().split('\n').slice(-20).join('\n');
    return new Error(`${what}: child exited with code ${String(output.code)}\n${tail}`);
}

interface LocalNango {
    endpoint: LocalNangoEndpoint;
    /** Closes its stdin, which makes it close the store and print what it measured. */
    stop(): Promise<ServerResult>;
}

/** Starts `nango-child.ts` on `storeDir`; resolves once it prints its URL. */
function startLocalNango(storeDir: string, clariBaseUrl: string, connectionId: string): Promise<LocalNango> {
    const config: NangoChildConfig = {
        storeDir,
        secretKey: SECRET_KEY,
        clariBaseUrl,
        probe: { connectionId, providerConfigKey: DEFAULT_PROVIDER_CONFIG_KEY, model: CALL_MODEL }
    };
    const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
        process.execPath,
        [...LOCAL_NANGO_NODE_FLAGS, LAUNCHER, NANGO_SCRIPT, JSON.stringify(config)],
        {
            cwd: REPO_ROOT,
            stdio: ['pipe', 'pipe', 'pipe']
        }
    );
    const output: ChildOutput = { code: null, stdout: '', stderr: '' };
    const exited = new Promise<ChildOutput>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => {
            output.code = code;
            resolve(output);
        });
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        output.stderr += chunk;
    });
    const stop = async (): Promise<ServerResult> => {
        child.stdin.end();
        await exited;
        const line = output.stdout.split('\n').find((candidate) => candidate.startsWith(NANGO_RESULT_PREFIX));
        if (output.code !== 0 || line === undefined) {
            throw crashed(`the local Nango on ${storeDir}`, output);
        }
        return serverResultSchema.parse(JSON.parse(line.slice(NANGO_RESULT_PREFIX.length)));
    };
    return new Promise((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            output.stdout += chunk;
            // The last piece may be a line still being written.
            const line = output.stdout
                .split('\n')
                .slice(0, -1)
                .find((candidate) => candidate.startsWith(NANGO_URL_PREFIX));
            if (line !== undefined) {
                const url = line.slice(NANGO_URL_PREFIX.length).trim();
                resolve({ endpoint: { url, secretKey: SECRET_KEY, providerConfigKey: DEFAULT_PROVIDER_CONFIG_KEY }, stop });
            }
        });
        void exited.then(
            () => {
                reject(crashed(`starting the local Nango on ${storeDir}`, output));
            },
            (error: unknown) => {
                reject(error instanceof Error ? error : new Error(String(error)));
            }
        );
    });
}

/**
 * Nango's record lifecycle, all at once: every stored payload pruned, as 30 days without an update would.
 * It opens the folder here, between two runs, when no local Nango holds it (the store's lock would refuse).
 */
export async function pruneEveryRecord(storeDir: string): Promise<void> {
    const store = await openStore({ dir: storeDir });
    try {
        const pruned = await store.records.pruneStale(new Date(Date.now() + DAY_MS));
        console.log(`  pruned the payloads of ${pruned} stored records`);
    } finally {
        await store.close();
    }
}

/**
 * Creates the store folder and registers the connection's Clari credentials, through a throwaway local Nango:
 * PGlite's initdb peaks near 900 MB, which would otherwise be the measured server's peak RSS whatever the sync did.
 */
export async function prepareStore(emulator: BenchEmulator, config: RunConfig): Promise<void> {
    const server = await startLocalNango(config.storeDir, emulator.url, config.connectionId);
    try {
        await registerRemoteConnection(server.endpoint, config.connectionId, DEFAULT_CREDENTIALS);
    } finally {
        await server.stop();
    }
}

export async function measure(options: RunOptions): Promise<Measurement> {
    const { emulator, speed } = options;
    const { strategy, connectionId, metadata, storeDir } = options.config;
    console.log(`  → ${options.label}`);
    // Started before the clock and the counters: its startup (bundling, opening the store) is not the run's.
    const nango = await startLocalNango(storeDir, emulator.url, connectionId);
    await emulator.resetStats();
    const started = Date.now();
    const timer = setInterval(() => {
        void emulator.stats().then((stats) => {
            const seconds = Math.round((Date.now() - started) / 1000);
            const share =
                options.expectedRequests > 0 ? ` (~${Math.min(100, Math.round((100 * stats.total) / options.expectedRequests))}%)` : '';
            console.log(
                `    … ${seconds}s: ${stats.total}/${options.expectedRequests} Clari requests${share}, 429s ${stats.rateLimited}, ` +
                    `peak ${stats.maxObservedRps} req/s`
            );
        });
    }, PROGRESS_EVERY_MS);
    const parentCpu = process.cpuUsage();
    const parentStarted = performance.now();
    const emulatorLoop = monitorEventLoopDelay({ resolution: 10 });
    emulatorLoop.enable();
    let output: ChildOutput;
    let serverResult: ServerResult;
    try {
        output = await runChild({
            strategy,
            nangoUrl: nango.endpoint.url,
            secretKey: nango.endpoint.secretKey,
            clariBaseUrl: emulator.url,
            connectionId,
            metadata
        });
    } finally {
        emulatorLoop.disable();
        clearInterval(timer);
        serverResult = await nango.stop();
    }
    const parentCpuUsed = process.cpuUsage(parentCpu);
    const emulatorCpuShare = (parentCpuUsed.user + parentCpuUsed.system) / 1000 / (performance.now() - parentStarted);
    const line = output.stdout.split('\n').find((candidate) => candidate.startsWith(RESULT_PREFIX));
    if (output.code !== 0 || line === undefined) {
        throw crashed(options.label, output);
    }
    const childResult = childResultSchema.parse(JSON.parse(line.slice(RESULT_PREFIX.length)));
    // Nango's proxy retries happen in the server, out of the runner's sight: the server counts them.
    const result: ChildResult = {
        ...childResult,
        retries: childResult.retries + serverResult.proxyRetries,
        status429: Math.max(childResult.status429, serverResult.proxy429s)
    };
    const server: ServerFigures = {
        ...serverResult,
        cpuShare: serverResult.windowMs > 0 ? serverResult.cpuMs / serverResult.windowMs : 0
    };
    const stats = await emulator.stats();
    const allowedRate = CLARI_RATE * speed;
    const clariRequests = result.listRequests + result.detailRequests + result.otherRequests + serverResult.proxyRetries;
    const boundS = (result.listRequests + result.detailRequests) / allowedRate;
    const wallS = result.wallMs / 1000;
    const measurement: Measurement = {
        ...result,
        label: options.label,
        storeIn: 'server',
        server,
        speed,
        allowedRate,
        latency: options.latency,
        clariRequests,
        wallS,
        boundS,
        wallOverBound: boundS > 0 ? wallS / boundS : 0,
        requestsPerCall: result.saved > 0 ? clariRequests / result.saved : null,
        recordsPerSecond: wallS > 0 ? result.saved / wallS : 0,
        runnerCpuShare: result.wallMs > 0 ? result.cpuMs / result.wallMs : 0,
        emulatorCpuShare,
        emulator: {
            total: stats.total,
            list: stats.byEndpoint.calls,
            details: stats.byEndpoint['call-details'],
            rateLimited: stats.rateLimited,
            maxObservedRps: stats.maxObservedRps,
            loopDelayP99Ms: emulatorLoop.percentile(99) / 1e6,
            loopDelayMaxMs: emulatorLoop.max / 1e6
        }
    };
    const status = result.ok ? 'ok' : `FAILED (${result.error ?? 'unknown error'})`;
    console.log(
        `    ${status}: ${wallS.toFixed(1)}s, ${clariRequests} requests (${result.listRequests} list + ${result.detailRequests} details), ` +
            `saved ${result.saved}, 429s ${result.status429}, retries ${result.retries}, ` +
            `peak RSS runner ${(result.peakRssBytes / 1048576).toFixed(0)} MB / server ${(server.peakRssBytes / 1048576).toFixed(0)} MB, ` +
            `CPU runner ${Math.round(100 * measurement.runnerCpuShare)}% / server ${Math.round(100 * server.cpuShare)}% / emulator ${Math.round(100 * emulatorCpuShare)}%, ` +
            `event-loop delay p99/max runner ${result.eventLoopDelayP99Ms.toFixed(0)}/${result.eventLoopDelayMaxMs.toFixed(0)} ms, ` +
            `server ${server.eventLoopDelayP99Ms.toFixed(0)}/${server.eventLoopDelayMaxMs.toFixed(0)} ms, ` +
            `emulator ${measurement.emulator.loopDelayP99Ms?.toFixed(0)}/${measurement.emulator.loopDelayMaxMs?.toFixed(0)} ms, ` +
            `busiest second ${stats.maxObservedRps} req`
    );
    if (stats.total !== clariRequests) {
        console.log(`    note: the emulator counted ${stats.total} requests, the runner ${clariRequests}`);
    }
    return measurement;
}
