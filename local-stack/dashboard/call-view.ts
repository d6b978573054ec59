import { z } from 'zod';

import type { NangoRecord } from '../nango-server/records.js';
import { offsetText, safeHref, timeText, type TimeText } from './format.js';

/**
 * A stored `Call` record (nango-integrations/nango.yaml, models) as the dashboard shows it. Each field is
 * read leniently: the page must render whatever the store holds, so a value of the wrong type reads as
 * absent instead of failing the page, and absent values are spelled out rather than left blank.
 */

const text = z.string().nullable().catch(null);
const num = z.number().nullable().catch(null);
const bool = z.boolean().nullable().catch(null);
const list = <T extends z.ZodType>(item: T) => z.array(item).nullable().catch(null);

const personSchema = z.object({
    userId: text,
    userEmail: text,
    isOrganizer: bool,
    name: text,
    email: text,
    phone: text,
    personId: text
});

const turnSchema = z.object({ text, start: num, end: num, personId: text });
const topicSchema = z.object({ name: text, start_timestamp: num, end_timestamp: num, summary: text });
const actionItemSchema = z.object({ action_item: text, speaker_name: text, start_timestamp: num });
const sentimentSchema = z.object({ competitor_name: text, sentiment: text, reasoning: text, personId: text, turn_start_time: num });
const categorySchema = z.object({ name: text, occurences: num });

const callSchema = z.object({
    title: text,
    time: text,
    status: text,
    type: text,
    account_name: text,
    deal_name: text,
    deal_value: text,
    deal_stage_before_call: text,
    disposition: text,
    call_review_page_url: text,
    users: list(personSchema),
    externalParticipants: list(personSchema),
    metrics: z
        .object({
            talk_listen_ratio: num,
            num_questions_asked: num,
            num_questions_asked_by_reps: num,
            call_duration: num,
            total_speak_duration: num,
            longest_monologue_duration: num,
            longest_monologue_start_time: num,
            engaging_questions: num,
            categories: list(categorySchema)
        })
        .nullable()
        .catch(null),
    summary: z
        .object({ full_summary: text, topics_discussed: list(topicSchema), key_action_items: list(actionItemSchema) })
        .nullable()
        .catch(null),
    competitor_sentiments: list(sentimentSchema),
    transcript: list(turnSchema)
});

type Person = z.infer<typeof personSchema>;

/** What a record's `_nango_metadata` says about it, for the markers and the banner. */
export interface RecordState {
    lastAction: string;
    lastModified: TimeText | null;
    firstSeen: TimeText | null;
    /** Set when the record was deleted (its payload stays). */
    deleted: TimeText | null;
    /** Set when Nango's record lifecycle emptied its payload: only the id is left. */
    pruned: TimeText | null;
}

export interface CallListRow {
    id: string;
    title: string | null;
    time: TimeText | null;
    status: string | null;
    account: string | null;
    users: string[];
    state: RecordState;
}

export interface Labelled {
    label: string;
    value: string;
}

export interface TranscriptLine {
    at: string | null;
    until: string | null;
    speaker: string;
    text: string;
}

export interface CallPage extends CallListRow {
    type: string | null;
    facts: Labelled[];
    reviewUrl: string | null;
    people: { label: string; role: string }[];
    metrics: Labelled[] | null;
    categories: { name: string; count: string }[];
    summary: {
        full: string | null;
        topics: { name: string; at: string | null; summary: string | null }[];
        actionItems: { text: string; speaker: string | null; at: string | null }[];
    } | null;
    sentiments: { competitor: string; sentiment: string; reasoning: string | null; speaker: string | null; at: string | null }[] | null;
    transcript: TranscriptLine[] | null;
}

export function recordState(record: NangoRecord): RecordState {
    const meta = record._nango_metadata;
    return {
        lastAction: meta.last_action,
        lastModified: timeText(meta.last_modified_at),
        firstSeen: timeText(meta.first_seen_at),
        deleted: meta.deleted_at === null ? null : timeText(meta.deleted_at),
        pruned: meta.pruned_at === null ? null : timeText(meta.pruned_at)
    };
}

function personLabel(person: Person): string {
    return person.name ?? person.userEmail ?? person.email ?? person.userId ?? person.phone ?? `person ${person.personId ?? '(no id)'}`;
}

function callOf(record: NangoRecord) {
    return callSchema.parse(record);
}

export function callListRow(record: NangoRecord): CallListRow {
    const call = callOf(record);
    return {
        id: record.id,
        title: call.title,
        time: call.time === null ? null : timeText(call.time),
        status: call.status,
        account: call.account_name,
        users: (call.users ?? []).map(personLabel),
        state: recordState(record)
    };
}

function figure(value: number | null, unit = ''): string {
    if (value === null) {
        return 'not sent';
    }
    return `${Number.isInteger(value) ? String(value) : value.toFixed(2)}${unit}`;
}

export function callPage(record: NangoRecord): CallPage {
    const call = callOf(record);
    const users = call.users ?? [];
    const participants = call.externalParticipants ?? [];
    const speakers = new Map<string, string>();
    for (const person of [...users, ...participants]) {
        if (person.personId !== null) {
            speakers.set(person.personId, personLabel(person));
        }
    }
    const speaker = (personId: string | null): string =>
        personId === null ? 'unknown speaker' : (speakers.get(personId) ?? `person ${personId}`);
    const { metrics, summary } = call;
    const facts: [string, string | null][] = [
        ['Status', call.status],
        ['Type', call.type],
        ['Account', call.account_name],
        ['Deal', call.deal_name],
        ['Deal value', call.deal_value],
        ['Deal stage before the call', call.deal_stage_before_call],
        ['Disposition', call.disposition]
    ];
    return {
        ...callListRow(record),
        type: call.type,
        facts: facts.map(([label, value]) => ({ label, value: value ?? 'not sent' })),
        reviewUrl: safeHref(call.call_review_page_url),
        people: [
            ...users.map((user) => ({ label: personLabel(user), role: user.isOrganizer === true ? 'organizer' : 'user' })),
            ...participants.map((participant) => ({ label: personLabel(participant), role: 'external participant' }))
        ],
        metrics:
            metrics === null
                ? null
                : [
                      { label: 'Talk/listen ratio', value: figure(metrics.talk_listen_ratio) },
                      { label: 'Call duration', value: offsetText(metrics.call_duration) ?? 'not sent' },
                      { label: 'Total speaking time', value: offsetText(metrics.total_speak_duration) ?? 'not sent' },
                      { label: 'Longest monologue', value: offsetText(metrics.longest_monologue_duration) ?? 'not sent' },
                      { label: 'Longest monologue starts at', value: offsetText(metrics.longest_monologue_start_time) ?? 'not sent' },
                      { label: 'Questions asked', value: figure(metrics.num_questions_asked) },
                      { label: 'Questions asked by reps', value: figure(metrics.num_questions_asked_by_reps) },
                      { label: 'Engaging questions', value: figure(metrics.engaging_questions) }
                  ],
        categories: (metrics?.categories ?? []).map((category) => ({
            name: category.name ?? '(unnamed)',
            count: figure(category.occurences)
        })),
        summary:
            summary === null
                ? null
                : {
                      full: summary.full_summary,
                      topics: (summary.topics_discussed ?? []).map((topic) => ({
                          name: topic.name ?? '(unnamed topic)',
                          at: offsetText(topic.start_timestamp),
                          summary: topic.summary
                      })),
                      actionItems: (summary.key_action_items ?? []).map((item) => ({
                          text: item.action_item ?? '(empty)',
                          speaker: item.speaker_name,
                          at: offsetText(item.start_timestamp)
                      }))
                  },
        sentiments:
            call.competitor_sentiments?.map((sentiment) => ({
                competitor: sentiment.competitor_name ?? '(unnamed)',
                sentiment: sentiment.sentiment ?? 'not sent',
                reasoning: sentiment.reasoning,
                speaker: sentiment.personId === null ? null : speaker(sentiment.personId),
                at: offsetText(sentiment.turn_start_time)
            })) ?? null,
        transcript:
            call.transcript?.map((turn) => ({
                at: offsetText(turn.start),
                until: offsetText(turn.end),
                speaker: speaker(turn.personId),
                text: turn.text ?? '(no text)'
            })) ?? null
    };
}
