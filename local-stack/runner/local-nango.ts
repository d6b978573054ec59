import { STATUS_CODES } from 'node:http';

import { z } from 'zod';

import type { ProxyConfiguration } from '../../nango-integrations/models.js';
import { ProxyNetworkError, type ClariProxy, type HttpMethod, type ProxyResponse } from '../nango-server/proxy.js';
import type { NangoRecord } from '../nango-server/records.js';
import type { CheckpointValue } from '../nango-server/checkpoints.js';
import type { RunCheckpoints } from './checkpointing.js';
import { ProxyHttpError, ProxyRequestError, type RequestSummary } from './errors.js';
import { INTERRUPT_AT, RunInterruptedError, type ExecutionLimit } from './execution-limit.js';
import type { RunCounts, RunnerEvent } from './events.js';
import type { Persist } from './persist.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'http' | 'verbose' | 'silly';

/** What the local runner hands back for a 2xx proxy call: the part of an AxiosResponse syncs use. */
export interface LocalProxyResponse<T = unknown> {
    data: T;
    status: number;
    statusText: string;
    headers: Record<string, string>;
    config: RequestSummary;
}

export interface LocalNangoContext {
    persist: Persist;
    proxy: ClariProxy;
    connectionId: string;
    providerConfigKey: string;
    executionId: string;
    lastSyncDate: Date | undefined;
    metadata: Record<string, unknown> | undefined;
    counts: RunCounts;
    emit: (event: RunnerEvent) => void;
    checkpoints: RunCheckpoints;
    limit: ExecutionLimit;
    /** Throws once the execution was killed, so a script left running past 95% can no longer write or call out. */
    assertAlive: () => void;
    /** Called when saveCheckpoint hands the run over; runSync tells that error from the script's own. */
    onInterrupt: (error: RunInterruptedError) => void;
}

/** Nango's default page size for the records API and a runner's reads of it. */
const RECORDS_PAGE_SIZE = 100;
const recordWithId = z.looseObject({ id: z.union([z.string().min(1), z.number()]) });
const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error', 'http', 'verbose', 'silly'] satisfies LogLevel[];

function isLogLevel(value: unknown): value is LogLevel {
    return typeof value === 'string' && LOG_LEVELS.includes(value);
}

function recordIds(records: readonly object[], method: string): string[] {
    return records.map((record, index) => {
        const parsed = recordWithId.safeParse(record);
        if (!parsed.success) {
            throw new TypeError(`${method}: record at index ${index} is missing a string or number id`);
        }
        return String(parsed.data.id);
    });
}

/** Nango strips `_nango_metadata` before saving (records read back through the API carry it). */
function withoutMetadata(records: readonly object[]): object[] {
    return records.map((record) => {
        if (!('_nango_metadata' in record)) {
            return record;
        }
        const { _nango_metadata: _dropped, ...rest } = record as Record<string, unknown>;
        return rest;
    });
}

function decode(body: Buffer, responseType: ProxyConfiguration['responseType']): unknown {
    if (responseType === 'arraybuffer') {
        return body;
    }
    const text = body.toString('utf8');
    if (responseType === 'text' || text === '') {
        return text;
    }
    // axios' default: JSON when it parses, the raw text otherwise.
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

function formatLogArg(arg: unknown): string {
    if (typeof arg === 'string') {
        return arg;
    }
    if (arg instanceof Error) {
        return arg.message;
    }
    // JSON.stringify returns undefined for undefined and functions, whatever its declared type says.
    const json = JSON.stringify(arg) as string | undefined;
    return json ?? String(arg);
}

/**
 * The part of Nango's NangoSync the `calls` sync uses, backed by the local store and the in-process
 * Clari proxy: `get` (through `proxy`), `batchSave`, `batchDelete`, `getRecordsByIds`, `listRecords`,
 * `deleteRecordsFromPreviousExecutions`, `getMetadata`, `log` and `lastSyncDate`. Everything else is
 * absent, so a sync that starts calling more fails here first (see runSync for the boundary cast).
 */
export class LocalNangoSync {
    readonly connectionId: string;
    readonly providerConfigKey: string;
    readonly lastSyncDate: Date | undefined;
    private metadata: Record<string, unknown> | undefined;

    constructor(private readonly ctx: LocalNangoContext) {
        this.connectionId = ctx.connectionId;
        this.providerConfigKey = ctx.providerConfigKey;
        this.lastSyncDate = ctx.lastSyncDate;
        this.metadata = ctx.metadata;
    }

    async proxy<T = unknown>(config: ProxyConfiguration): Promise<LocalProxyResponse<T>> {
        this.ctx.assertAlive();
        if (config.responseType === 'stream' || config.responseType === 'blob' || config.responseType === 'document') {
            throw new Error(`responseType ${config.responseType} is not supported by the local runner`);
        }
        const method = (config.method ?? 'GET').toUpperCase() as HttpMethod;
        const summary: RequestSummary = { method, url: `${config.baseUrlOverride ?? this.ctx.proxy.baseUrl}${config.endpoint}` };
        let response: ProxyResponse;
        try {
            response = await this.ctx.proxy.request({
                method,
                endpoint: config.endpoint,
                params: config.params,
                headers: config.headers,
                data: config.data,
                retries: config.retries,
                retryOn: config.retryOn,
                retryHeader: config.retryHeader,
                baseUrlOverride: config.baseUrlOverride,
                onAttempt: (attempt) => {
                    this.ctx.counts.requests++;
                    this.ctx.emit({
                        type: 'request',
                        method,
                        endpoint: config.endpoint,
                        attempt: attempt.attempt,
                        durationMs: attempt.durationMs,
                        ...(attempt.status !== undefined ? { status: attempt.status } : {}),
                        ...(attempt.errorCode !== undefined ? { errorCode: attempt.errorCode } : {})
                    });
                    if (attempt.willRetry) {
                        this.ctx.counts.retries++;
                        this.ctx.emit({
                            type: 'retry',
                            endpoint: config.endpoint,
                            attempt: attempt.attempt,
                            waitMs: attempt.waitMs,
                            ...(attempt.status !== undefined ? { status: attempt.status } : {}),
                            ...(attempt.errorCode !== undefined ? { errorCode: attempt.errorCode } : {})
                        });
                    }
                }
            });
        } catch (err) {
            if (err instanceof ProxyNetworkError) {
                throw new ProxyRequestError(err.code, err.message, summary);
            }
            throw err;
        }
        const data = decode(response.body, config.responseType);
        if (response.status < 200 || response.status >= 300) {
            throw new ProxyHttpError({ status: response.status, headers: response.headers, data, config: summary });
        }
        return {
            data: data as T,
            status: response.status,
            statusText: STATUS_CODES[response.status] ?? '',
            headers: response.headers,
            config: summary
        };
    }

    get<T = unknown>(config: Omit<ProxyConfiguration, 'method'>): Promise<LocalProxyResponse<T>> {
        return this.proxy<T>({ ...config, method: 'GET' });
    }

    async batchSave(records: object[], model: string): Promise<boolean> {
        this.ctx.assertAlive();
        if (records.length === 0) {
            return true;
        }
        recordIds(records, 'batchSave');
        const summary = await this.ctx.persist.saveRecords(this.connectionId, model, withoutMetadata(records), this.ctx.executionId);
        // Nango counts a re-saved deleted record as added.
        const added = summary.added.length + summary.undeleted.length;
        this.ctx.counts.added += added;
        this.ctx.counts.updated += summary.updated.length;
        this.ctx.counts.unchanged += summary.unchanged.length;
        this.ctx.emit({
            type: 'saved',
            model,
            count: records.length,
            added,
            updated: summary.updated.length,
            unchanged: summary.unchanged.length
        });
        return true;
    }

    async batchDelete(records: object[], model: string): Promise<boolean> {
        this.ctx.assertAlive();
        if (records.length === 0) {
            return true;
        }
        const { deletedKeys } = await this.ctx.persist.deleteRecords(
            this.connectionId,
            model,
            recordIds(records, 'batchDelete'),
            this.ctx.executionId
        );
        this.ctx.counts.deleted += deletedKeys.length;
        this.ctx.emit({ type: 'deleted', model, count: deletedKeys.length });
        return true;
    }

    /** Like Nango's runner: the records API with `ids`, 100 at a time, so deleted and pruned records come back as served. */
    async getRecordsByIds<K = string | number, T = unknown>(ids: K[], model: string): Promise<Map<K, T>> {
        const result = new Map<K, T>();
        for (let start = 0; start < ids.length; start += RECORDS_PAGE_SIZE) {
            const byString = new Map(ids.slice(start, start + RECORDS_PAGE_SIZE).map((id) => [String(id), id]));
            for await (const record of this.pages(model, { ids: [...byString.keys()] })) {
                const key = byString.get(record.id);
                if (key !== undefined) {
                    result.set(key, record as T);
                }
            }
        }
        return result;
    }

    /**
     * Every stored record of the model, deleted and pruned ones included, in the records API's order.
     * Nango's runner has offered this since 0.69.47; the 0.69.14 types (and `nango dryrun`) do not.
     */
    listRecords(model: string, options: { cursor?: string } = {}): AsyncGenerator<NangoRecord> {
        return this.pages(model, { cursor: options.cursor });
    }

    private async *pages(model: string, query: { cursor?: string | undefined; ids?: string[] }): AsyncGenerator<NangoRecord> {
        let cursor = query.cursor;
        do {
            this.ctx.assertAlive();
            const page = await this.ctx.persist.listRecords({
                connectionId: this.connectionId,
                model,
                limit: RECORDS_PAGE_SIZE,
                cursor,
                ids: query.ids
            });
            yield* page.records;
            cursor = page.next_cursor ?? undefined;
        } while (cursor !== undefined);
    }

    async deleteRecordsFromPreviousExecutions(model: string): Promise<{ deletedKeys: string[] }> {
        this.ctx.assertAlive();
        const result = await this.ctx.persist.deleteRecordsFromPreviousExecutions(this.connectionId, model, this.ctx.executionId);
        this.ctx.counts.deleted += result.deletedKeys.length;
        this.ctx.emit({ type: 'deleted', model, count: result.deletedKeys.length });
        return result;
    }

    async getMetadata<T = Record<string, unknown>>(): Promise<T> {
        this.ctx.assertAlive();
        this.metadata ??= await this.ctx.persist.getMetadata(this.connectionId, this.providerConfigKey);
        return this.metadata as T;
    }

    /** The sync's checkpoint (`sync:<sync name>`), or null when none is saved or it was cleared. */
    async getCheckpoint(): Promise<CheckpointValue | null> {
        this.ctx.assertAlive();
        return this.ctx.checkpoints.get();
    }

    /**
     * Saves the sync's checkpoint, refusing what Nango refuses. Past 80% of a bounded execution it then
     * throws RunInterruptedError, as Nango's Lambda runtime does: the run ends there and the next resumes.
     */
    async saveCheckpoint(checkpoint: Record<string, unknown>): Promise<void> {
        this.ctx.assertAlive();
        const saved = await this.ctx.checkpoints.save(checkpoint);
        if (this.ctx.limit.pastInterruptPoint) {
            const error = new RunInterruptedError(
                `interrupted at checkpoint ${JSON.stringify(saved)}: past ${((this.ctx.limit.timeoutMs ?? 0) * INTERRUPT_AT) / 1000} s ` +
                    'of the execution (NANGO_LOCAL_RUN_TIMEOUT_S); the next execution resumes from it'
            );
            this.ctx.onInterrupt(error);
            throw error;
        }
    }

    async clearCheckpoint(): Promise<void> {
        this.ctx.assertAlive();
        await this.ctx.checkpoints.clear();
    }

    /** Nango's log(...args): a trailing `{ level }` object sets the level (default info). */
    log(...args: unknown[]): Promise<void> {
        this.ctx.assertAlive();
        const last = args[args.length - 1];
        let level: LogLevel = 'info';
        if (args.length > 1 && last !== null && typeof last === 'object' && 'level' in last) {
            if (isLogLevel(last.level)) {
                level = last.level;
            }
            args = args.slice(0, -1);
        }
        this.ctx.emit({ type: 'log', level, message: args.map(formatLogArg).join(' ') });
        return Promise.resolve();
    }
}
