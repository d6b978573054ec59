import type { NangoSync } from '../models.js';
import type { RequestsPaused } from './budget.js';
import type { ClariClient } from './clari-client.js';
import type { Turns } from './concurrency.js';
import { CALL_MODEL } from './constants.js';
import type { VanishedCallsPass } from './deletes.js';
import { fetchCallDetails, type DetailsOutcome } from './details.js';
import type { InvalidCall } from './list-page.js';
import type { ListedPage } from './listing.js';
import { toCallRecord } from './mapper.js';
import type { SyncOptions } from './options.js';
import type { RunPlan } from './plan.js';
import { PageSaves } from './page-saves.js';
import { formatPage } from './run-report.js';
import type { RunStats } from './run-stats.js';
import type { RawCall } from './schemas.js';
import { compareWithStored, readStoredCalls, sameCallContent, type StoredCall } from './stored-calls.js';
import type { SyncMemory } from './sync-memory.js';

/**
 * Details requests the daily refresh may spend in one run. Sized to Clari's budget: 400 a day is 2.8% of
 * its 100,000 requests a week, and covers the last 7 days of a workspace that records 20,000 calls a year;
 * a bigger one gets its newest calls refreshed, as far back as the cap reaches. A smaller weekly budget
 * shrinks it in proportion (6% of the week, spread over its days), since the refresh lists as changes do.
 */
export const REFRESH_REQUESTS_PER_RUN = 400;
const REFRESH_BUDGET_SHARE = 0.06;

export function refreshRequestsPerRun(weeklyRequestBudget: number): number {
    return Math.min(REFRESH_REQUESTS_PER_RUN, Math.floor((REFRESH_BUDGET_SHARE * weeklyRequestBudget) / 7));
}

/** Everything one run's pages share. */
export interface SyncRun {
    nango: NangoSync;
    client: ClariClient;
    options: SyncOptions;
    plan: RunPlan;
    stats: RunStats;
    memory: SyncMemory;
    deletes: VanishedCallsPass | null;
    /** Calls whose details this run already has: a call listed by two windows is refreshed once. */
    fetchedIds: Set<string>;
    refreshRequestsLeft: number;
    /** Whose turn it is to request details: one page at a time, in the order they were listed. */
    detailsTurns: Turns;
    /** Set when a page could not ask Clari for every call it needed: the run stops listing, keeping what it has. */
    pause: RequestsPaused | null;
}

export function detailsConcurrency(options: SyncOptions): number {
    return Math.min(20, Math.ceil(options.maxRequestsPerSecond));
}

/**
 * One listed page, start to finish: skip calls whose stored copy is current, fetch details for the
 * rest (and for recent calls when the daily refresh is due), save what changed in parts as it arrives, delete
 * calls Clari no longer serves. During a reconciliation the page also tells the delete pass which calls
 * it listed.
 */
export async function syncPage(run: SyncRun, page: ListedPage): Promise<{ complete: boolean }> {
    const { nango, stats } = run;
    await reportInvalid(nango, page.invalid, 'listed', stats);
    const listedIds = [...page.calls.map((call) => call.id), ...page.invalid.flatMap((invalid) => (invalid.id ? [invalid.id] : []))];
    run.deletes?.noteListed(listedIds);
    const stored = await readStoredCalls(nango, listedIds);
    const { toFetch, unchanged, prunedCurrent } = await chooseCallsToFetch(run, page.calls, stored);

    // Pages take turns for their details, so that one page's requests all come before the next page's: the
    // page then finishes and saves while the next one keeps the rate limiter busy. Sharing the limiter
    // evenly, both would finish together, and Clari's rate would idle while they save and the next are listed.
    const turn = await run.detailsTurns.take();
    const saves = new PageSaves(nango);
    let outcomes: DetailsOutcome[];
    try {
        outcomes = await fetchCallDetails(run.client, toFetch, {
            includeMedia: run.options.includeMedia,
            concurrency: detailsConcurrency(run.options),
            onAllStarted: turn.leave,
            onOutcomeInOrder: (outcome) => {
                const record = recordToSave(outcome, stored);
                if (record) {
                    saves.add(record);
                }
            }
        });
    } catch (error) {
        await saves.abandon();
        throw error;
    } finally {
        turn.leave();
    }
    const { fetchedIds, goneIds, paused } = await takeOutcomes(run, outcomes);

    if (run.deletes?.resavesStored) {
        // This delete pass removes every record the run does not save, so re-save what is stored and still
        // listed but was not saved again: unchanged calls, and calls whose new version failed to load. A
        // pruned payload cannot be re-saved (that would publish an empty record), so it is counted instead.
        for (const id of new Set(listedIds)) {
            const storedCall = stored.get(id);
            if (!storedCall || saves.has(id) || goneIds.includes(id)) {
                continue;
            }
            if (storedCall.kind === 'full') {
                saves.add(storedCall.record);
            } else {
                stats.prunedInTheWay++;
            }
        }
    }

    const saved = await saves.finish();
    stats.saved += saved;
    await nango.log(
        formatPage({
            listed: page.calls.length,
            unchanged,
            pruned: prunedCurrent,
            fetched: fetchedIds.size,
            saved,
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
    return { complete: paused === 0 };
}

async function chooseCallsToFetch(
    run: SyncRun,
    calls: readonly RawCall[],
    stored: ReadonlyMap<string, StoredCall>
): Promise<{ toFetch: string[]; unchanged: number; prunedCurrent: number }> {
    const { stats, memory } = run;
    const toFetch: string[] = [];
    const deferred: string[] = [];
    let unchanged = 0;
    let prunedCurrent = 0;
    for (const call of calls) {
        const verdict = compareWithStored(stored.get(call.id), call.last_modified_time ?? null, memory.prunedAllowanceMs);
        if (verdict === 'pruned-current') {
            // Nothing to compare a refreshed copy with: saving it could publish a change that is not one.
            prunedCurrent++;
        } else if (memory.hasFailedToday(call.id) && (verdict === 'changed' || isRefreshDue(run, call))) {
            deferred.push(call.id);
        } else if (verdict === 'changed') {
            toFetch.push(call.id);
        } else if (isRefreshDue(run, call) && run.refreshRequestsLeft > 0) {
            run.refreshRequestsLeft--;
            stats.refreshed++;
            toFetch.push(call.id);
        } else {
            unchanged++;
        }
    }
    stats.unchangedSkipped += unchanged;
    stats.prunedSkipped += prunedCurrent;
    if (deferred.length > 0) {
        stats.deferred += deferred.length;
        await run.nango.log(`Not asking again today for ${deferred.length} call(s) Clari failed on earlier today: ${deferred.join(', ')}`, {
            level: 'warn'
        });
    }
    return { toFetch, unchanged, prunedCurrent };
}

function isRefreshDue(run: SyncRun, call: RawCall): boolean {
    const { refreshAfter } = run.plan;
    return refreshAfter !== null && Date.parse(call.time) > refreshAfter.getTime() && !run.fetchedIds.has(call.id);
}

/**
 * The record a fetched call is saved as, or null. A refreshed call that did not change is not saved: a new
 * signed media URL alone would publish an UPDATED record that Clari did not cause.
 */
function recordToSave(outcome: DetailsOutcome, stored: ReadonlyMap<string, StoredCall>): { id: string } | null {
    if (outcome.kind !== 'fetched') {
        return null;
    }
    const record = toCallRecord(outcome.call);
    const storedCall = stored.get(outcome.id);
    return storedCall?.kind === 'full' && sameCallContent(record, storedCall.record) ? null : record;
}

/** Counts the details outcomes, logging every call that does not become a record. */
async function takeOutcomes(
    run: SyncRun,
    outcomes: readonly DetailsOutcome[]
): Promise<{ fetchedIds: Set<string>; goneIds: string[]; paused: number }> {
    const { nango, stats, memory } = run;
    const fetchedIds = new Set<string>();
    const goneIds: string[] = [];
    let paused = 0;
    stats.detailsAttempted += outcomes.length;
    for (const outcome of outcomes) {
        if (outcome.kind === 'fetched') {
            fetchedIds.add(outcome.id);
            run.fetchedIds.add(outcome.id);
            memory.noteDetails(outcome.call.last_modified_time, outcome.requestedAtMs);
        } else if (outcome.kind === 'gone') {
            goneIds.push(outcome.id);
        } else if (outcome.kind === 'invalid') {
            await reportInvalid(nango, [outcome], 'details', stats);
        } else if (outcome.kind === 'paused') {
            // Not asked for: a later run lists it again, as its page is not recorded as done.
            paused++;
            run.pause ??= outcome.pause;
        } else {
            stats.failed++;
            memory.noteFailed(outcome.id);
            await nango.log(`Skipped call ${outcome.id} for now (later runs retry it, at most once a day): ${outcome.reason}`, {
                level: 'error'
            });
        }
    }
    stats.detailsFetched += fetchedIds.size;
    stats.detailsAttempted -= paused;
    return { fetchedIds, goneIds, paused };
}

export async function reportInvalid(nango: NangoSync, invalid: readonly InvalidCall[], where: string, stats: RunStats): Promise<void> {
    for (const call of invalid) {
        stats.invalid++;
        await nango.log(`Skipped invalid call ${call.id ?? '(no id)'} from ${where}: ${call.reason}`, { level: 'warn' });
    }
}
