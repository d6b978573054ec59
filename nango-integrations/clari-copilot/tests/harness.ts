import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NangoSyncMock } from 'nango/test';
import { vi } from 'vitest';
import type { NangoSync } from '../../models.js';
import type { CheckpointValue } from '../checkpoint.js';
import { parseReportLine, type ReportLine, type RunSummary } from '../run-report.js';
import fetchData from '../syncs/calls.js';
import { FakeClari, type RawPayload } from './fake-clari.js';

export const integrationDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface HarnessOptions {
    calls?: RawPayload[];
    metadata?: unknown;
    lastSyncDate?: Date;
    /** Records already in Nango's store, by id. */
    stored?: Record<string, unknown>[];
    /** Give the mock the `listRecords` of Nango's current runner (NangoSyncMock 0.69.14 has none, like `nango dryrun`). */
    listRecords?: boolean;
    /** Give the mock the checkpoint methods of Nango's current runner, starting from this checkpoint (null: none saved). */
    checkpoint?: CheckpointValue | null;
}

/**
 * Nango's own NangoSyncMock, wired to a FakeClari for the API and to an in-memory record store, so
 * that a test can run the real sync function and inspect what it asked for and what it saved.
 */
export function createHarness(options: HarnessOptions = {}) {
    const nango = new NangoSyncMock({ dirname: integrationDir, name: 'calls', Model: 'Call' });
    const clari = new FakeClari(options.calls ?? []);
    const store = new Map<string, Record<string, unknown>>();
    for (const record of options.stored ?? []) {
        store.set(String(record['id']), record);
    }
    const savedBatches: Record<string, unknown>[][] = [];
    const deletedIds: string[] = [];
    /** Ids whose saved data differed from what was stored: what Nango publishes as ADDED or UPDATED. */
    const changedIds: string[] = [];
    let checkpoint: CheckpointValue | null = options.checkpoint ?? null;
    if (options.checkpoint !== undefined) {
        Object.assign(nango, {
            getCheckpoint: () => Promise.resolve(checkpoint === null ? null : { ...checkpoint }),
            saveCheckpoint: (value: CheckpointValue) => {
                checkpoint = { ...value };
                return Promise.resolve();
            }
        });
    }
    const events: string[] = [];

    nango.get.mockImplementation((config: { endpoint: string }) => {
        events.push(`GET ${config.endpoint}`);
        return clari.get(config);
    });
    nango.getMetadata.mockResolvedValue(options.metadata ?? {});
    nango.getRecordsByIds.mockImplementation((ids: string[]) =>
        Promise.resolve(new Map(ids.flatMap((id) => (store.has(id) ? [[id, store.get(id)] as const] : []))))
    );
    nango.batchSave.mockImplementation((records: Record<string, unknown>[]) => {
        events.push(`save ${records.length}`);
        savedBatches.push(records);
        for (const record of records) {
            const id = String(record['id']);
            const before = store.get(id);
            const metadata = asObject(before?.['_nango_metadata']);
            const { _nango_metadata: _old, ...previous } = before ?? {};
            // As Nango does: a save whose data is unchanged keeps last_modified_at, and restores a pruned payload.
            const changed = before === undefined || JSON.stringify(previous) !== JSON.stringify(record);
            const now = new Date().toISOString();
            store.set(id, {
                ...record,
                _nango_metadata: {
                    ...metadata,
                    first_seen_at: metadata['first_seen_at'] ?? now,
                    last_modified_at: changed ? now : (metadata['last_modified_at'] ?? now),
                    last_action: before === undefined ? 'ADDED' : changed ? 'UPDATED' : metadata['last_action'],
                    deleted_at: null,
                    pruned_at: null
                }
            });
            if (changed) {
                changedIds.push(id);
            }
        }
        return Promise.resolve(true);
    });
    nango.batchDelete.mockImplementation((records: { id: string }[]) => {
        deletedIds.push(...records.map((record) => record.id));
        for (const { id } of records) {
            const record = store.get(id);
            if (record) {
                // Soft delete, as Nango does: the record stays, served with deleted_at.
                store.set(id, {
                    ...record,
                    _nango_metadata: { ...asObject(record['_nango_metadata']), deleted_at: new Date().toISOString() }
                });
            }
        }
        return Promise.resolve(true);
    });
    if (options.listRecords) {
        Object.assign(nango, {
            listRecords: async function* listRecords(): AsyncGenerator<Record<string, unknown>> {
                // A snapshot, like pages read one after another from Nango's records API.
                yield* [...store.values()];
                await Promise.resolve();
            }
        });
    }
    nango.deleteRecordsFromPreviousExecutions.mockResolvedValue({ deletedKeys: [] });
    if (options.lastSyncDate) {
        Object.assign(nango, { lastSyncDate: options.lastSyncDate });
    }

    const logs = (): string[] => nango.log.mock.calls.map((call: unknown[]) => String(call[0]));
    const report = (): ReportLine[] => logs().flatMap((line) => parseReportLine(line) ?? []);
    return {
        nango,
        clari,
        store,
        savedBatches,
        deletedIds,
        changedIds,
        checkpoint: (): CheckpointValue | null => checkpoint,
        /** Forgets what the previous run asked and logged (the store and the checkpoint stay), for a test of several runs. */
        startNextRun: (): void => {
            nango.log.mockClear();
            nango.batchDelete.mockClear();
            clari.requests.length = 0;
            savedBatches.length = 0;
            deletedIds.length = 0;
            changedIds.length = 0;
            events.length = 0;
        },
        /** The next run sees this as `nango.lastSyncDate`. */
        setLastSyncDate: (date: Date): void => {
            Object.assign(nango, { lastSyncDate: date });
        },
        /** Nango's pruning daemon: every live record keeps its id and metadata only. */
        pruneAll: (): void => {
            for (const [id, record] of store) {
                const metadata = asObject(record['_nango_metadata']);
                if (!metadata['deleted_at']) {
                    store.set(id, { id, _nango_metadata: { ...metadata, pruned_at: new Date().toISOString() } });
                }
            }
        },
        events,
        logs,
        savedIds: (): string[] => savedBatches.flat().map((record) => String(record['id'])),
        /** The run report's lines, in the order logged. */
        report,
        /** The run's summary line, read; the test fails when the run logged none. */
        summary: (): RunSummary => {
            const summary = report().find((line) => line.type === 'summary');
            if (!summary) {
                throw new Error(`the sync logged no summary line:\n${logs().join('\n')}`);
            }
            return summary;
        },
        /** Runs the real sync; under vi.useFakeTimers it also fires the timers, so its waits take no wall-clock time. */
        run: (): Promise<void> => {
            // NangoSyncMock implements the parts of NangoSync a sync uses; the cast is the only bridge.
            const run = fetchData(nango as unknown as NangoSync);
            return vi.isFakeTimers() ? settleOnFakeTimers(run) : run;
        }
    };
}

function asObject(value: unknown): Record<string, unknown> {
    return typeof value === 'object' && value !== null ? { ...value } : {};
}

/** A stored record as Nango serves it once its payload is pruned: the id and metadata alone. */
export function prunedRecord(id: string, storedAt: Date): Record<string, unknown> {
    return {
        id,
        _nango_metadata: {
            first_seen_at: storedAt.toISOString(),
            last_modified_at: storedAt.toISOString(),
            last_action: 'ADDED',
            deleted_at: null,
            pruned_at: new Date().toISOString(),
            cursor: Buffer.from(`${storedAt.toISOString()}||1`).toString('base64')
        }
    };
}

/**
 * Fires fake timers one due time at a time until `work` settles. Each step first lets pending promise
 * chains run, so a timer fires only once everything it could race with is waiting too. That holds while
 * the work waits on nothing but timers and promises, as here (Nango and Clari are in memory); with real
 * I/O in flight, a request timeout would fire before the answer.
 */
async function settleOnFakeTimers<T>(work: Promise<T>): Promise<T> {
    // Set from callbacks, which flow analysis does not see.
    let settled = false as boolean;
    work.then(
        () => (settled = true),
        () => (settled = true)
    );
    while (!settled) {
        await vi.advanceTimersToNextTimerAsync();
    }
    return work;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export function daysAgo(days: number, from: number = Date.now()): Date {
    return new Date(from - days * DAY_MS);
}
