import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { Nango } from '@nangohq/node';
import { expect } from 'vitest';
import { z } from 'zod';

import { CALL_MODEL, PROVIDER, PROVIDER_CONFIG_KEY, SYNC_NAME } from '../../nango-integrations/clari-copilot/constants.js';
import { toCallRecord } from '../../nango-integrations/clari-copilot/mapper.js';
import type { RunKind } from '../../nango-integrations/clari-copilot/plan.js';
import { parseReportLine, type ReportLine, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';
import { rawCallDetailsSchema } from '../../nango-integrations/clari-copilot/schemas.js';
import type { Call } from '../../nango-integrations/models.js';
import {
    DEFAULT_CREDENTIALS,
    startClariEmulator,
    type FaultRule,
    type MutationRequest,
    type MutationResult,
    type RunningClariEmulator,
    type StartOptions,
    type StatsSnapshot
} from '../emulator/index.js';
import {
    createClariProxy,
    openStore,
    startNangoServer,
    type ClariCredentials,
    type ClariProxy,
    type ListRecordsQuery,
    type RecordStore,
    type RunningNangoServer
} from '../nango-server/index.js';
import { loadDeployedSync } from '../runner/build.js';
import { runSync, type RunnerEvent, type RunSyncResult } from '../runner/run-sync.js';
import type { SyncEntry } from '../runner/sandbox.js';

/**
 * End-to-end harness: the real `calls` sync as deployed (its compiled bundle in the Nango-like sandbox),
 * run through the local runner against the Clari emulator, with the records read back through the local
 * Nango stand-in (real `@nangohq/node` client) or the store, and compared with the emulator's ground
 * truth mapped by the sync's own `toCallRecord`.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SECRET_KEY = 'e2e-secret-key';
export const CREDENTIALS: ClariCredentials = { apiKey: DEFAULT_CREDENTIALS.apiKey, apiPassword: DEFAULT_CREDENTIALS.apiPassword };
/** Fast local runs: the client-side limiter barely throttles, and no signed media URLs (they differ per fetch). */
export const FAST_METADATA = { maxRequestsPerSecond: 500, includeMedia: false } as const;
/** Statuses the emulator's `lateProcess` turns into POST_PROCESSING_DONE (the call was recorded, not yet processed). */
export const AWAITING_PROCESSING: readonly string[] = ['PROCESSING', 'WAITING_IN_QUEUE', 'ERROR_IN_PROCESSING', 'ERROR_IN_TRANSCRIBE'];
const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------------------
// Emulator

/** An emulator on a free port, unthrottled and without latency unless asked; its "now" is the real clock. */
export function startEmulator(options: StartOptions = {}): Promise<RunningClariEmulator> {
    return startClariEmulator({ port: 0, rate: 0, now: new Date(), ...options });
}

const truthPageSchema = z.object({
    total: z.number(),
    nextOffset: z.number().optional(),
    calls: z.array(z.looseObject({ id: z.string(), private: z.boolean() }))
});

export interface TruthCall {
    id: string;
    /** The payload as Clari would send it (details, or list payload), without media URLs. */
    payload: Record<string, unknown>;
    private: boolean;
}

/** The emulator's control API (documented in local-stack/emulator/README.md), over HTTP. */
export class EmulatorControl {
    constructor(readonly baseUrl: string) {}

    private async call(method: 'GET' | 'POST' | 'PUT', route: string, body?: unknown): Promise<unknown> {
        const response = await fetch(`${this.baseUrl}${route}`, {
            method,
            ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        });
        const text = await response.text();
        if (!response.ok) {
            throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
        }
        return JSON.parse(text) as unknown;
    }

    async stats(): Promise<StatsSnapshot> {
        return (await this.call('GET', '/_control/stats')) as StatsSnapshot;
    }

    async resetStats(): Promise<void> {
        await this.call('POST', '/_control/stats/reset');
    }

    async mutate(request: MutationRequest): Promise<MutationResult> {
        return (await this.call('POST', '/_control/mutate', request)) as MutationResult;
    }

    async setFaults(rules: FaultRule[]): Promise<void> {
        await this.call('PUT', '/_control/faults', { rules });
    }

    async setRate(rate: number, retryAfter: boolean): Promise<void> {
        await this.call('PUT', '/_control/rate', { rate, retryAfter });
    }

    /** Every live call (time desc, then id), private ones included and flagged. */
    async truth(options: { details: boolean } = { details: true }): Promise<TruthCall[]> {
        const calls: TruthCall[] = [];
        let offset: number | undefined = 0;
        while (offset !== undefined) {
            const page = truthPageSchema.parse(
                await this.call('GET', `/_control/calls?includePrivate=true&details=${String(options.details)}&offset=${offset}&limit=1000`)
            );
            for (const { private: isPrivate, ...payload } of page.calls) {
                calls.push({ id: payload.id, payload, private: isPrivate });
            }
            offset = page.nextOffset;
        }
        return calls;
    }

    /** One call's details payload, whatever its state. */
    async truthCall(id: string): Promise<TruthCall> {
        const body = z
            .object({ call: z.looseObject({ id: z.string() }), private: z.boolean() })
            .parse(await this.call('GET', `/_control/calls/${encodeURIComponent(id)}`));
        return { id: body.call.id, payload: body.call, private: body.private };
    }
}

// ---------------------------------------------------------------------------------------------------------
// Expected records

export interface TimeWindow {
    /** Exclusive bounds, as the sync lists them (filterTimeGt / filterTimeLt). */
    after: Date;
    before: Date;
}

export function callTimeMs(call: TruthCall): number {
    const time = call.payload['time'];
    return typeof time === 'string' ? Date.parse(time) : Number.NaN;
}

export function isInWindow(call: TruthCall, window: TimeWindow): boolean {
    const ms = callTimeMs(call);
    return ms > window.after.getTime() && ms < window.before.getTime();
}

/** The record the sync must store for a ground-truth call, or undefined when the payload is invalid. */
export function expectedRecord(call: TruthCall): Call | undefined {
    const parsed = rawCallDetailsSchema.safeParse(call.payload);
    return parsed.success ? toCallRecord(parsed.data) : undefined;
}

/** What the store must hold after a complete pass over `window`: every valid public call in it, mapped. */
export function expectedRecords(truth: readonly TruthCall[], window: TimeWindow): Map<string, Call> {
    const expected = new Map<string, Call>();
    for (const call of truth) {
        if (call.private || !isInWindow(call, window)) {
            continue;
        }
        const record = expectedRecord(call);
        if (record) {
            expected.set(call.id, record);
        }
    }
    return expected;
}

/** The last `days` days before `now`, as the sync's backfill window. */
export function lastDays(now: Date, days = 365): TimeWindow {
    return { after: new Date(now.getTime() - days * DAY_MS), before: now };
}

// ---------------------------------------------------------------------------------------------------------
// Records as served

export interface ServedRecord {
    id: string;
    /** The record without `_nango_metadata`. */
    data: Record<string, unknown>;
    lastAction: string;
    deletedAt: string | null;
    lastModifiedAt: string;
    /** Set when Nango pruned the payload; `data` is then the id alone. */
    prunedAt: string | null;
    cursor: string;
}

interface RawServedRecord {
    id: string | number;
    _nango_metadata: {
        last_action: string;
        deleted_at: string | null;
        last_modified_at: string;
        pruned_at?: string | null;
        cursor: string;
    };
}

function toServed(record: RawServedRecord): ServedRecord {
    const { _nango_metadata: meta, ...data } = record;
    return {
        id: String(record.id),
        data: { ...data, id: String(record.id) },
        lastAction: meta.last_action,
        deletedAt: meta.deleted_at,
        lastModifiedAt: meta.last_modified_at,
        prunedAt: meta.pruned_at ?? null,
        cursor: meta.cursor
    };
}

export type RecordFilter = 'added' | 'updated' | 'deleted';

/** Every page of Nango's records API through the real `@nangohq/node` client. */
export async function listServed(
    nango: Nango,
    connectionId: string,
    query: { modifiedAfter?: string; filter?: RecordFilter; limit?: number; ids?: string[] } = {}
): Promise<ServedRecord[]> {
    const records: ServedRecord[] = [];
    let cursor: string | null = null;
    do {
        const page: Awaited<ReturnType<Nango['listRecords']>> = await nango.listRecords({
            providerConfigKey: PROVIDER_CONFIG_KEY,
            connectionId,
            model: CALL_MODEL,
            cursor,
            limit: query.limit ?? 500,
            ...(query.modifiedAfter === undefined ? {} : { modifiedAfter: query.modifiedAfter }),
            ...(query.filter === undefined ? {} : { filter: query.filter }),
            ...(query.ids === undefined ? {} : { ids: query.ids })
        });
        records.push(...page.records.map((record) => toServed(record)));
        cursor = page.next_cursor;
    } while (cursor !== null);
    return records;
}

/** Every record of the connection straight from the store (same shape as the records API). */
export async function listStored(
    store: RecordStore,
    connectionId: string,
    query: Omit<ListRecordsQuery, 'connectionId' | 'model' | 'cursor'> = {}
): Promise<ServedRecord[]> {
    const records: ServedRecord[] = [];
    let cursor: string | undefined;
    do {
        const page = await store.listRecords({ limit: 1000, ...query, connectionId, model: CALL_MODEL, cursor });
        records.push(...page.records.map((record) => toServed(record)));
        cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return records;
}

export function ids(records: readonly { id: string }[]): string[] {
    return records.map((record) => record.id).sort();
}

export function sortedIds(values: Iterable<string>): string[] {
    return [...values].sort();
}

export function live(records: readonly ServedRecord[]): ServedRecord[] {
    return records.filter((record) => record.deletedAt === null);
}

/**
 * Asserts the live records are exactly `expected`: same ids, each once, each with the mapped content.
 * A content mismatch is reported as the list of ids that differ, then a diff of the first one.
 */
export function expectRecordsEqualTruth(records: readonly ServedRecord[], expected: ReadonlyMap<string, Call>): void {
    const liveRecords = live(records);
    expect(liveRecords.length, 'each call stored once').toBe(new Set(liveRecords.map((record) => record.id)).size);
    expect(ids(liveRecords)).toEqual(sortedIds(expected.keys()));
    const differing = liveRecords.filter((record) => !isDeepStrictEqual(record.data, expected.get(record.id))).map((record) => record.id);
    const first = differing[0];
    if (first !== undefined) {
        expect(liveRecords.find((record) => record.id === first)?.data, `content of ${first} (${differing.length} differ)`).toEqual(
            expected.get(first)
        );
    }
    expect(differing).toEqual([]);
}

/** What must not move when nothing changed: every record's version stamp and last action. */
export function versions(records: readonly ServedRecord[]): Record<string, string> {
    return Object.fromEntries(
        records.map((record) => [record.id, `${record.lastModifiedAt} ${record.lastAction} ${record.deletedAt ?? 'live'}`])
    );
}

// ---------------------------------------------------------------------------------------------------------
// Store, stand-in and runs

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `clari-e2e-${prefix}-`));
    return {
        dir,
        remove: () => {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
}

export interface LogLine {
    level: string;
    message: string;
}

export interface RunPlanSeen {
    kind: RunKind;
    /** The first listing's call-time window, from the run report's start line. */
    window: TimeWindow;
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

/** The run report's lines among a run's logs, in order. */
export function reportOf(logs: readonly LogLine[]): ReportLine[] {
    return logs.flatMap(({ message }) => parseReportLine(message) ?? []);
}

function planOf(logs: readonly LogLine[]): RunPlanSeen | undefined {
    const start = reportOf(logs).find((line) => line.type === 'start');
    const first = start?.windows[0];
    return start && first ? { kind: start.run, window: { after: first.timeAfter, before: first.timeBefore } } : undefined;
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
    private connections = 0;

    private constructor(
        readonly store: RecordStore,
        readonly server: RunningNangoServer,
        readonly nango: Nango,
        private readonly removeDir: () => void,
        private readonly fetchData: SyncEntry
    ) {}

    /** On a new temporary store (removed on close), or on the store in `dir` (left in place). */
    static async open(prefix: string, dir?: string): Promise<E2EStack> {
        // Built (when stale) and loaded per test file, before any store or server exists to clean up.
        const fetchData = await loadDeployedSync({
            log: (line) => {
                console.log(line);
            }
        });
        const tmp = dir === undefined ? makeTempDir(prefix) : { dir, remove: () => undefined };
        const store = await openStore({ dir: tmp.dir });
        // The records API never proxies; the Clari URL only matters for /proxy, unused here.
        const server = await startNangoServer({ store, secretKey: SECRET_KEY, port: 0, clariBaseUrl: 'http://127.0.0.1:9' });
        return new E2EStack(store, server, new Nango({ secretKey: SECRET_KEY, host: server.url }), tmp.remove, fetchData);
    }

    /** A new connection (its own records and lastSyncDate) synced from `emulator`. */
    async connect(
        emulator: RunningClariEmulator,
        options: { credentials?: ClariCredentials; timeoutMs?: number } = {}
    ): Promise<SyncTarget> {
        const connectionId = `e2e-${++this.connections}`;
        const credentials = options.credentials ?? CREDENTIALS;
        await this.store.upsertConnection({
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
                persist: this.store,
                connectionId: target.connectionId,
                providerConfigKey: PROVIDER_CONFIG_KEY,
                syncName: SYNC_NAME,
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
        await this.server.close();
        await this.store.close();
        this.removeDir();
    }
}

/** The sync's one summary line, read. */
export function summaryOf(logs: readonly LogLine[]): RunSummary {
    const summary = reportOf(logs).find((line) => line.type === 'summary');
    if (!summary) {
        throw new Error('the sync logged no summary line');
    }
    return summary;
}

/** `count` calls of `truth` that satisfy `predicate` and are not `taken` yet (lowest ids first, for determinism). */
export function pick(truth: readonly TruthCall[], count: number, predicate: (call: TruthCall) => boolean, taken: Set<string>): string[] {
    const chosen = truth
        .filter((call) => !taken.has(call.id) && predicate(call))
        .map((call) => call.id)
        .sort()
        .slice(0, count);
    if (chosen.length < count) {
        throw new Error(`only ${chosen.length} of ${count} suitable calls in the dataset`);
    }
    chosen.forEach((id) => taken.add(id));
    return chosen;
}

export function statusOf(call: TruthCall): string {
    const status = call.payload['status'];
    return typeof status === 'string' ? status : '';
}
