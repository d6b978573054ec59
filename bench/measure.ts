import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
    DEFAULT_CREDENTIALS,
    startClariEmulator,
    type LatencyConfig,
    type LatencyRange,
    type RunningClariEmulator,
    type StatsSnapshot
} from '../local-stack/emulator/index.js';
import { openStore } from '../local-stack/nango-server/index.js';
import { RESULT_PREFIX, childResultSchema, type ChildConfig, type ChildResult } from './protocol.js';

/** The emulator (in this process) and the measured sync runs (each in a child process). */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CHILD_SCRIPT = path.join(REPO_ROOT, 'bench', 'sync-child.ts');
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
}

export interface Measurement extends ChildResult {
    label: string;
    speed: number;
    /** Requests per second Clari (the emulator) allows in this measurement: 10 x speed. */
    allowedRate: number;
    latency: LatencyConfig;
    /** Every Clari request the run made (retries included). */
    clariRequests: number;
    wallS: number;
    /** (list requests + detail requests) / allowed rate: no run can be faster. */
    boundS: number;
    wallOverBound: number;
    /** Clari requests per record saved; null when nothing was saved. */
    requestsPerCall: number | null;
    recordsPerSecond: number;
    /** CPU time / wall time of the runner (child) and of the bench process (the emulator, mostly). */
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

export interface RunOptions {
    label: string;
    emulator: BenchEmulator;
    speed: number;
    latency: LatencyConfig;
    config: Omit<ChildConfig, 'baseUrl' | 'apiKey' | 'apiPassword' | 'prepareOnly'>;
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
        const child = spawn(TSX_BIN, [CHILD_SCRIPT, JSON.stringify(config)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

function childConfig(emulator: BenchEmulator, config: RunOptions['config'], prepareOnly: boolean): ChildConfig {
    return {
        ...config,
        baseUrl: emulator.url,
        apiKey: DEFAULT_CREDENTIALS.apiKey,
        apiPassword: DEFAULT_CREDENTIALS.apiPassword,
        prepareOnly
    };
}

function crashed(what: string, output: ChildOutput): Error {
    const tail = output.stderr.trim().split('\n').slice(-20).join('\n');
    return new Error(`${what}: child exited with code ${String(output.code)}\n${tail}`);
}

/**
 * Creates the store folder and the connection in a throwaway child. PGlite's initdb peaks near 900 MB,
 * which would otherwise be the measured run's peak RSS whatever the sync did.
 */
/** Nango's record lifecycle, all at once: every stored payload pruned, as 30 days without an update would. */
export async function pruneEveryRecord(storeDir: string): Promise<void> {
    const store = await openStore({ dir: storeDir });
    try {
        const pruned = await store.pruneStale(new Date(Date.now() + DAY_MS));
        console.log(`  pruned the payloads of ${pruned} stored records`);
    } finally {
        await store.close();
    }
}

export async function prepareStore(emulator: BenchEmulator, config: RunOptions['config']): Promise<void> {
    const output = await runChild(childConfig(emulator, config, true));
    if (output.code !== 0) {
        throw crashed(`preparing the store in ${config.storeDir}`, output);
    }
}

export async function measure(options: RunOptions): Promise<Measurement> {
    const { emulator, speed } = options;
    await emulator.resetStats();
    const started = Date.now();
    console.log(`  → ${options.label}`);
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
    let output: ChildOutput;
    try {
        output = await runChild(childConfig(emulator, options.config, false));
    } finally {
        clearInterval(timer);
    }
    const parentCpuUsed = process.cpuUsage(parentCpu);
    const emulatorCpuShare = (parentCpuUsed.user + parentCpuUsed.system) / 1000 / (performance.now() - parentStarted);
    const line = output.stdout.split('\n').find((candidate) => candidate.startsWith(RESULT_PREFIX));
    if (output.code !== 0 || line === undefined) {
        throw crashed(options.label, output);
    }
    const result = childResultSchema.parse(JSON.parse(line.slice(RESULT_PREFIX.length)));
    const stats = await emulator.stats();
    const allowedRate = CLARI_RATE * speed;
    const clariRequests = result.listRequests + result.detailRequests + result.otherRequests;
    const boundS = (result.listRequests + result.detailRequests) / allowedRate;
    const wallS = result.wallMs / 1000;
    const measurement: Measurement = {
        ...result,
        label: options.label,
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
            maxObservedRps: stats.maxObservedRps
        }
    };
    const status = result.ok ? 'ok' : `FAILED (${result.error ?? 'unknown error'})`;
    console.log(
        `    ${status}: ${wallS.toFixed(1)}s, ${clariRequests} requests (${result.listRequests} list + ${result.detailRequests} details), ` +
            `saved ${result.saved}, 429s ${result.status429}, retries ${result.retries}, peak RSS ${(result.peakRssBytes / 1048576).toFixed(0)} MB, ` +
            `CPU runner ${Math.round(100 * measurement.runnerCpuShare)}% / emulator ${Math.round(100 * emulatorCpuShare)}%, ` +
            `event-loop delay p99 ${result.eventLoopDelayP99Ms.toFixed(0)} ms / max ${result.eventLoopDelayMaxMs.toFixed(0)} ms`
    );
    if (stats.total !== clariRequests) {
        console.log(`    note: the emulator counted ${stats.total} requests, the runner ${clariRequests}`);
    }
    return measurement;
}
