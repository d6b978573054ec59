/**
 * Shapes of Clari Copilot payloads as real responses carry them (README.md, "Where the facts come from"),
 * which differ from the published spec in a few documented places: personId may be a number or a string,
 * summary timestamps may be numbers, numeric strings or "NaN", and `type` may be RECORDING.
 */

export const CALL_STATUSES = [
    'SCHEDULED',
    'INITIATED',
    'INPROGRESS',
    'WAITING_IN_QUEUE',
    'PROCESSING',
    'PROCESSED',
    'ERROR_IN_TRANSCRIBE',
    'ERROR_IN_PROCESSING',
    'ERROR_IN_RECORDING',
    'UNABLE_TO_JOIN',
    'CALL_DID_NOT_HAPPEN',
    'IGNORED_BY_USER',
    'BOTJOIN_DISABLED',
    'POST_PROCESSING_DONE',
    'NO_DATA_INCALL',
    'NOBODY_JOINED_CALL',
    'BOTJOIN_DENIED'
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** The spec's CallType plus its APICallType (RECORDING and friends show up in real list responses). */
export const CALL_TYPES = [
    'ZOOM',
    'GOOGLE_MEET',
    'FRESHCALLER',
    'AIRCALL_RECORDING',
    'RINGCENTRAL',
    'GOTO_MEETING',
    'OUTREACH',
    'HUBSPOT',
    'BLUE_JEANS',
    'SALESLOFT',
    'MS_TEAMS',
    'DIALPAD',
    'FRONTSPIN',
    'TALKDESK',
    'RECORDING',
    'VENDASTA',
    'KNOWLARITY',
    'CALL_HIPPO',
    'RINGOVER'
] as const;
export type CallType = (typeof CALL_TYPES)[number];

export const CALL_DISPOSITIONS = [
    'UNKNOWN_CALL_DISPOSITION',
    'CALL_CONNECTED_WITH_PROSPECT',
    'CALL_DID_NOT_CONNECT_WITH_PROSPECT',
    'CALL_NOBODY_JOINED',
    'CALL_BOTJOIN_DENIED'
] as const;
export type CallDisposition = (typeof CALL_DISPOSITIONS)[number];

export const BOT_NOT_JOIN_REASONS = [
    'IGNORED_DUE_TO_WHITELIST',
    'CONSENT_REVOKED',
    'IGNORED_BY_USER',
    'IGNORED_CALL_TYPE_IGNORED_BY_CUSTOMER',
    'IGNORED_NO_USER_HAS_ACCEPTED_INVITE',
    'RECORDING_PERMISSION_DENIED',
    'IGNORED_NON_MEETING',
    'IGNORED_NOT_CONFIRMED',
    'IGNORED_NOT_EXTERNAL_MEETING',
    'IGNORED_NOT_ORGANIZER',
    'IGNORED'
] as const;
export type BotNotJoinReason = (typeof BOT_NOT_JOIN_REASONS)[number];

export type PersonId = number | string;
/** Summary timestamps: seconds as a number, as a numeric string, or the literal string "NaN". */
export type LooseTimestamp = number | string;

export interface CallUser {
    userId: string;
    userEmail: string;
    isOrganizer: boolean;
    personId: PersonId;
}

export interface CallParticipant {
    name?: string;
    email?: string;
    phone?: string;
    personId?: PersonId;
}

export interface PhraseMatch {
    text: string;
    user_id: string;
    name: string;
    time: number;
}

export interface MetricCategory {
    name: string;
    occurences: number;
    phrases_matched: PhraseMatch[];
    ai_detected: boolean;
}

export interface CallMetrics {
    talk_listen_ratio: number;
    num_questions_asked: number;
    num_questions_asked_by_reps: number;
    call_duration: number;
    total_speak_duration: number;
    longest_monologue_duration: number;
    longest_monologue_start_time: number;
    engaging_questions: number;
    categories: MetricCategory[];
}

export interface CrmInfo {
    source_crm: string;
    deal_id?: string;
    account_id?: string;
    contact_ids?: string[];
}

export interface Call {
    id: string;
    source_id?: string;
    title: string;
    users: CallUser[];
    externalParticipants: CallParticipant[];
    joinedParticipants?: CallParticipant[];
    status: CallStatus;
    bot_not_join_reason?: BotNotJoinReason[];
    type: CallType;
    time: string;
    icaluid?: string;
    calendar_id?: string;
    recurring_event_id?: string;
    original_start_time?: string;
    last_modified_time: string;
    audio_url?: string | null;
    video_url?: string;
    disposition: CallDisposition;
    deal_name?: string;
    deal_value?: string;
    deal_close_date?: string;
    deal_stage_before_call?: string;
    account_name?: string;
    contact_names?: string[];
    crm_info?: CrmInfo;
    bookmark_timestamps?: string[];
    metrics?: CallMetrics;
    call_review_page_url: string;
}

export type TranscriptAnnotation = { tracker: string; phrase: string; category: string } | { label: string; phrase: string };

export interface TranscriptTurn {
    text: string;
    start: number;
    end: number;
    personId: PersonId;
    annotations?: TranscriptAnnotation[];
}

export interface SummaryTopic {
    name: string;
    start_timestamp: LooseTimestamp;
    end_timestamp: LooseTimestamp;
    summary: string;
}

export interface SummaryActionItem {
    action_item: string;
    speaker_name: string;
    start_timestamp: LooseTimestamp;
    end_timestamp: LooseTimestamp;
}

export interface CallSummary {
    full_summary: string;
    topics_discussed: SummaryTopic[];
    key_action_items: SummaryActionItem[];
}

export interface CompetitorSentiment {
    competitor_name: string;
    sentiment: string;
    reasoning: string;
    personId: PersonId;
    turn_start_time: string;
}

export interface CallDetails extends Call {
    deal_stage_live?: string;
    transcript?: TranscriptTurn[];
    summary?: CallSummary;
    competitor_sentiments?: CompetitorSentiment[];
}

/** A call whose payload was deliberately broken through the control API: no longer a `Call`. */
export type CallPayload = Call | Record<string, unknown>;
