import { generateMetrics, generateSentiments, generateSummary, generateTranscript, type Speaker } from './content.js';
import { OptionalField, hasContent, isMeetingType, type CallRecord } from './dataset.js';
import { Rng, hashInts, hex8 } from './random.js';
import type { Call, CallDetails, CallParticipant, CallPayload, CallUser, PersonId } from './types.js';
import type { Account, Workspace } from './workspace.js';

/** Turns a compact CallRecord into the JSON Clari would send. */

export interface PayloadContext {
    seed: number;
    workspace: Workspace;
}

export interface MediaOptions {
    includeAudio: boolean;
    includeVideo: boolean;
    /** Origin the signed URLs point at (the emulator itself). */
    baseUrl: string;
    nowMs: number;
}

const SIGNED_URL_TTL_MS = 4 * 3_600_000;

/** The spec's property order, so payloads read like real ones whatever order the builder filled them in. */
const KEY_ORDER: readonly (keyof CallDetails)[] = [
    'id',
    'source_id',
    'title',
    'users',
    'externalParticipants',
    'joinedParticipants',
    'status',
    'bot_not_join_reason',
    'type',
    'time',
    'icaluid',
    'calendar_id',
    'recurring_event_id',
    'original_start_time',
    'last_modified_time',
    'audio_url',
    'video_url',
    'disposition',
    'deal_name',
    'deal_value',
    'deal_close_date',
    'deal_stage_before_call',
    'account_name',
    'contact_names',
    'crm_info',
    'bookmark_timestamps',
    'metrics',
    'call_review_page_url',
    'deal_stage_live',
    'transcript',
    'summary',
    'competitor_sentiments'
];

function inSpecOrder<T extends Call>(payload: T): T {
    const ordered: Partial<Record<keyof CallDetails, unknown>> = {};
    for (const key of KEY_ORDER) {
        if (key in payload) {
            ordered[key] = payload[key as keyof T];
        }
    }
    return ordered as T;
}

function personId(record: CallRecord, id: number): PersonId {
    return record.personIdStyle === 'string' ? String(id) : id;
}

function accountOf(ctx: PayloadContext, record: CallRecord): Account {
    const account = ctx.workspace.accounts[record.accountIdx];
    if (account === undefined) {
        throw new Error(`call ${record.id} refers to a missing account`);
    }
    return account;
}

export function accountShortName(account: Account): string {
    return account.name.split(/[ ,-]/)[0] ?? account.name;
}

function callUsers(ctx: PayloadContext, record: CallRecord): CallUser[] {
    return record.userIdxs.flatMap((index, position) => {
        const user = ctx.workspace.users[index];
        return user
            ? [{ userId: user.userId, userEmail: user.email, isOrganizer: position === 0, personId: personId(record, user.personId) }]
            : [];
    });
}

function participants(record: CallRecord, account: Account, contactIdxs: readonly number[], joined: boolean): CallParticipant[] {
    const meeting = isMeetingType(record.type);
    return contactIdxs.flatMap((index) => {
        const contact = account.contacts[index];
        if (contact === undefined) {
            return [];
        }
        const participant: CallParticipant = {};
        if (meeting || index % 2 === 0) {
            participant.name = contact.name;
        }
        if (meeting && contact.email !== undefined) {
            participant.email = contact.email;
        }
        if (!meeting) {
            participant.phone = contact.phone;
        }
        if (joined || record.joinedContactIdxs.includes(index)) {
            participant.personId = personId(record, contact.personId);
        }
        return [participant];
    });
}

/** Everyone who can speak in the transcript: users first (the organiser leads), then the external people who joined. */
export function speakersOf(ctx: PayloadContext, record: CallRecord): Speaker[] {
    const account = accountOf(ctx, record);
    const reps = record.userIdxs.flatMap((index) => {
        const user = ctx.workspace.users[index];
        return user ? [{ personId: personId(record, user.personId), name: user.name, userId: user.userId }] : [];
    });
    const externals = record.joinedContactIdxs.flatMap((index) => {
        const contact = account.contacts[index];
        return contact ? [{ personId: personId(record, contact.personId), name: contact.name }] : [];
    });
    return [...reps, ...externals];
}

function signedUrl(ctx: PayloadContext, record: CallRecord, media: MediaOptions, file: string): string {
    const expires = Math.floor((media.nowMs + SIGNED_URL_TTL_MS) / 1000);
    const signature = hex8(hashInts(ctx.seed, record.seq, expires)) + hex8(hashInts(expires, record.seq));
    return `${media.baseUrl}/media/${record.id}/${file}?expires=${expires}&signature=${signature}`;
}

function iso(ms: number): string {
    return new Date(ms).toISOString();
}

export function buildCall(ctx: PayloadContext, record: CallRecord, media?: MediaOptions): Call {
    const account = accountOf(ctx, record);
    const has = (flag: number): boolean => (record.fields & flag) !== 0;
    // Stable per-call identifiers that never change with modifications.
    const ids = new Rng(ctx.seed, record.seq, 4);
    const organiser = ctx.workspace.users[record.userIdxs[0] ?? 0];
    const call: Call = {
        id: record.id,
        ...(record.sourceId === undefined ? {} : { source_id: record.sourceId }),
        title: record.title,
        users: callUsers(ctx, record),
        externalParticipants: participants(record, account, record.invitedContactIdxs, false),
        status: record.status,
        type: record.type,
        time: iso(record.timeMs),
        last_modified_time: iso(record.lastModifiedMs),
        disposition: record.disposition,
        call_review_page_url: `https://copilot.clari.com/call/${record.id}`
    };
    if (record.durationSec > 0) {
        call.joinedParticipants = participants(record, account, record.joinedContactIdxs, true);
    }
    if (record.botNotJoinReasons) {
        call.bot_not_join_reason = [...record.botNotJoinReasons];
    }
    if (has(OptionalField.calendar)) {
        call.icaluid =
            record.type === 'MS_TEAMS' ? `040000008200E00074C5B7101A82E008${ids.hex(40).toUpperCase()}` : `${ids.hex(26)}@google.com`;
        call.calendar_id = organiser?.email ?? 'calendar@example.com';
    }
    if (has(OptionalField.recurring)) {
        call.recurring_event_id = ids.hex(26);
        call.original_start_time = iso(record.timeMs);
    }
    if (media?.includeAudio) {
        call.audio_url = record.hasRecording ? signedUrl(ctx, record, media, 'audio.mp3') : null;
    }
    if (media?.includeVideo && record.hasRecording && isMeetingType(record.type)) {
        call.video_url = signedUrl(ctx, record, media, 'video.mp4');
    }
    if (has(OptionalField.deal) && account.deal) {
        call.deal_name = account.deal.name;
        call.deal_value = account.deal.value;
        call.deal_close_date = iso(account.deal.closeDateMs);
        call.deal_stage_before_call = account.deal.stageBefore;
    }
    if (has(OptionalField.account)) {
        call.account_name = account.name;
    }
    if (has(OptionalField.contactNames)) {
        call.contact_names = record.invitedContactIdxs.flatMap((index) => account.contacts[index]?.name ?? []);
    }
    if (has(OptionalField.crmInfo)) {
        call.crm_info = {
            source_crm: ctx.workspace.crm,
            account_id: account.crmId,
            ...(has(OptionalField.deal) && account.deal ? { deal_id: account.deal.crmId } : {}),
            contact_ids: record.invitedContactIdxs.flatMap((index) => account.contacts[index]?.crmId ?? [])
        };
    }
    if (has(OptionalField.bookmarks)) {
        call.bookmark_timestamps = Array.from({ length: ids.int(1, 3) }, () => iso(record.timeMs + ids.int(0, record.durationSec) * 1000));
    }
    if (hasContent(record.status)) {
        call.metrics = generateMetrics(ctx.seed, record, speakersOf(ctx, record));
    }
    return inSpecOrder(call);
}

export function buildCallDetails(ctx: PayloadContext, record: CallRecord, media?: MediaOptions): CallDetails {
    const details: CallDetails = buildCall(ctx, record, media);
    const account = accountOf(ctx, record);
    if ((record.fields & OptionalField.deal) !== 0 && account.deal) {
        details.deal_stage_live = record.dealStageLive ?? account.deal.stageLive;
    }
    if (hasContent(record.status)) {
        const speakers = speakersOf(ctx, record);
        const transcript = generateTranscript(ctx.seed, record, speakers, accountShortName(account));
        details.transcript = transcript;
        details.summary = generateSummary(ctx.seed, record, speakers, account.name);
        details.competitor_sentiments = generateSentiments(ctx.seed, record, transcript, speakers);
    }
    return inSpecOrder(details);
}

/** Applies a control-API corruption: the payload stops matching the schema the way a buggy upstream might. */
export function applyCorruption(record: CallRecord, payload: Call): CallPayload {
    if (record.corruption === 'users-string') {
        return { ...payload, users: payload.users.map((user) => user.userEmail).join(', ') };
    }
    if (record.corruption === 'time-not-a-date') {
        return { ...payload, time: 'not-a-date' };
    }
    return payload;
}
