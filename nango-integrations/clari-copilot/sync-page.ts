import type { NangoSync } from '../models.js';
import type { ClariClient } from './clari-client.js';
import type { VanishedCallsPass } from './deletes.js';
import { fetchCallDetails } from './details.js';
import type { InvalidCall } from './list-page.js';
import type { ListedPage } from './listing.js';
import { CALL_MODEL } from './constants.js';
import { toCallRecord } from './mapper.js';
import type { SyncOptions } from './options.js';
import { formatPage } from './run-report.js';
import type { RunStats } from './run-stats.js';
import { compareWithStored, readStoredCalls } from './stored-calls.js';

/**
 * One listed page, start to finish: skip calls whose stored copy is current, fetch details for the
 * rest, save them in one batch, delete calls Clari no longer serves. During a reconciliation the page
 * also tells the delete pass which calls it listed.
 */
export async function syncPage(
    nango: NangoSync,
    client: ClariClient,
    page: ListedPage,
    options: SyncOptions,
    stats: RunStats,
    deletes: VanishedCallsPass | null
): Promise<void> {
    await reportInvalid(nango, page.invalid, 'listed', stats);
    const listedIds = [...page.calls.map((call) => call.id), ...page.invalid.flatMap((invalid) => (invalid.id ? [invalid.id] : []))];
    deletes?.noteListed(listedIds);
    const stored = await readStoredCalls(nango, listedIds);
    const changed: typeof page.calls = [];
    let unchanged = 0;
    let prunedCurrent = 0;
    for (const call of page.calls) {
        const verdict = compareWithStored(stored.get(call.id), call.last_modified_time ?? null);
        if (verdict === 'changed') {
            changed.push(call);
        } else if (verdict === 'unchanged') {
            unchanged++;
        } else {
            prunedCurrent++;
        }
    }
    stats.unchangedSkipped += unchanged;
    stats.prunedSkipped += prunedCurrent;

    const outcomes = await fetchCallDetails(
        client,
        changed.map((call) => call.id),
        { includeMedia: options.includeMedia, concurrency: Math.min(20, Math.ceil(options.maxRequestsPerSecond)) }
    );
    const fetchedIds = new Set<string>();
    const records: { id: string }[] = [];
    const goneIds: string[] = [];
    for (const outcome of outcomes) {
        if (outcome.kind === 'fetched') {
            fetchedIds.add(outcome.id);
            records.push(toCallRecord(outcome.call));
        } else if (outcome.kind === 'gone') {
            goneIds.push(outcome.id);
        } else if (outcome.kind === 'invalid') {
            await reportInvalid(nango, [outcome], 'details', stats);
        } else {
            stats.failed++;
            await nango.log(`Skipped call ${outcome.id} for now: ${outcome.reason}`, { level: 'error' });
        }
    }
    stats.detailsFetched += fetchedIds.size;

    if (deletes?.resavesStored) {
        // This delete pass removes every record the run does not save, so re-save what is stored and still
        // listed but was not re-fetched: unchanged calls, and calls whose new version failed to load. A pruned
        // payload cannot be re-saved (that would publish an empty record), so it is counted instead.
        for (const id of new Set(listedIds)) {
            const storedCall = stored.get(id);
            if (!storedCall || fetchedIds.has(id) || goneIds.includes(id)) {
                continue;
            }
            if (storedCall.kind === 'full') {
                records.push(storedCall.record);
            } else {
                stats.prunedInTheWay++;
            }
        }
    }

    if (records.length > 0) {
        await nango.batchSave(records, CALL_MODEL);
        stats.saved += records.length;
    }
    await nango.log(
        formatPage({
            listed: page.calls.length,
            unchanged,
            pruned: prunedCurrent,
            fetched: fetchedIds.size,
            saved: records.length,
            invalid: page.invalid.length,
            gone: goneIds.length
        })
    );
    if (goneIds.length > 0) {
        await nango.batchDelete(
            goneIds.map((id) => ({ id })),
            CALL_MODEL
        );
        stats.deleted += goneIds.length;
        await nango.log(`Deleted ${goneIds.length} call(s) Clari no longer serves (404): ${goneIds.join(', ')}`);
    }
}

async function reportInvalid(nango: NangoSync, invalid: readonly InvalidCall[], where: string, stats: RunStats): Promise<void> {
    for (const call of invalid) {
        stats.invalid++;
        await nango.log(`Skipped invalid call ${call.id ?? '(no id)'} from ${where}: ${call.reason}`, { level: 'warn' });
    }
}
