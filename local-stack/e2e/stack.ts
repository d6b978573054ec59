import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Nango } from '@nangohq/node';

import { PROVIDER, PROVIDER_CONFIG_KEY } from '../../nango-integrations/clari-copilot/constants.js';
import type { RunningClariEmulator, StartOptions, StatsSnapshot } from '../emulator/index.js';
import {
    createClariProxy,
    openStore,
    startNangoServer,
    type ClariCredentials,
    type ClariProxy,
    type LocalStore,
    type RunningNangoServer
} from '../nango-server/index.js';
import { loadDeployedSync } from '../runner/build.js';
import { storePersist } from '../runner/persist.js';
import { runSync, type RunnerEvent, type RunSyncResult } from '../runner/run-sync.js';
import { ExecutionKilledError } from '../runner/execution-limit.js';
import { runSyncChain } from '../runner/run-chain.js';
import type { SyncEntry } from '../runner/sandbox.js';
import { CREDENTIALS, EmulatorControl, startEmulator } from './emulator-client.js';
import { planOf, type LogLine, type RunPlanSeen } from './run-logs.js';

/**
 * The e2e stack's lifecycle: the real `calls` sync as deployed (its compiled bundle in the Nango-like
 * sandbox), run through the local runner against a Clari emulator, on one store with the local Nango
 * stand-in in front of it (read back with the real `@nangohq/node` client, see served-records.ts).
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SECRET_KEY = 'e2e-secret-key';
/**
 * Fast local runs: the client-side limiter barely throttles, no signed media URLs (they differ per fetch), and no
 * daily refresh of recent calls, which would join any run that crosses midnight UTC (it has tests of its own).
 */
export const FAST_METADATA = { maxRequestsPerSecond: 500, includeMedia: false, refreshRecentDays: 0 } as const;
/** Never due again within a test: 30-day periods counted from the epoch. */
export const RARE_RECONCILE = { ...FAST_METADATA, reconcileEveryHours: 720 } as const;
export const ALWAYS_RECONCILE = { ...FAST_METADATA, reconcileEveryHours: 0 } as const;

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `clari-e2e-${prefix}-`));
    return {
        dir,
        remove: () => {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
}

interface RunRecording {
    events: RunnerEvent[];
    logs: LogLine[];
    plan: RunPlanSeen | undefined;
    /** Emulator counters for this run alone (reset just before it). */
    requests: StatsSnapshot;
    durationMs: number;
}

export interface RunOutcome extends RunRecording {
    result: RunSyncResult;
    plan: RunPlanSeen;
}

export interface FailedRun extends RunRecording {
    error: unknown;
}

/** A connection of the stack, synced from one emulator. */
export interface SyncTarget {
    connectionId: string;
    emulator: RunningClariEmulator;
    control: EmulatorControl;
    proxy: ClariProxy;
}

/** One PGlite store (opening a new one costs seconds: share it per file), the Nango stand-in on it, a client. */
export class E2EStack {
    private readonly proxies: ClariProxy[] = [];
    private readonly emulators: RunningClariEmulator[] = [];
    private connections = 0;

    private constructor(
        readonly store: LocalStore,
        readonly server: RunningNangoServer,
        readonly nango: Nango,
        private readonly removeDir: () => void,
        private readonly fetchData: SyncEntry,
        private readonly syncClock: { offsetMs: number }
    ) {}

    /**
     * Moves the sync's clock (inside its sandbox) this far ahead of the real one, for runs in later Clari weeks.
     * The store keeps the real clock, as Nango's does; pair it with the emulator's clock offset.
     */
    setSyncClockOffset(offsetMs: number): void {
        this.syncClock.offsetMs = offsetMs;
    }

    /** On a new temporary store (removed on close), or on the store in `dir` (left in place). */
    static async open(prefix: string, dir?: string): Promise<E2EStack> {
        // Built (when stale) and loaded per test file, before any store or server exists to clean up.
        const syncClock = { offsetMs: 0 };
        const fetchData = await loadDeployedSync({
            log: (line) => {
                console.log(line);
            },
            now: () => Date.now() + syncClock.offsetMs
        });
        const tmp = dir === undefined ? makeTempDir(prefix) : { dir, remove: () => undefined };
        const store = await openStore({ dir: tmp.dir });
        // The records API never proxies; the Clari URL only matters for /proxy, unused here.
        const server = await startNangoServer({ store, secretKey: SECRET_KEY, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        return new E2EStack(store, server, new Nango({ secretKey: SECRET_KEY, host: server.url }), tmp.remove, fetchData, syncClock);
    }

    /** An emulator that lives as long as the stack (see `startEmulator`). */
    async emulator(options: StartOptions = {}): Promise<RunningClariEmulator> {
        const started = await startEmulator(options);
        this.emulators.push(started);
        return started;
    }

    /** A new connection (its own records and lastSyncDate) synced from `emulator`. */
    async connect(
        emulator: RunningClariEmulator,
        options: { credentials?: ClariCredentials; timeoutMs?: number } = {}
    ): Promise<SyncTarget> {
        const connectionId = `e2e-${++this.connections}`;
        const credentials = options.credentials ?? CREDENTIALS;
        await this.store.connections.upsertConnection({
            connectionId,
            providerConfigKey: PROVIDER_CONFIG_KEY,
            provider: PROVIDER,
            apiKey: credentials.apiKey,
            apiPassword: credentials.apiPassword,
            metadata: null
        });
        const proxy = this.proxy(emulator, credentials, options.timeoutMs);
        return { connectionId, emulator, control: new EmulatorControl(emulator.url), proxy };
    }

    proxy(emulator: RunningClariEmulator, credentials: ClariCredentials, timeoutMs?: number): ClariProxy {
        const proxy = createClariProxy({ baseUrl: emulator.url, credentials, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
        this.proxies.push(proxy);
        return proxy;
    }

    private async record(
        target: SyncTarget,
        metadata: Record<string, unknown>,
        proxy: ClariProxy
    ): Promise<{ outcome: { ok: true; result: RunSyncResult } | { ok: false; error: unknown }; recording: RunRecording }> {
        await target.control.resetStats();
        const events: RunnerEvent[] = [];
        const started = performance.now();
        let outcome: { ok: true; result: RunSyncResult } | { ok: false; error: unknown };
        try {
            const result = await runSync({
                persist: storePersist(this.store),
                connectionId: target.connectionId,
                metadata,
                proxy,
                fetchData: this.fetchData,
                onEvent: (event) => events.push(event)
            });
            outcome = { ok: true, result };
        } catch (error) {
            outcome = { ok: false, error };
        }
        const durationMs = performance.now() - started;
        const logs = events.flatMap((event) => (event.type === 'log' ? [{ level: event.level, message: event.message }] : []));
        return {
            outcome,
            recording: { events, logs, plan: planOf(logs), requests: await target.control.stats(), durationMs }
        };
    }

    /** Runs the sync once; fails the test with the sync's error and its error logs when the run fails. */
    async run(target: SyncTarget, metadata: Record<string, unknown> = FAST_METADATA, proxy = target.proxy): Promise<RunOutcome> {
        const { outcome, recording } = await this.record(target, metadata, proxy);
        if (!outcome.ok) {
            const errors = recording.logs.filter((log) => log.level === 'error' || log.level === 'warn').map((log) => log.message);
            throw new Error(`the sync run failed: ${String(outcome.error)}\n${errors.slice(0, 20).join('\n')}`, { cause: outcome.error });
        }
        const { plan } = recording;
        if (!plan) {
            throw new Error('the sync logged no run report start line');
        }
        return { ...recording, result: outcome.result, plan };
    }

    /**
     * Runs the sync under an execution limit (NANGO_LOCAL_RUN_TIMEOUT_S), following the chain of interrupted
     * executions as Nango does until one ends without being interrupted. An execution killed at 95% (on a busy
     * machine a checkpoint may miss its window) fails, and Nango's next scheduled run resumes from the same
     * checkpoint: up to `killsAllowed` of those are followed too, and counted. Every execution's log lines and
     * the Clari requests of the whole chain are returned.
     */
    async runChained(
        target: SyncTarget,
        timeoutMs: number,
        metadata: Record<string, unknown> = FAST_METADATA,
        killsAllowed = 2
    ): Promise<{ final: RunSyncResult; interrupted: RunSyncResult[]; killed: number; logs: LogLine[][]; requests: StatsSnapshot }> {
        await target.control.resetStats();
        const logs: LogLine[][] = [[]];
        const interrupted: RunSyncResult[] = [];
        for (let killed = 0; ; killed++) {
            try {
                const chain = await runSyncChain({
                    persist: storePersist(this.store),
                    connectionId: target.connectionId,
                    metadata,
                    proxy: target.proxy,
                    fetchData: this.fetchData,
                    timeoutMs,
                    onEvent: (event) => {
                        if (event.type === 'log') {
                            logs.at(-1)?.push({ level: event.level, message: event.message });
                        }
                    },
                    onHandOver: (result) => {
                        interrupted.push(result);
                        logs.push([]);
                    }
                });
                return { final: chain.final, interrupted, killed, logs, requests: await target.control.stats() };
            } catch (error) {
                if (!(error instanceof ExecutionKilledError) || killed >= killsAllowed) {
                    throw error;
                }
                logs.push([]);
            }
        }
    }

    /** Runs the sync once, expecting it to fail. */
    async runExpectingFailure(target: SyncTarget, metadata: Record<string, unknown>, proxy = target.proxy): Promise<FailedRun> {
        const { outcome, recording } = await this.record(target, metadata, proxy);
        if (outcome.ok) {
            throw new Error('the sync run succeeded, a failure was expected');
        }
        return { ...recording, error: outcome.error };
    }

    async close(): Promise<void> {
        this.proxies.forEach((proxy) => {
            proxy.close();
        });
        await Promise.all(this.emulators.map((emulator) => emulator.close()));
        await this.server.close();
        await this.store.close();
        this.removeDir();
    }
}
