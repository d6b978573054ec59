import type { Call, CallParticipant, CallUser } from '../models.js';
import type { RawCallDetails } from './schemas.js';

/*
 * The one place where Clari's raw call becomes our `Call` record.
 * Rule: a value Clari omitted is `null`, never an invented "" or 0 or [].
 */

type Maybe<T> = T | null | undefined;

function orNull<T>(value: Maybe<T>): T | null {
    return value ?? null;
}

function mapList<T, R>(items: Maybe<T[]>, map: (item: T) => R): R[] | null {
    return items == null ? null : items.map(map);
}

/** Clari sends `personId` as a number on some calls and a string on others; one type makes joins work. */
function toPersonId(value: Maybe<number | string>): string | null {
    return value == null ? null : String(value);
}

/** Seconds arrive as numbers, numeric strings or "NaN"; anything that is not a finite number becomes null. */
export function toSeconds(value: Maybe<number | string>): number | null {
    if (value == null) {
        return null;
    }
    const seconds = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
    return Number.isFinite(seconds) ? seconds : null;
}

function toUser(user: NonNullable<RawCallDetails['users']>[number]): CallUser {
    return {
        userId: orNull(user.userId),
        userEmail: orNull(user.userEmail),
        isOrganizer: orNull(user.isOrganizer),
        personId: toPersonId(user.personId)
    };
}

function toParticipant(participant: NonNullable<RawCallDetails['externalParticipants']>[number]): CallParticipant {
    return {
        name: orNull(participant.name),
        email: orNull(participant.email),
        phone: orNull(participant.phone),
        personId: toPersonId(participant.personId)
    };
}

export function toCallRecord(call: RawCallDetails): Call {
    const { crm_info: crm, metrics, summary } = call;
    return {
        id: call.id,
        source_id: orNull(call.source_id),
        title: orNull(call.title),
        users: mapList(call.users, toUser),
        externalParticipants: mapList(call.externalParticipants, toParticipant),
        status: orNull(call.status),
        bot_not_join_reason: orNull(call.bot_not_join_reason),
        type: orNull(call.type),
        time: call.time,
        icaluid: orNull(call.icaluid),
        calendar_id: orNull(call.calendar_id),
        recurring_event_id: orNull(call.recurring_event_id),
        original_start_time: orNull(call.original_start_time),
        last_modified_time: orNull(call.last_modified_time),
        audio_url: orNull(call.audio_url),
        video_url: orNull(call.video_url),
        disposition: orNull(call.disposition),
        deal_name: orNull(call.deal_name),
        deal_value: orNull(call.deal_value),
        deal_close_date: orNull(call.deal_close_date),
        deal_stage_before_call: orNull(call.deal_stage_before_call),
        account_name: orNull(call.account_name),
        contact_names: orNull(call.contact_names),
        crm_info:
            crm == null
                ? null
                : {
                      source_crm: orNull(crm.source_crm),
                      deal_id: orNull(crm.deal_id),
                      account_id: orNull(crm.account_id),
                      contact_ids: orNull(crm.contact_ids)
                  },
        bookmark_timestamps: orNull(call.bookmark_timestamps),
        metrics:
            metrics == null
                ? null
                : {
                      talk_listen_ratio: orNull(metrics.talk_listen_ratio),
                      num_questions_asked: orNull(metrics.num_questions_asked),
                      num_questions_asked_by_reps: orNull(metrics.num_questions_asked_by_reps),
                      call_duration: orNull(metrics.call_duration),
                      total_speak_duration: orNull(metrics.total_speak_duration),
                      longest_monologue_duration: orNull(metrics.longest_monologue_duration),
                      longest_monologue_start_time: orNull(metrics.longest_monologue_start_time),
                      engaging_questions: orNull(metrics.engaging_questions),
                      categories: mapList(metrics.categories, (category) => ({
                          name: orNull(category.name),
                          occurences: orNull(category.occurences),
                          phrases_matched: mapList(category.phrases_matched, (phrase) => ({
                              text: orNull(phrase.text),
                              user_id: orNull(phrase.user_id),
                              name: orNull(phrase.name),
                              time: orNull(phrase.time)
                          })),
                          ai_detected: orNull(category.ai_detected)
                      }))
                  },
        call_review_page_url: orNull(call.call_review_page_url),
        deal_stage_live: orNull(call.deal_stage_live),
        transcript: mapList(call.transcript, (turn) => ({
            text: orNull(turn.text),
            start: orNull(turn.start),
            end: orNull(turn.end),
            personId: toPersonId(turn.personId),
            annotations: mapList(turn.annotations, (annotation) => ({
                tracker: orNull(annotation.tracker),
                label: orNull(annotation.label),
                phrase: orNull(annotation.phrase),
                category: orNull(annotation.category)
            }))
        })),
        summary:
            summary == null
                ? null
                : {
                      full_summary: orNull(summary.full_summary),
                      topics_discussed: mapList(summary.topics_discussed, (topic) => ({
                          name: orNull(topic.name),
                          start_timestamp: toSeconds(topic.start_timestamp),
                          end_timestamp: toSeconds(topic.end_timestamp),
                          summary: orNull(topic.summary)
                      })),
                      key_action_items: mapList(summary.key_action_items, (item) => ({
                          action_item: orNull(item.action_item),
                          speaker_name: orNull(item.speaker_name),
                          start_timestamp: toSeconds(item.start_timestamp),
                          end_timestamp: toSeconds(item.end_timestamp)
                      }))
                  },
        competitor_sentiments: mapList(call.competitor_sentiments, (sentiment) => ({
            competitor_name: orNull(sentiment.competitor_name),
            sentiment: orNull(sentiment.sentiment),
            reasoning: orNull(sentiment.reasoning),
            personId: toPersonId(sentiment.personId),
            turn_start_time: toSeconds(sentiment.turn_start_time)
        }))
    };
}
