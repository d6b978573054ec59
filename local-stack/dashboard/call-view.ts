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
const phraseSchema = z.object({ user_id: text, name: text });
const categorySchema = z.object({ name: text, occurences: num, phrases_matched: list(phraseSchema) });

const callSchema = z.object({
    title: text,
    time: text,
    status: text,
    type: text,
    account_name: text,
    contact_names: list(text),
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
type CallData = z.infer<typeof callSchema>;

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

/** A person as the pages name them: by name where the record has one, else by email, phone or id. */
export interface PersonView {
    label: string;
    /** The email or phone beside a name; null when the label is already that. */
    contact: string | null;
}

export interface CallPage extends CallListRow {
    type: string | null;
    facts: Labelled[];
    reviewUrl: string | null;
    people: (PersonView & { role: string })[];
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

interface NamedPerson {
    person: Person;
    name: string | null;
}

/** The ways one person can be told apart in a record: the same id, phone or email is the same person. */
function personKeys(person: Person): string[] {
    return [
        person.personId === null ? null : `id:${person.personId}`,
        person.userId === null ? null : `user:${person.userId}`,
        person.phone === null ? null : `phone:${person.phone}`,
        (person.email ?? person.userEmail) === null ? null : `email:${(person.email ?? person.userEmail ?? '').toLowerCase()}`
    ].filter((key) => key !== null);
}

/**
 * Everyone on the call with the name the record gives them, if any. Clari often lists an external person by phone
 * alone, while elsewhere in the same record it names them: another entry for the same person (same id, phone or
 * email); the name beside their id where a phrase of theirs matched (metrics.categories[].phrases_matched, whose
 * user_id is a user's userId or a participant's personId); or, on a call with one external participant and one
 * CRM contact, that contact.
 */
function namedPeople(call: CallData): { users: NamedPerson[]; participants: NamedPerson[] } {
    const users = call.users ?? [];
    const participants = call.externalParticipants ?? [];
    // A name the record puts on an entry for the person wins over one read from a phrase match.
    const entryNames = new Map<string, string>();
    for (const person of [...users, ...participants]) {
        if (person.name !== null) {
            personKeys(person).forEach((key) => entryNames.set(key, person.name ?? ''));
        }
    }
    const phraseNames = new Map<string, string>();
    for (const match of (call.metrics?.categories ?? []).flatMap((category) => category.phrases_matched ?? [])) {
        if (match.user_id !== null && match.name !== null) {
            phraseNames.set(`id:${match.user_id}`, match.name);
            phraseNames.set(`user:${match.user_id}`, match.name);
        }
    }
    const found = (names: Map<string, string>, person: Person): string | null =>
        personKeys(person).flatMap((key) => names.get(key) ?? [])[0] ?? null;
    const nameOf = (person: Person): string | null => person.name ?? found(entryNames, person) ?? found(phraseNames, person);
    const contacts = (call.contact_names ?? []).filter((name) => name !== null);
    const soleContact = participants.length === 1 && contacts.length === 1 ? (contacts[0] ?? null) : null;
    return {
        users: users.map((person) => ({ person, name: nameOf(person) })),
        participants: participants.map((person) => ({ person, name: nameOf(person) ?? soleContact }))
    };
}

function personView({ person, name }: NamedPerson): PersonView {
    const contact = person.userEmail ?? person.email ?? person.phone;
    if (name !== null) {
        return { label: name, contact };
    }
    return {
        label: contact ?? (person.userId === null ? `person ${person.personId ?? '(no id)'}` : `user ${person.userId}`),
        contact: null
    };
}

function callOf(record: NangoRecord): CallData {
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
        users: namedPeople(call).users.map((user) => personView(user).label),
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
    const { users, participants } = namedPeople(call);
    const speakers = new Map<string, string>();
    for (const named of [...users, ...participants]) {
        if (named.person.personId !== null) {
            speakers.set(named.person.personId, personView(named).label);
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
            ...users.map((user) => ({ ...personView(user), role: user.person.isOrganizer === true ? 'organizer' : 'user' })),
            ...participants.map((participant) => ({ ...personView(participant), role: 'external participant' }))
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
