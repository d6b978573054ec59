import type { CallRecord } from './dataset.js';
import { Rng } from './random.js';
import type {
    CallMetrics,
    CallSummary,
    CompetitorSentiment,
    LooseTimestamp,
    MetricCategory,
    PersonId,
    TranscriptAnnotation,
    TranscriptTurn
} from './types.js';
import { ACTION_ITEMS, AI_LABELS, CATEGORIES, CLAUSES, COMPETITORS, CONNECTORS, OPENERS, SENTIMENTS, TOPICS } from './word-bank.js';

/**
 * On-demand content of a processed call: transcript, summary, competitor sentiments and metrics. Each is a pure
 * function of (seed, call seq, content version), so it is regenerated identically on every request and changes
 * when the call is modified or processed late.
 */

export interface Speaker {
    personId: PersonId;
    name: string;
    /** Workspace user id for reps, absent for external people. */
    userId?: string;
}

/** Separate streams per content kind, so e.g. adding a metric draw never shifts the transcript. */
const Stream = { transcript: 11, summary: 12, topics: 13, sentiments: 14, metrics: 15 } as const;

function rngFor(seed: number, record: CallRecord, stream: number): Rng {
    return new Rng(seed, record.seq, record.contentVersion, stream);
}

function round2(value: number): number {
    return Math.round(value * 100) / 100;
}

function capitalise(text: string): string {
    return text.charAt(0).toUpperCase() + text.slice(1);
}

function clause(rng: Rng, accountShortName: string): string {
    return rng
        .pick(CLAUSES)
        .replace('{c}', rng.pick(COMPETITORS))
        .replace('{n}', String(rng.int(2, 40)))
        .replace('{a}', accountShortName);
}

function sentence(rng: Rng, accountShortName: string): string {
    let text = clause(rng, accountShortName);
    const question = /^(can|could|how|what)\b/.test(text);
    if (rng.chance(0.3)) {
        text = `${rng.pick(OPENERS)}, ${text}`;
    }
    if (rng.chance(0.25)) {
        text += `, ${rng.pick(CONNECTORS)} ${clause(rng, accountShortName)}`;
    }
    return capitalise(text) + (question ? '?' : '.');
}

function turnText(rng: Rng, targetWords: number, accountShortName: string): string {
    const sentences: string[] = [];
    let words = 0;
    do {
        const next = sentence(rng, accountShortName);
        sentences.push(next);
        words += next.split(' ').length;
    } while (words < targetWords);
    return sentences.join(' ');
}

function annotation(rng: Rng): TranscriptAnnotation {
    if (rng.chance(0.5)) {
        const [category, phrases] = rng.pick(CATEGORIES);
        return { tracker: category, phrase: rng.pick(phrases), category };
    }
    return { label: rng.pick(AI_LABELS), phrase: clause(rng, 'us').split(' ').slice(0, 4).join(' ') };
}

/** Picks who talks: mostly the organising rep and the main prospect, sometimes anyone else on the call. */
function speakerAt(rng: Rng, speakers: readonly Speaker[], previous: Speaker | undefined): Speaker {
    const rep = speakers[0];
    const prospect = speakers.find((speaker) => speaker.userId === undefined) ?? speakers[1];
    if (rep === undefined) {
        throw new Error('a transcript needs at least one speaker');
    }
    if (speakers.length > 2 && rng.chance(0.2)) {
        return rng.pick(speakers);
    }
    if (prospect === undefined) {
        return rep;
    }
    // Alternate most of the time, with the occasional double turn.
    if (previous === rep) {
        return rng.chance(0.85) ? prospect : rep;
    }
    return rng.chance(0.85) ? rep : prospect;
}

export function generateTranscript(
    seed: number,
    record: CallRecord,
    speakers: readonly Speaker[],
    accountShortName: string
): TranscriptTurn[] {
    const rng = rngFor(seed, record, Stream.transcript);
    const averageTurnSec = rng.float(5.5, 8.5);
    const turnCount = Math.max(3, Math.round(record.durationSec / averageTurnSec));
    const slotSec = record.durationSec / turnCount;
    const turns: TranscriptTurn[] = [];
    let previous: Speaker | undefined;
    for (let index = 0; index < turnCount; index++) {
        const start = index * slotSec + rng.float(0, slotSec * 0.1);
        const end = start + slotSec * rng.float(0.6, 0.88);
        const speaker = speakerAt(rng, speakers, previous);
        previous = speaker;
        const turn: TranscriptTurn = {
            text: turnText(rng, Math.min(120, Math.max(3, Math.round((end - start) * 2.3))), accountShortName),
            start: round2(start),
            end: round2(end),
            personId: speaker.personId
        };
        if (rng.chance(0.04)) {
            turn.annotations = [annotation(rng)];
        }
        turns.push(turn);
    }
    return turns;
}

/** Topic names are needed for filterTopics on every listed call, so they come from their own cheap stream. */
export function topicNames(seed: number, record: CallRecord): string[] {
    const rng = rngFor(seed, record, Stream.topics);
    const count = record.durationSec < 600 ? rng.int(1, 2) : rng.int(3, 6);
    return rng.sample(TOPICS, count).map(([name]) => name);
}

function looseTimestamp(rng: Rng, seconds: number, style: CallRecord['timestampStyle']): LooseTimestamp {
    const value = round2(seconds);
    if (style === 'number') {
        return value;
    }
    if (style === 'nan-mixed' && rng.chance(0.35)) {
        return 'NaN';
    }
    return String(value);
}

export function generateSummary(seed: number, record: CallRecord, speakers: readonly Speaker[], accountName: string): CallSummary {
    // A silent change regenerates only the summary: the transcript and metrics (in the list payload) stay as they were.
    const revision = record.summaryRevision ?? 0;
    const rng =
        revision === 0 ? rngFor(seed, record, Stream.summary) : new Rng(seed, record.seq, record.contentVersion, Stream.summary, revision);
    const names = topicNames(seed, record);
    const segmentSec = record.durationSec / names.length;
    const topics = names.map((name, index) => ({
        name,
        start_timestamp: looseTimestamp(rng, index * segmentSec, record.timestampStyle),
        end_timestamp: looseTimestamp(rng, (index + 1) * segmentSec - 1, record.timestampStyle),
        summary: TOPICS.find(([topic]) => topic === name)?.[1] ?? name
    }));
    const actionItems = rng.sample(ACTION_ITEMS, rng.int(1, 4)).map((actionItem) => {
        const at = rng.float(0.5, 0.98) * record.durationSec;
        return {
            action_item: actionItem,
            speaker_name: rng.pick(speakers).name,
            start_timestamp: looseTimestamp(rng, at, record.timestampStyle),
            end_timestamp: looseTimestamp(rng, at + rng.float(3, 20), record.timestampStyle)
        };
    });
    const rep = speakers[0]?.name ?? 'The rep';
    const prospect = speakers.find((speaker) => speaker.userId === undefined)?.name ?? 'the prospect';
    const fullSummary = [
        `${rep} met with ${prospect} from ${accountName} to discuss ${names.slice(0, 2).join(' and ').toLowerCase()}.`,
        ...topics.slice(0, 3).map((topic) => topic.summary),
        `The call ended with ${actionItems.length} agreed follow-up item${actionItems.length === 1 ? '' : 's'}.`
    ].join(' ');
    return { full_summary: fullSummary, topics_discussed: topics, key_action_items: actionItems };
}

export function generateSentiments(
    seed: number,
    record: CallRecord,
    transcript: readonly TranscriptTurn[],
    speakers: readonly Speaker[]
): CompetitorSentiment[] {
    const rng = rngFor(seed, record, Stream.sentiments);
    const externals = speakers.filter((speaker) => speaker.userId === undefined);
    if (externals.length === 0 || transcript.length === 0 || !rng.chance(0.35)) {
        return [];
    }
    return rng.sample(COMPETITORS, rng.int(1, 2)).map((competitor) => {
        const sentiment = rng.pick(SENTIMENTS);
        return {
            competitor_name: competitor,
            sentiment,
            reasoning: `The prospect mentioned ${competitor} and sounded ${sentiment.toLowerCase()} about it: ${clause(rng, 'their team')}.`,
            personId: rng.pick(externals).personId,
            turn_start_time: String(rng.pick(transcript).start)
        };
    });
}

export function generateMetrics(seed: number, record: CallRecord, speakers: readonly Speaker[]): CallMetrics {
    const rng = rngFor(seed, record, Stream.metrics);
    const duration = record.durationSec;
    const categories: MetricCategory[] = rng.sample(CATEGORIES, rng.int(1, 4)).map(([name, phrases]) => {
        const matches = Array.from({ length: rng.int(1, 4) }, () => {
            const speaker = rng.pick(speakers);
            return {
                text: rng.pick(phrases),
                user_id: speaker.userId ?? String(speaker.personId),
                name: speaker.name,
                time: round2(rng.float(0, duration))
            };
        }).sort((a, b) => a.time - b.time);
        return { name, occurences: matches.length + rng.int(0, 3), phrases_matched: matches, ai_detected: rng.chance(0.3) };
    });
    const longest = round2(rng.float(0.02, 0.15) * duration);
    const questions = rng.int(0, Math.max(1, Math.round(duration / 90)));
    return {
        talk_listen_ratio: round2(rng.float(0.3, 0.75)),
        num_questions_asked: questions,
        num_questions_asked_by_reps: Math.round(questions * rng.float(0.4, 0.8)),
        call_duration: duration,
        total_speak_duration: round2(duration * rng.float(0.75, 0.92)),
        longest_monologue_duration: longest,
        longest_monologue_start_time: round2(rng.float(0, Math.max(0, duration - longest))),
        engaging_questions: rng.int(0, Math.max(0, Math.round(questions / 3))),
        categories
    };
}
