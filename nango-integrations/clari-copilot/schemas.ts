import { z } from 'zod';

/*
 * Raw payloads of Clari Copilot's `GET /calls` and `GET /call-details`, as the API really sends them.
 * Built from Clari's OpenAPI spec, loosened where real payloads differ from it: fields are omitted
 * rather than null, `personId` is a number or a string, summary timestamps may be "NaN".
 * Only `id` and `time` are required: without them a call can be neither stored nor placed in a window.
 */

/** A date-time Clari sends in several ISO flavours (`Z`, `+0000`); normalised so equal instants compare equal. */
const dateTime = z.string().transform((value, ctx) => {
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) {
        ctx.addIssue({ code: 'custom', message: `not a date-time: ${JSON.stringify(value)}` });
        return z.NEVER;
    }
    return parsed.toISOString();
});

const personId = z.union([z.number(), z.string()]);
/** Seconds into the call, as a number, a numeric string, or "NaN" when Clari could not place it. */
const looseSeconds = z.union([z.number(), z.string()]);

const callUser = z.object({
    userId: z.string().nullish(),
    userEmail: z.string().nullish(),
    isOrganizer: z.boolean().nullish(),
    personId: personId.nullish()
});

const callParticipant = z.object({
    name: z.string().nullish(),
    email: z.string().nullish(),
    phone: z.string().nullish(),
    personId: personId.nullish()
});

const category = z.object({
    name: z.string().nullish(),
    occurences: z.number().nullish(),
    phrases_matched: z
        .array(
            z.object({
                text: z.string().nullish(),
                user_id: z.string().nullish(),
                name: z.string().nullish(),
                time: z.number().nullish()
            })
        )
        .nullish(),
    ai_detected: z.boolean().nullish()
});

export const rawCallSchema = z.object({
    id: z.string().min(1),
    source_id: z.string().nullish(),
    title: z.string().nullish(),
    users: z.array(callUser).nullish(),
    externalParticipants: z.array(callParticipant).nullish(),
    joinedParticipants: z.array(callParticipant).nullish(),
    status: z.string().nullish(),
    bot_not_join_reason: z.array(z.string()).nullish(),
    type: z.string().nullish(),
    time: dateTime,
    icaluid: z.string().nullish(),
    calendar_id: z.string().nullish(),
    recurring_event_id: z.string().nullish(),
    original_start_time: dateTime.nullish(),
    last_modified_time: dateTime.nullish(),
    audio_url: z.string().nullish(),
    video_url: z.string().nullish(),
    disposition: z.string().nullish(),
    deal_name: z.string().nullish(),
    deal_value: z.string().nullish(),
    deal_close_date: dateTime.nullish(),
    deal_stage_before_call: z.string().nullish(),
    account_name: z.string().nullish(),
    contact_names: z.array(z.string()).nullish(),
    crm_info: z
        .object({
            source_crm: z.string().nullish(),
            deal_id: z.string().nullish(),
            account_id: z.string().nullish(),
            contact_ids: z.array(z.string()).nullish()
        })
        .nullish(),
    bookmark_timestamps: z.array(dateTime).nullish(),
    metrics: z
        .object({
            talk_listen_ratio: z.number().nullish(),
            num_questions_asked: z.number().nullish(),
            num_questions_asked_by_reps: z.number().nullish(),
            call_duration: z.number().nullish(),
            total_speak_duration: z.number().nullish(),
            longest_monologue_duration: z.number().nullish(),
            longest_monologue_start_time: z.number().nullish(),
            engaging_questions: z.number().nullish(),
            categories: z.array(category).nullish()
        })
        .nullish(),
    call_review_page_url: z.string().nullish()
});

const transcriptTurn = z.object({
    text: z.string().nullish(),
    start: z.number().nullish(),
    end: z.number().nullish(),
    personId: personId.nullish(),
    // Tracker and AI annotations share one shape here: every field is optional in both.
    annotations: z
        .array(
            z.object({
                tracker: z.string().nullish(),
                label: z.string().nullish(),
                phrase: z.string().nullish(),
                category: z.string().nullish()
            })
        )
        .nullish()
});

export const rawCallDetailsSchema = rawCallSchema.extend({
    deal_stage_live: z.string().nullish(),
    transcript: z.array(transcriptTurn).nullish(),
    summary: z
        .object({
            full_summary: z.string().nullish(),
            topics_discussed: z
                .array(
                    z.object({
                        name: z.string().nullish(),
                        start_timestamp: looseSeconds.nullish(),
                        end_timestamp: looseSeconds.nullish(),
                        summary: z.string().nullish()
                    })
                )
                .nullish(),
            key_action_items: z
                .array(
                    z.object({
                        action_item: z.string().nullish(),
                        speaker_name: z.string().nullish(),
                        start_timestamp: looseSeconds.nullish(),
                        end_timestamp: looseSeconds.nullish()
                    })
                )
                .nullish()
        })
        .nullish(),
    competitor_sentiments: z
        .array(
            z.object({
                competitor_name: z.string().nullish(),
                sentiment: z.string().nullish(),
                reasoning: z.string().nullish(),
                personId: personId.nullish(),
                turn_start_time: looseSeconds.nullish()
            })
        )
        .nullish()
});

/** The envelope of a list page. Calls stay `unknown` here so that one bad call cannot sink its page. */
export const callsPageSchema = z.object({
    calls: z.array(z.unknown()),
    pagination: z
        .object({
            matched: z.number().int().nullish(),
            hasMore: z.boolean().nullish(),
            nextPageSkip: z.number().int().nullish()
        })
        .nullish()
});

export const callDetailsResponseSchema = z.object({ call: z.unknown() });

export type RawCall = z.infer<typeof rawCallSchema>;
export type RawCallDetails = z.infer<typeof rawCallDetailsSchema>;
export type CallsPage = z.infer<typeof callsPageSchema>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; id: string | null; reason: string };

/** Parses one call; on failure keeps whatever id the payload carried so that the skip can be logged by id. */
export function parseCall<T>(schema: z.ZodType<T>, payload: unknown): Parsed<T> {
    const result = schema.safeParse(payload);
    if (result.success) {
        return { ok: true, value: result.data };
    }
    return { ok: false, id: idOf(payload), reason: describeIssues(result.error) };
}

export function describeIssues(error: z.ZodError): string {
    return error.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
        .join('; ');
}

function idOf(payload: unknown): string | null {
    if (typeof payload === 'object' && payload !== null && 'id' in payload) {
        const id = payload.id;
        return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
    }
    return null;
}
