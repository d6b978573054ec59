import { Rng, hashInts, hex8 } from './random.js';
import type { BotNotJoinReason, CallDisposition, CallStatus, CallType } from './types.js';
import { createWorkspace, type Workspace } from './workspace.js';

/**
 * Deterministic dataset: a compact record per call (a few hundred bytes). Payloads, transcripts and summaries are
 * derived from a record on demand (see payloads.ts / content.ts), so 20,000 calls fit comfortably in memory.
 */

export interface DatasetOptions {
    /** Calls in the past, spread over `months` (default 2000). */
    calls?: number;
    seed?: number;
    /** How far back past calls go (default 15: about 20% are older than a year). */
    months?: number;
    /** The dataset's "now" (default: when the emulator is created). Mutations always use the real clock. */
    now?: Date;
    /** Extra SCHEDULED calls in the next two weeks, on top of `calls` (default 8). */
    scheduledCalls?: number;
    /**
     * Snap every call time to the hour or half past (default false), so many calls share a `time` the way calendar
     * calls do. Everything else about the dataset stays as without it.
     */
    ties?: boolean;
}

export type CorruptionKind = 'users-string' | 'time-not-a-date';

/** Optional payload fields; real responses omit them (rather than send null) when unknown. */
export const OptionalField = {
    calendar: 1,
    recurring: 2,
    account: 4,
    deal: 8,
    crmInfo: 16,
    contactNames: 32,
    bookmarks: 64
} as const;

export interface CallRecord {
    id: string;
    /** Creation order; with the seed it determines everything not stored here. */
    seq: number;
    timeMs: number;
    durationSec: number;
    lastModifiedMs: number;
    status: CallStatus;
    type: CallType;
    disposition: CallDisposition;
    botNotJoinReasons?: BotNotJoinReason[];
    title: string;
    /** Indexes into workspace.users; the first one organised the call. */
    userIdxs: number[];
    accountIdx: number;
    /** Indexes into the account's contacts: invited, and (subset) joined. */
    invitedContactIdxs: number[];
    joinedContactIdxs: number[];
    sourceId?: string;
    fields: number;
    personIdStyle: 'number' | 'string';
    timestampStyle: 'number' | 'string' | 'nan-mixed';
    hasRecording: boolean;
    isPrivate: boolean;
    deleted: boolean;
    /** Bumped whenever the call changes, so regenerated transcript/summary change too. */
    contentVersion: number;
    corruption?: CorruptionKind;
    /** Bumped by a silent change: a regenerated summary that does not move last_modified_time. */
    summaryRevision?: number;
    /** Set by a silent change: the CRM deal moved on, for this call's details only. */
    dealStageLive?: string;
}

export interface Dataset {
    seed: number;
    nowMs: number;
    workspace: Workspace;
    records: CallRecord[];
}

export const DEFAULT_DATASET = { calls: 2000, seed: 42, months: 15, scheduledCalls: 8, ties: false } as const;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const MEETING_TYPES: readonly CallType[] = ['ZOOM', 'GOOGLE_MEET', 'MS_TEAMS', 'GOTO_MEETING', 'BLUE_JEANS'];
const TYPE_WEIGHTS: readonly (readonly [CallType, number])[] = [
    ['ZOOM', 34],
    ['GOOGLE_MEET', 20],
    ['MS_TEAMS', 18],
    ['RECORDING', 7],
    ['AIRCALL_RECORDING', 4],
    ['DIALPAD', 3],
    ['RINGCENTRAL', 3],
    ['OUTREACH', 3],
    ['SALESLOFT', 2],
    ['GOTO_MEETING', 2],
    ['HUBSPOT', 2],
    ['BLUE_JEANS', 1],
    ['TALKDESK', 1]
];
const USER_COUNTS: readonly (readonly [number, number])[] = [
    [1, 55],
    [2, 35],
    [3, 10]
];
const PAST_STATUS_WEIGHTS: readonly (readonly [CallStatus, number])[] = [
    ['POST_PROCESSING_DONE', 68],
    ['PROCESSED', 8],
    ['PROCESSING', 4],
    ['WAITING_IN_QUEUE', 0.5],
    ['NOBODY_JOINED_CALL', 4],
    ['UNABLE_TO_JOIN', 2],
    ['CALL_DID_NOT_HAPPEN', 2.5],
    ['IGNORED_BY_USER', 2],
    ['BOTJOIN_DENIED', 1.5],
    ['BOTJOIN_DISABLED', 1],
    ['NO_DATA_INCALL', 1.5],
    ['ERROR_IN_TRANSCRIBE', 1.5],
    ['ERROR_IN_PROCESSING', 1.5],
    ['ERROR_IN_RECORDING', 1]
];

/** Statuses whose details carry a transcript, summary and metrics. */
export function hasContent(status: CallStatus): boolean {
    return status === 'POST_PROCESSING_DONE' || status === 'PROCESSED';
}

/** The call happened and was recorded, but processing has not produced content (yet). */
export function awaitsProcessing(status: CallStatus): boolean {
    return status === 'PROCESSING' || status === 'WAITING_IN_QUEUE' || status === 'ERROR_IN_PROCESSING' || status === 'ERROR_IN_TRANSCRIBE';
}

export function isMeetingType(type: CallType): boolean {
    return MEETING_TYPES.includes(type);
}

export function callId(seed: number, seq: number, timeMs: number): string {
    // Shaped like a Mongo ObjectId (creation time first); the last 8 hex digits are a bijection of seq, so ids are unique.
    return hex8(Math.floor(timeMs / 1000)) + hex8(hashInts(seed, seq)) + hex8(seq ^ hashInts(seed, 99));
}

export type RecordPlan =
    { kind: 'past'; nowMs: number; spanMs: number } | { kind: 'scheduled'; nowMs: number } | { kind: 'added'; nowMs: number };

function businessTime(rng: Rng, dayStartMs: number, meeting: boolean): number {
    const hour = rng.int(13, 22); // US working hours, in UTC
    const minute = meeting ? rng.pick([0, 0, 15, 30, 30, 45]) : rng.int(0, 59);
    const second = meeting ? 0 : rng.int(0, 59);
    return dayStartMs + hour * HOUR_MS + minute * MINUTE_MS + second * 1000;
}

/** Minutes past the hour a snapped call starts at; weighted to the full hour as calendars are. */
const TIE_MINUTES = [0, 0, 0, 30] as const;

/**
 * The latest hour or half-hour slot at or before `timeMs`, so a snapped call never moves later (past calls stay
 * in the past and before their last_modified_time). The slot comes from a hash, not the record's draws, so
 * snapping leaves every other generated field as it was.
 */
export function snapToSlot(seed: number, seq: number, timeMs: number): number {
    const minute = TIE_MINUTES[hashInts(seed, seq, 0x71e5) % TIE_MINUTES.length] ?? 0;
    const slot = Math.floor(timeMs / HOUR_MS) * HOUR_MS + minute * MINUTE_MS;
    return slot <= timeMs ? slot : slot - HOUR_MS;
}

/** A meeting-like business hour 1 to 14 days after `nowMs`, as SCHEDULED calls have. */
export function futureBusinessTime(rng: Rng, nowMs: number): number {
    return businessTime(rng, Math.floor(nowMs / DAY_MS + rng.int(1, 14)) * DAY_MS, true);
}

function drawPastTime(rng: Rng, nowMs: number, spanMs: number, meeting: boolean, durationSec: number): number {
    for (let attempt = 0; attempt < 20; attempt++) {
        const day = Math.floor((nowMs - rng.float(0, spanMs)) / DAY_MS) * DAY_MS;
        const weekday = new Date(day).getUTCDay();
        if ((weekday === 0 || weekday === 6) && rng.chance(0.85)) {
            continue;
        }
        const timeMs = businessTime(rng, day, meeting);
        if (timeMs + durationSec * 1000 < nowMs - 5 * MINUTE_MS) {
            return timeMs;
        }
    }
    return nowMs - durationSec * 1000 - rng.int(1, 6) * HOUR_MS;
}

const MEETING_DURATIONS: readonly (readonly [readonly [number, number], number])[] = [
    [[60, 300], 15],
    [[600, 1500], 23],
    [[1500, 2400], 40],
    [[2400, 3600], 20],
    [[3600, 5400], 2]
];
const DIALER_DURATIONS: readonly (readonly [readonly [number, number], number])[] = [
    [[20, 120], 35],
    [[120, 600], 40],
    [[600, 1800], 25]
];

function drawDuration(rng: Rng, meeting: boolean): number {
    const [min, max] = rng.weighted(meeting ? MEETING_DURATIONS : DIALER_DURATIONS);
    return rng.int(min, max);
}

function disposition(rng: Rng, status: CallStatus, meeting: boolean): CallDisposition {
    switch (status) {
        case 'NOBODY_JOINED_CALL':
            return 'CALL_NOBODY_JOINED';
        case 'BOTJOIN_DENIED':
            return 'CALL_BOTJOIN_DENIED';
        case 'CALL_DID_NOT_HAPPEN':
            return 'CALL_DID_NOT_CONNECT_WITH_PROSPECT';
        default:
            if (!hasContent(status) && !awaitsProcessing(status)) {
                return 'UNKNOWN_CALL_DISPOSITION';
            }
            if (!meeting && rng.chance(0.3)) {
                return 'CALL_DID_NOT_CONNECT_WITH_PROSPECT';
            }
            return rng.chance(0.85) ? 'CALL_CONNECTED_WITH_PROSPECT' : 'UNKNOWN_CALL_DISPOSITION';
    }
}

function botNotJoinReasons(rng: Rng, status: CallStatus): BotNotJoinReason[] | undefined {
    switch (status) {
        case 'IGNORED_BY_USER':
            return ['IGNORED_BY_USER'];
        case 'BOTJOIN_DISABLED':
            return [
                rng.pick(['IGNORED_NOT_EXTERNAL_MEETING', 'IGNORED_NOT_ORGANIZER', 'IGNORED_CALL_TYPE_IGNORED_BY_CUSTOMER', 'IGNORED'])
            ];
        case 'UNABLE_TO_JOIN':
            return [rng.pick(['IGNORED_NOT_CONFIRMED', 'IGNORED_NO_USER_HAS_ACCEPTED_INVITE'])];
        case 'BOTJOIN_DENIED':
            return [rng.pick(['RECORDING_PERMISSION_DENIED', 'CONSENT_REVOKED'])];
        case 'NOBODY_JOINED_CALL':
            return rng.chance(0.5) ? ['IGNORED_DUE_TO_WHITELIST'] : undefined;
        default:
            return undefined;
    }
}

function sourceIdFor(rng: Rng, type: CallType): string {
    switch (type) {
        case 'ZOOM':
            return String(rng.int(81_000_000, 99_999_999)) + String(rng.int(100, 999));
        case 'GOOGLE_MEET':
            return `${rng.hex(3)}-${rng.hex(4)}-${rng.hex(3)}`.replace(/[0-9]/g, (digit) => 'abcdefghij'.charAt(Number(digit)));
        case 'MS_TEAMS':
            return `19:meeting_${rng.hex(32)}@thread.v2`;
        case 'RECORDING':
            return `rec-${rng.hex(12)}`;
        default:
            return String(rng.int(1_000_000_000, 2_000_000_000));
    }
}

function titleFor(rng: Rng, workspace: Workspace, accountName: string, contactName: string, meeting: boolean): string {
    const short = accountName.split(/[ ,-]/)[0] ?? accountName;
    if (!meeting) {
        return rng.pick([`Call with ${contactName}`, `Outbound call - ${contactName}`, `${contactName} (${short})`]);
    }
    return rng.pick([
        `${short} <> ${workspace.companyName} | Discovery`,
        `${workspace.companyName} demo for ${accountName}`,
        `${short} / ${workspace.companyName} - Pricing discussion`,
        `Weekly sync: ${short}`,
        `${contactName} and ${workspace.companyName}`,
        `${short} - Technical deep dive`,
        `QBR - ${accountName}`,
        `Intro call: ${contactName} (${short})`
    ]);
}

function statusFor(rng: Rng, plan: RecordPlan, endMs: number): CallStatus {
    if (plan.kind === 'scheduled') {
        return 'SCHEDULED';
    }
    if (plan.kind === 'added') {
        return 'POST_PROCESSING_DONE';
    }
    // Calls that ended in the last few hours are often still being processed.
    if (plan.nowMs - endMs < 3 * HOUR_MS && rng.chance(0.5)) {
        return 'PROCESSING';
    }
    return rng.weighted(PAST_STATUS_WEIGHTS);
}

function lastModifiedFor(rng: Rng, plan: RecordPlan, status: CallStatus, timeMs: number, endMs: number): number {
    if (plan.kind === 'added') {
        return plan.nowMs;
    }
    if (plan.kind === 'scheduled') {
        return plan.nowMs - rng.int(1, 20) * DAY_MS + rng.int(0, DAY_MS - 1);
    }
    let delayMs = rng.int(5, 180) * MINUTE_MS + rng.int(0, 59_999);
    if (hasContent(status) && rng.chance(0.05)) {
        delayMs = rng.int(1, 20) * DAY_MS + rng.int(0, DAY_MS - 1); // e.g. CRM matching or re-processing days later
    } else if (!hasContent(status)) {
        delayMs = rng.int(1, 30) * MINUTE_MS + rng.int(0, 59_999);
    }
    return Math.max(timeMs, Math.min(endMs + delayMs, plan.nowMs));
}

function fieldsFor(rng: Rng, meeting: boolean, content: boolean, hasDeal: boolean): number {
    let fields = 0;
    const add = (flag: number, probability: number): void => {
        if (rng.chance(probability)) {
            fields |= flag;
        }
    };
    add(OptionalField.calendar, meeting ? 0.75 : 0);
    add(OptionalField.recurring, fields & OptionalField.calendar ? 0.25 : 0);
    add(OptionalField.account, 0.65);
    add(OptionalField.deal, fields & OptionalField.account && hasDeal ? 0.6 : 0);
    add(OptionalField.crmInfo, fields & OptionalField.account ? 0.8 : 0);
    add(OptionalField.contactNames, 0.5);
    add(OptionalField.bookmarks, content ? 0.1 : 0);
    return fields;
}

export function generateRecord(seed: number, workspace: Workspace, seq: number, plan: RecordPlan, ties = false): CallRecord {
    const rng = new Rng(seed, seq, 1);
    const type = plan.kind === 'past' ? rng.weighted(TYPE_WEIGHTS) : rng.pick(['ZOOM', 'GOOGLE_MEET', 'MS_TEAMS'] as const);
    const meeting = isMeetingType(type);
    const plannedDuration = drawDuration(rng, meeting);

    let timeMs: number;
    if (plan.kind === 'past') {
        timeMs = drawPastTime(rng, plan.nowMs, plan.spanMs, meeting, plannedDuration);
    } else if (plan.kind === 'scheduled') {
        timeMs = futureBusinessTime(rng, plan.nowMs);
    } else {
        timeMs = plan.nowMs - plannedDuration * 1000 - rng.int(10, 300) * MINUTE_MS;
    }
    if (ties) {
        timeMs = snapToSlot(seed, seq, timeMs);
    }
    const status = statusFor(rng, plan, timeMs + plannedDuration * 1000);
    const happened = hasContent(status) || awaitsProcessing(status) || status === 'NO_DATA_INCALL' || status === 'ERROR_IN_RECORDING';
    const durationSec = happened ? (status === 'NO_DATA_INCALL' ? rng.int(5, 60) : plannedDuration) : 0;

    const accountIdx = rng.int(0, workspace.accounts.length - 1);
    const account = workspace.accounts[accountIdx];
    const contactCount = account?.contacts.length ?? 1;
    const invited = meeting ? rng.sample([...Array(contactCount).keys()], rng.int(1, contactCount)) : [rng.int(0, contactCount - 1)];
    const joined = happened ? invited.filter((_, index) => index === 0 || rng.chance(0.7)) : [];
    const users = rng.sample([...Array(workspace.users.length).keys()], meeting ? rng.weighted(USER_COUNTS) : 1);
    const organiser = rng.int(0, users.length - 1);
    const userIdxs = [users[organiser] ?? 0, ...users.filter((_, index) => index !== organiser)];

    const record: CallRecord = {
        id: callId(seed, seq, plan.kind === 'added' ? plan.nowMs : timeMs),
        seq,
        timeMs,
        durationSec,
        lastModifiedMs: lastModifiedFor(rng, plan, status, timeMs, timeMs + durationSec * 1000),
        status,
        type,
        disposition: disposition(rng, status, meeting),
        title: titleFor(rng, workspace, account?.name ?? 'Unknown', account?.contacts[invited[0] ?? 0]?.name ?? 'Unknown', meeting),
        userIdxs,
        accountIdx,
        invitedContactIdxs: invited,
        joinedContactIdxs: joined,
        fields: fieldsFor(rng, meeting, hasContent(status), account?.deal !== undefined),
        personIdStyle: rng.chance(0.4) ? 'string' : 'number',
        timestampStyle: rng.weighted([
            ['number', 45],
            ['string', 40],
            ['nan-mixed', 15]
        ] as const),
        hasRecording: (hasContent(status) && rng.chance(0.97)) || awaitsProcessing(status),
        isPrivate: plan.kind === 'past' && rng.chance(0.03),
        deleted: false,
        contentVersion: 0
    };
    const reasons = botNotJoinReasons(rng, status);
    if (reasons) {
        record.botNotJoinReasons = reasons;
    }
    if (rng.chance(meeting ? 0.8 : 0.9)) {
        record.sourceId = sourceIdFor(rng, type);
    }
    return record;
}

export function generateDataset(options: DatasetOptions = {}): Dataset {
    const calls = options.calls ?? DEFAULT_DATASET.calls;
    const seed = options.seed ?? DEFAULT_DATASET.seed;
    const months = options.months ?? DEFAULT_DATASET.months;
    const scheduled = options.scheduledCalls ?? DEFAULT_DATASET.scheduledCalls;
    const ties = options.ties ?? DEFAULT_DATASET.ties;
    const nowMs = (options.now ?? new Date()).getTime();
    const workspace = createWorkspace(seed, calls, nowMs);
    const spanMs = months * 30.44 * DAY_MS;
    const records: CallRecord[] = [];
    for (let seq = 0; seq < calls; seq++) {
        records.push(generateRecord(seed, workspace, seq, { kind: 'past', nowMs, spanMs }, ties));
    }
    for (let seq = calls; seq < calls + scheduled; seq++) {
        records.push(generateRecord(seed, workspace, seq, { kind: 'scheduled', nowMs }, ties));
    }
    return { seed, nowMs, workspace, records };
}
