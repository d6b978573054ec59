import { generateSummary, topicNames } from './content.js';
import {
    DEFAULT_DATASET,
    OptionalField,
    awaitsProcessing,
    futureBusinessTime,
    generateDataset,
    generateRecord,
    hasContent,
    isMeetingType,
    type CallRecord,
    type CorruptionKind,
    type Dataset,
    type DatasetOptions
} from './dataset.js';
import { applyCorruption, buildCall, buildCallDetails, speakersOf, type MediaOptions, type PayloadContext } from './payloads.js';
import { BadRequestError, type ListQuery, type SortOrder } from './query.js';
import { Rng, hashInts } from './random.js';
import type { CallPayload } from './types.js';
import { DEAL_STAGES } from './workspace.js';

/** The emulator's in-memory store of calls: listing with Clari's filters and sorts, and the mutations tests drive. */

export const MUTATION_OPS = ['add', 'modify', 'lateProcess', 'delete', 'makePrivate', 'corrupt', 'reschedule', 'silentChange'] as const;
export type MutationOp = (typeof MUTATION_OPS)[number];

/** Each op takes a count (the emulator picks suitable calls) or explicit call ids; `add` only takes a count. */
export interface MutationRequest {
    add?: number | undefined;
    modify?: number | string[] | undefined;
    lateProcess?: number | string[] | undefined;
    delete?: number | string[] | undefined;
    makePrivate?: number | string[] | undefined;
    corrupt?: number | string[] | undefined;
    /** Default: alternates users-string and time-not-a-date. */
    corruptKind?: CorruptionKind | undefined;
    /** Moves each call's `time` (rescheduleBy, or rescheduleTo). A count picks public calls, past or future. */
    reschedule?: number | string[] | undefined;
    /** reschedule: milliseconds to move `time` by, negative for earlier. Default: one day earlier. */
    rescheduleBy?: number | undefined;
    /** reschedule: instead of rescheduleBy, a business hour 1 to 14 days after Clari's now. */
    rescheduleTo?: 'future' | undefined;
    /** reschedule: whether last_modified_time moves to now (default true; what real Clari does is unconfirmed). */
    rescheduleTouches?: boolean | undefined;
    /**
     * Changes details-only content (summary, deal_stage_live) without moving last_modified_time: a regenerated
     * summary, or a CRM deal that moved on. A count picks public past calls with a summary.
     */
    silentChange?: number | string[] | undefined;
}

export type MutationResult = Record<MutationOp, string[]>;

export interface TruthEntry {
    call: CallPayload;
    private: boolean;
}

const DAY_MS = 86_400_000;
/** A regenerated summary could in principle come out the same; a few retries make the change certain. */
const SUMMARY_REVISION_TRIES = 8;
/** Auto-picked corrupt calls sit at this position of the default listing: mid-page for any limit above it. */
const CORRUPT_LIST_POSITION = 10;

function compareBy(order: SortOrder | undefined, a: number, b: number): number {
    return order === 'asc' ? a - b : order === 'desc' ? b - a : 0;
}

interface SortKeys {
    time: SortOrder | undefined;
    processed: SortOrder | undefined;
}

/** Clari sorts by time desc unless told otherwise; sortProcessed alone sorts by last_modified_time only. */
function sortKeys(sortTime: SortOrder | undefined, sortProcessed: SortOrder | undefined): SortKeys {
    return { time: sortTime ?? (sortProcessed ? undefined : 'desc'), processed: sortProcessed };
}

function compareKeys(keys: SortKeys, a: CallRecord, b: CallRecord): number {
    return compareBy(keys.time, a.timeMs, b.timeMs) || compareBy(keys.processed, a.lastModifiedMs, b.lastModifiedMs);
}

function nextDealStage(stage: string): string {
    const index = DEAL_STAGES.findIndex((candidate) => candidate === stage);
    return DEAL_STAGES[(index + 1) % DEAL_STAGES.length] ?? stage;
}

export class CallStore {
    private dataset!: Dataset;
    private byId = new Map<string, CallRecord>();
    private nextSeq = 0;
    private mutationCount = 0;
    private sortCache = new Map<string, CallRecord[]>();

    /**
     * How far Clari's clock runs ahead of (positive) or behind (negative) the real one. Mutations stamp
     * last_modified_time with it, and the dataset's default "now" is on it.
     */
    clockOffsetMs: number;

    constructor(
        private readonly options: DatasetOptions = {},
        clockOffsetMs = 0
    ) {
        this.clockOffsetMs = clockOffsetMs;
        this.reset();
    }

    /** Clari's "now": the real clock plus the offset. */
    clariNow(): number {
        return Date.now() + this.clockOffsetMs;
    }

    /** Regenerates the initial dataset (same seed, size and "now"), dropping every mutation. */
    reset(): void {
        this.dataset = generateDataset({ ...this.options, now: this.options.now ?? new Date(this.clariNow()) });
        this.byId = new Map(this.dataset.records.map((record) => [record.id, record]));
        this.nextSeq = this.dataset.records.length;
        this.mutationCount = 0;
        this.sortCache.clear();
    }

    get seed(): number {
        return this.dataset.seed;
    }

    get nowMs(): number {
        return this.dataset.nowMs;
    }

    get context(): PayloadContext {
        return { seed: this.dataset.seed, workspace: this.dataset.workspace };
    }

    describe(): {
        seed: number;
        calls: number;
        months: number;
        ties: boolean;
        now: string;
        live: number;
        private: number;
        deleted: number;
    } {
        const records = this.dataset.records;
        return {
            seed: this.dataset.seed,
            calls: this.options.calls ?? DEFAULT_DATASET.calls,
            months: this.options.months ?? DEFAULT_DATASET.months,
            ties: this.options.ties ?? DEFAULT_DATASET.ties,
            now: new Date(this.dataset.nowMs).toISOString(),
            live: records.filter((record) => !record.deleted).length,
            private: records.filter((record) => !record.deleted && record.isPrivate).length,
            deleted: records.filter((record) => record.deleted).length
        };
    }

    /** Any call the store knows, deleted or private included (control API only). */
    find(id: string): CallRecord | undefined {
        return this.byId.get(id);
    }

    /** What /call-details may serve: deleted and private calls answer 404. */
    findVisible(id: string): CallRecord | undefined {
        const record = this.byId.get(id);
        return record && !record.deleted && !record.isPrivate ? record : undefined;
    }

    listPayload(record: CallRecord, media?: MediaOptions): CallPayload {
        return applyCorruption(record, buildCall(this.context, record, media));
    }

    detailsPayload(record: CallRecord, media?: MediaOptions): CallPayload {
        return applyCorruption(record, buildCallDetails(this.context, record, media));
    }

    /** Live calls in the requested order; ties always broken by id so paging is deterministic. */
    sorted(sortTime?: SortOrder, sortProcessed?: SortOrder): CallRecord[] {
        const keys = sortKeys(sortTime, sortProcessed);
        const cacheKey = `${keys.time ?? ''}|${keys.processed ?? ''}`;
        let sorted = this.sortCache.get(cacheKey);
        if (!sorted) {
            sorted = this.dataset.records
                .filter((record) => !record.deleted)
                .sort((a, b) => compareKeys(keys, a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
            this.sortCache.set(cacheKey, sorted);
        }
        return sorted;
    }

    /**
     * Every call matching the query's filters, in the query's order (before skip/limit). With a `tieSalt`, calls
     * whose sort keys are equal come in an order drawn from the salt instead of by id, as a database without a
     * tie-breaker may order them differently on every query.
     */
    list(query: ListQuery, tieSalt?: number): CallRecord[] {
        const listed = this.sorted(query.sortTime, query.sortProcessed).filter((record) => this.matches(record, query));
        return tieSalt === undefined ? listed : this.shuffleTies(listed, sortKeys(query.sortTime, query.sortProcessed), tieSalt);
    }

    private shuffleTies(records: CallRecord[], keys: SortKeys, salt: number): CallRecord[] {
        const draw = (record: CallRecord): number => hashInts(this.seed, salt, record.seq);
        let start = 0;
        for (let end = 1; end <= records.length; end++) {
            const first = records[start];
            const next = records[end];
            if (first !== undefined && next !== undefined && compareKeys(keys, first, next) === 0) {
                continue;
            }
            if (end - start > 1) {
                const run = records.slice(start, end).sort((a, b) => draw(a) - draw(b) || a.seq - b.seq);
                records.splice(start, run.length, ...run);
            }
            start = end;
        }
        return records;
    }

    private matches(record: CallRecord, query: ListQuery): boolean {
        const account = this.dataset.workspace.accounts[record.accountIdx];
        const duration = hasContent(record.status) ? record.durationSec : 0;
        const userEmails = (): string[] => record.userIdxs.map((index) => this.dataset.workspace.users[index]?.email.toLowerCase() ?? '');
        const attendeeEmails = (): string[] =>
            isMeetingType(record.type)
                ? record.invitedContactIdxs.map((index) => account?.contacts[index]?.email?.toLowerCase() ?? '')
                : [];
        return (
            (query.includePrivate || !record.isPrivate) &&
            (query.timeGt === undefined || record.timeMs > query.timeGt) &&
            (query.timeLt === undefined || record.timeMs < query.timeLt) &&
            (query.modifiedGt === undefined || record.lastModifiedMs > query.modifiedGt) &&
            (query.modifiedLt === undefined || record.lastModifiedMs < query.modifiedLt) &&
            (query.durationGt === undefined || duration > query.durationGt) &&
            (query.durationLt === undefined || duration < query.durationLt) &&
            (query.statuses === undefined || query.statuses.has(record.status)) &&
            (query.types === undefined || query.types.has(record.type)) &&
            (query.sourceIds === undefined || (record.sourceId !== undefined && query.sourceIds.has(record.sourceId))) &&
            (query.users === undefined || userEmails().some((email) => query.users?.has(email))) &&
            (query.attendees === undefined || attendeeEmails().some((email) => query.attendees?.has(email))) &&
            (query.topics === undefined ||
                (hasContent(record.status) && topicNames(this.seed, record).some((topic) => query.topics?.has(topic.toLowerCase()))))
        );
    }

    /** Ground truth for tests: live calls in the default order, with full details (no media URLs). */
    truth(includePrivate: boolean, withDetails: boolean): TruthEntry[] {
        return this.sorted()
            .filter((record) => includePrivate || !record.isPrivate)
            .map((record) => ({
                call: withDetails ? this.detailsPayload(record) : this.listPayload(record),
                private: record.isPrivate
            }));
    }

    /**
     * Rejects a request that cannot apply as a whole (unknown ids, conflicting options) without changing anything,
     * so a queued mutation can be refused when it is queued rather than when it falls due.
     */
    check(request: MutationRequest): void {
        const rescheduleOptions = [request.rescheduleBy, request.rescheduleTo, request.rescheduleTouches];
        if (request.reschedule === undefined && rescheduleOptions.some((option) => option !== undefined)) {
            throw new BadRequestError('rescheduleBy, rescheduleTo and rescheduleTouches need reschedule');
        }
        if (request.rescheduleBy !== undefined && request.rescheduleTo !== undefined) {
            throw new BadRequestError('give rescheduleBy or rescheduleTo, not both');
        }
        for (const op of MUTATION_OPS) {
            const wanted = request[op];
            if (Array.isArray(wanted)) {
                wanted.forEach((id) => this.requireLive(op, id));
            }
        }
        for (const id of Array.isArray(request.silentChange) ? request.silentChange : []) {
            const record = this.requireLive('silentChange', id);
            if (!hasContent(record.status) && !this.hasDeal(record)) {
                throw new BadRequestError(`silentChange: call "${id}" has neither a summary nor a deal stage to change`);
            }
        }
    }

    private hasDeal(record: CallRecord): boolean {
        return (record.fields & OptionalField.deal) !== 0 && this.dataset.workspace.accounts[record.accountIdx]?.deal !== undefined;
    }

    /** Applies mutations at Clari's "now" (real clock plus offset), so last_modified_time keeps moving forward between runs. */
    mutate(request: MutationRequest, nowMs = this.clariNow()): MutationResult {
        this.check(request);
        const rng = new Rng(this.seed, 0x6d7574, this.mutationCount++);
        const taken = new Set<string>();
        const pick = (op: MutationOp, wanted: number | string[] | undefined, eligible: (record: CallRecord) => boolean): CallRecord[] => {
            if (wanted === undefined) {
                return [];
            }
            const chosen = Array.isArray(wanted)
                ? wanted.map((id) => this.requireLive(op, id))
                : this.choose(rng, wanted, eligible, taken, op, nowMs);
            chosen.forEach((record) => taken.add(record.id));
            return chosen;
        };
        const pastPublic = (record: CallRecord): boolean => !record.isPrivate && record.timeMs < nowMs;

        // Pick every op's calls before changing anything, so ops in one request never touch the same call.
        const toModify = pick('modify', request.modify, pastPublic);
        const toProcess = pick('lateProcess', request.lateProcess, (record) => pastPublic(record) && awaitsProcessing(record.status));
        const toCorrupt = pick('corrupt', request.corrupt, (record) => !record.isPrivate);
        const toDelete = pick('delete', request.delete, pastPublic);
        const toHide = pick('makePrivate', request.makePrivate, pastPublic);
        const toReschedule = pick('reschedule', request.reschedule, (record) => !record.isPrivate);
        const toChangeSilently = pick('silentChange', request.silentChange, (record) => pastPublic(record) && hasContent(record.status));

        const added = Array.from({ length: request.add ?? 0 }, () => {
            const record = generateRecord(this.seed, this.dataset.workspace, this.nextSeq++, { kind: 'added', nowMs }, this.options.ties);
            this.dataset.records.push(record);
            this.byId.set(record.id, record);
            return record;
        });
        toModify.forEach((record) => {
            record.contentVersion += 1;
            record.title = `${record.title.replace(/ \(rev \d+\)$/, '')} (rev ${record.contentVersion})`;
            record.fields |= OptionalField.account | OptionalField.crmInfo; // e.g. the call got matched to a CRM account
            record.lastModifiedMs = nowMs;
        });
        toProcess.forEach((record) => {
            record.status = 'POST_PROCESSING_DONE';
            record.disposition = 'CALL_CONNECTED_WITH_PROSPECT';
            record.hasRecording = true;
            record.durationSec = record.durationSec || 1800;
            if (record.joinedContactIdxs.length === 0) {
                record.joinedContactIdxs = record.invitedContactIdxs.slice(0, 1);
            }
            record.contentVersion += 1;
            record.lastModifiedMs = nowMs;
        });
        toCorrupt.forEach((record, index) => {
            record.corruption = request.corruptKind ?? (index % 2 === 0 ? 'users-string' : 'time-not-a-date');
            record.contentVersion += 1;
            record.lastModifiedMs = nowMs;
        });
        toDelete.forEach((record) => (record.deleted = true));
        toHide.forEach((record) => (record.isPrivate = true));
        toReschedule.forEach((record) => {
            record.timeMs =
                request.rescheduleTo === 'future'
                    ? futureBusinessTime(rng, nowMs)
                    : Math.max(0, record.timeMs + (request.rescheduleBy ?? -DAY_MS));
            if (request.rescheduleTouches ?? true) {
                record.lastModifiedMs = nowMs;
            }
        });
        toChangeSilently.forEach((record) => {
            this.changeSilently(record);
        });
        // Every op above can move a call between positions of some sort order.
        this.sortCache.clear();

        const ids = (records: CallRecord[]): string[] => records.map((record) => record.id);
        return {
            add: ids(added),
            modify: ids(toModify),
            lateProcess: ids(toProcess),
            delete: ids(toDelete),
            makePrivate: ids(toHide),
            corrupt: ids(toCorrupt),
            reschedule: ids(toReschedule),
            silentChange: ids(toChangeSilently)
        };
    }

    private changeSilently(record: CallRecord): void {
        const account = this.dataset.workspace.accounts[record.accountIdx];
        if (this.hasDeal(record) && account?.deal) {
            record.dealStageLive = nextDealStage(record.dealStageLive ?? account.deal.stageLive);
        }
        if (!hasContent(record.status) || !account) {
            return;
        }
        const summary = (): string => JSON.stringify(generateSummary(this.seed, record, speakersOf(this.context, record), account.name));
        const before = summary();
        for (let attempt = 0; attempt < SUMMARY_REVISION_TRIES; attempt++) {
            record.summaryRevision = (record.summaryRevision ?? 0) + 1;
            if (summary() !== before) {
                return;
            }
        }
    }

    private requireLive(op: MutationOp, id: string): CallRecord {
        const record = this.byId.get(id);
        if (!record || record.deleted) {
            throw new BadRequestError(`${op}: no live call with id "${id}"`);
        }
        return record;
    }

    private choose(
        rng: Rng,
        count: number,
        eligible: (record: CallRecord) => boolean,
        taken: ReadonlySet<string>,
        op: MutationOp,
        nowMs: number
    ): CallRecord[] {
        const candidates = this.sorted().filter((record) => !taken.has(record.id) && eligible(record));
        if (op === 'corrupt') {
            return candidates.slice(CORRUPT_LIST_POSITION, CORRUPT_LIST_POSITION + count);
        }
        if (op === 'lateProcess') {
            // Prefer calls that happened well before "now": the case a sync filtering on call time misses.
            const older = candidates.filter((record) => record.timeMs < nowMs - DAY_MS);
            return rng.sample(older.length >= count ? older : candidates, count);
        }
        return rng.sample(candidates, count);
    }
}
