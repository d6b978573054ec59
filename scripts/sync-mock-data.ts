/*
 * Hand-built Clari Copilot payloads for the NangoSyncMock replay test, and the records the sync must
 * save for them. Shapes follow clari-copilot-openapi.yml plus what real recordings show: omitted
 * fields, `audio_url: null`, `type: RECORDING`, `personId` as number and string, "NaN" timestamps,
 * and a last page without `nextPageSkip`.
 */

export const MOCK_NOW = new Date('2026-06-15T12:00:00.000Z');

const fullCall = {
    id: 'cz-1001',
    source_id: 'zoom-88123',
    title: 'Acme <> Initech: pricing review',
    users: [{ userId: 'u-1', userEmail: 'sam@initech.example', isOrganizer: true, personId: 1 }],
    externalParticipants: [{ name: 'Dana Acme', email: 'dana@acme.example', personId: '2' }],
    joinedParticipants: [{ name: 'Dana Acme', personId: 2 }],
    status: 'POST_PROCESSING_DONE',
    type: 'ZOOM',
    time: '2026-05-02T15:00:00Z',
    icaluid: 'ical-77@initech.example',
    calendar_id: 'cal-sam',
    recurring_event_id: 'rec-5',
    original_start_time: '2026-05-02T15:00:00Z',
    last_modified_time: '2026-05-02T16:10:00Z',
    disposition: 'CALL_CONNECTED_WITH_PROSPECT',
    deal_name: 'Acme expansion',
    deal_value: '48000',
    deal_close_date: '2026-06-30T00:00:00Z',
    deal_stage_before_call: 'Negotiation',
    account_name: 'Acme',
    contact_names: ['Dana Acme'],
    crm_info: { source_crm: 'SALESFORCE', deal_id: '006A1', account_id: '001A1', contact_ids: ['003A1'] },
    bookmark_timestamps: ['2026-05-02T15:12:00Z'],
    metrics: {
        talk_listen_ratio: 0.46,
        num_questions_asked: 9,
        num_questions_asked_by_reps: 6,
        call_duration: 1820,
        total_speak_duration: 1610.5,
        longest_monologue_duration: 95.2,
        longest_monologue_start_time: 640.1,
        engaging_questions: 3,
        categories: [
            {
                name: 'Pricing',
                occurences: 2,
                phrases_matched: [{ text: 'discount', user_id: 'u-1', name: 'Sam', time: 412.3 }],
                ai_detected: false
            }
        ]
    },
    call_review_page_url: 'https://copilot.clari.com/call/cz-1001'
};

const recordingCall = {
    id: 'cz-1002',
    title: 'Uploaded recording',
    users: [{ userId: 'u-2', userEmail: 'lee@initech.example', isOrganizer: false, personId: '7' }],
    status: 'POST_PROCESSING_DONE',
    type: 'RECORDING',
    time: '2026-06-01T09:30:00+0000',
    last_modified_time: '2026-06-01T10:02:00+0000'
};

const missedCall = {
    id: 'cz-1003',
    title: 'Weekly sync',
    status: 'NOBODY_JOINED_CALL',
    bot_not_join_reason: ['IGNORED_NOT_EXTERNAL_MEETING'],
    type: 'GOOGLE_MEET',
    time: '2026-06-10T08:00:00Z',
    last_modified_time: '2026-06-10T08:31:00Z',
    disposition: 'CALL_NOBODY_JOINED'
};

/** `GET /calls`, newest first: the last (and only) page, so `nextPageSkip` is absent as in real recordings. */
export const listPage = {
    calls: [missedCall, recordingCall, fullCall],
    pagination: { matched: 3, hasMore: false }
};

/** `GET /call-details` answers, with media requested. */
export const callDetails = [
    {
        ...fullCall,
        audio_url: 'https://media.copilot.example/cz-1001.mp3?expires=1781543200',
        video_url: 'https://media.copilot.example/cz-1001.mp4?expires=1781543200',
        deal_stage_live: 'Closed Won',
        transcript: [
            { text: 'Thanks for joining, Dana.', start: 0.4, end: 2.1, personId: 1 },
            {
                text: 'Happy to. Can we talk discounts?',
                start: 2.3,
                end: 5.0,
                personId: '2',
                annotations: [{ tracker: 'Pricing', phrase: 'discounts', category: 'Commercial' }]
            }
        ],
        summary: {
            full_summary: 'Dana asked for a volume discount; Sam will send a revised quote.',
            topics_discussed: [
                { name: 'Discounts', start_timestamp: 2.3, end_timestamp: '95.5', summary: 'Volume discount requested.' },
                { name: 'Timeline', start_timestamp: 'NaN', end_timestamp: 'NaN', summary: 'Close by end of June.' }
            ],
            key_action_items: [{ action_item: 'Send revised quote', speaker_name: 'Sam', start_timestamp: '300', end_timestamp: 'NaN' }]
        },
        competitor_sentiments: [
            { competitor_name: 'Globex', sentiment: 'negative', reasoning: 'Too slow to onboard', personId: '2', turn_start_time: '512.0' }
        ]
    },
    { ...recordingCall, audio_url: null, transcript: [{ text: 'Recording starts.', start: 0, end: 1.2, personId: 7 }] },
    { ...missedCall }
];

const nullCall = {
    source_id: null,
    title: null,
    users: null,
    externalParticipants: null,
    status: null,
    bot_not_join_reason: null,
    type: null,
    icaluid: null,
    calendar_id: null,
    recurring_event_id: null,
    original_start_time: null,
    last_modified_time: null,
    audio_url: null,
    video_url: null,
    disposition: null,
    deal_name: null,
    deal_value: null,
    deal_close_date: null,
    deal_stage_before_call: null,
    account_name: null,
    contact_names: null,
    crm_info: null,
    bookmark_timestamps: null,
    metrics: null,
    call_review_page_url: null,
    deal_stage_live: null,
    transcript: null,
    summary: null,
    competitor_sentiments: null
};

/** What the sync must hand to batchSave, written out by hand, oldest call first. */
const expectedRecordsOldestFirst = [
    {
        ...nullCall,
        id: 'cz-1001',
        source_id: 'zoom-88123',
        title: 'Acme <> Initech: pricing review',
        users: [{ userId: 'u-1', userEmail: 'sam@initech.example', isOrganizer: true, personId: '1' }],
        externalParticipants: [{ name: 'Dana Acme', email: 'dana@acme.example', phone: null, personId: '2' }],
        status: 'POST_PROCESSING_DONE',
        type: 'ZOOM',
        time: '2026-05-02T15:00:00.000Z',
        icaluid: 'ical-77@initech.example',
        calendar_id: 'cal-sam',
        recurring_event_id: 'rec-5',
        original_start_time: '2026-05-02T15:00:00.000Z',
        last_modified_time: '2026-05-02T16:10:00.000Z',
        audio_url: 'https://media.copilot.example/cz-1001.mp3?expires=1781543200',
        video_url: 'https://media.copilot.example/cz-1001.mp4?expires=1781543200',
        disposition: 'CALL_CONNECTED_WITH_PROSPECT',
        deal_name: 'Acme expansion',
        deal_value: '48000',
        deal_close_date: '2026-06-30T00:00:00.000Z',
        deal_stage_before_call: 'Negotiation',
        account_name: 'Acme',
        contact_names: ['Dana Acme'],
        crm_info: { source_crm: 'SALESFORCE', deal_id: '006A1', account_id: '001A1', contact_ids: ['003A1'] },
        bookmark_timestamps: ['2026-05-02T15:12:00.000Z'],
        metrics: {
            talk_listen_ratio: 0.46,
            num_questions_asked: 9,
            num_questions_asked_by_reps: 6,
            call_duration: 1820,
            total_speak_duration: 1610.5,
            longest_monologue_duration: 95.2,
            longest_monologue_start_time: 640.1,
            engaging_questions: 3,
            categories: [
                {
                    name: 'Pricing',
                    occurences: 2,
                    phrases_matched: [{ text: 'discount', user_id: 'u-1', name: 'Sam', time: 412.3 }],
                    ai_detected: false
                }
            ]
        },
        call_review_page_url: 'https://copilot.clari.com/call/cz-1001',
        deal_stage_live: 'Closed Won',
        transcript: [
            { text: 'Thanks for joining, Dana.', start: 0.4, end: 2.1, personId: '1', annotations: null },
            {
                text: 'Happy to. Can we talk discounts?',
                start: 2.3,
                end: 5.0,
                personId: '2',
                annotations: [{ tracker: 'Pricing', label: null, phrase: 'discounts', category: 'Commercial' }]
            }
        ],
        summary: {
            full_summary: 'Dana asked for a volume discount; Sam will send a revised quote.',
            topics_discussed: [
                { name: 'Discounts', start_timestamp: 2.3, end_timestamp: 95.5, summary: 'Volume discount requested.' },
                { name: 'Timeline', start_timestamp: null, end_timestamp: null, summary: 'Close by end of June.' }
            ],
            key_action_items: [{ action_item: 'Send revised quote', speaker_name: 'Sam', start_timestamp: 300, end_timestamp: null }]
        },
        competitor_sentiments: [
            { competitor_name: 'Globex', sentiment: 'negative', reasoning: 'Too slow to onboard', personId: '2', turn_start_time: 512 }
        ]
    },
    {
        ...nullCall,
        id: 'cz-1002',
        title: 'Uploaded recording',
        users: [{ userId: 'u-2', userEmail: 'lee@initech.example', isOrganizer: false, personId: '7' }],
        status: 'POST_PROCESSING_DONE',
        type: 'RECORDING',
        time: '2026-06-01T09:30:00.000Z',
        last_modified_time: '2026-06-01T10:02:00.000Z',
        transcript: [{ text: 'Recording starts.', start: 0, end: 1.2, personId: '7', annotations: null }]
    },
    {
        ...nullCall,
        id: 'cz-1003',
        title: 'Weekly sync',
        status: 'NOBODY_JOINED_CALL',
        bot_not_join_reason: ['IGNORED_NOT_EXTERNAL_MEETING'],
        type: 'GOOGLE_MEET',
        time: '2026-06-10T08:00:00.000Z',
        last_modified_time: '2026-06-10T08:31:00.000Z',
        disposition: 'CALL_NOBODY_JOINED'
    }
];

/** The sync lists newest first, and saves a page in the order Clari listed it. */
export const expectedRecords = [...expectedRecordsOldestFirst].reverse();
