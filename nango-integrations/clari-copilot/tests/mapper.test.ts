import { describe, expect, it } from 'vitest';
import { toCallRecord, toSeconds } from '../mapper.js';
import { rawCallDetailsSchema, rawCallSchema, parseCall } from '../schemas.js';

function mapRaw(payload: unknown) {
    return toCallRecord(rawCallDetailsSchema.parse(payload));
}

describe('toCallRecord', () => {
    it('turns every field Clari omitted into null, inventing no "" or 0 or []', () => {
        const record = mapRaw({ id: 'c1', time: '2026-01-05T10:00:00Z' });
        const { id, time, ...rest } = record;
        expect(id).toBe('c1');
        expect(time).toBe('2026-01-05T10:00:00.000Z');
        for (const [field, value] of Object.entries(rest)) {
            expect(value, field).toBeNull();
        }
    });

    it('keeps audio_url: null and a RECORDING type, which the spec does not list for calls', () => {
        const record = mapRaw({ id: 'c2', time: '2026-01-05T10:00:00Z', audio_url: null, video_url: 'https://v', type: 'RECORDING' });
        expect(record.audio_url).toBeNull();
        expect(record.video_url).toBe('https://v');
        expect(record.type).toBe('RECORDING');
    });

    it('normalises personId, sent as a number or a string, to a string everywhere', () => {
        const record = mapRaw({
            id: 'c3',
            time: '2026-01-05T10:00:00Z',
            users: [{ userId: 'u1', userEmail: 'rep@example.com', isOrganizer: true, personId: 17 }],
            externalParticipants: [{ name: 'Pat', personId: '18' }, { email: 'x@example.com' }],
            transcript: [
                { text: 'Hello', start: 0, end: 1.5, personId: 17 },
                { text: 'Hi', start: 1.5, end: 2, personId: '18', annotations: [{ tracker: 'pricing', phrase: 'price' }] }
            ],
            competitor_sentiments: [{ competitor_name: 'Acme', sentiment: 'negative', personId: 18, turn_start_time: '12.5' }]
        });
        expect(record.users).toEqual([{ userId: 'u1', userEmail: 'rep@example.com', isOrganizer: true, personId: '17' }]);
        expect(record.externalParticipants).toEqual([
            { name: 'Pat', email: null, phone: null, personId: '18' },
            { name: null, email: 'x@example.com', phone: null, personId: null }
        ]);
        expect(record.transcript?.map((turn) => turn.personId)).toEqual(['17', '18']);
        expect(record.transcript?.[0]?.annotations).toBeNull();
        expect(record.transcript?.[1]?.annotations).toEqual([{ tracker: 'pricing', label: null, phrase: 'price', category: null }]);
        expect(record.competitor_sentiments).toEqual([
            { competitor_name: 'Acme', sentiment: 'negative', reasoning: null, personId: '18', turn_start_time: 12.5 }
        ]);
    });

    it('reads summary timestamps sent as numbers, numeric strings or "NaN"', () => {
        const record = mapRaw({
            id: 'c4',
            time: '2026-01-05T10:00:00Z',
            summary: {
                full_summary: 'We agreed on a pilot.',
                topics_discussed: [
                    { name: 'Pricing', start_timestamp: 12, end_timestamp: '95.5', summary: 'Discount asked' },
                    { name: 'Next steps', start_timestamp: 'NaN', end_timestamp: 'NaN' }
                ],
                key_action_items: [{ action_item: 'Send proposal', speaker_name: 'Sam', start_timestamp: '300', end_timestamp: 'NaN' }]
            }
        });
        expect(record.summary).toEqual({
            full_summary: 'We agreed on a pilot.',
            topics_discussed: [
                { name: 'Pricing', start_timestamp: 12, end_timestamp: 95.5, summary: 'Discount asked' },
                { name: 'Next steps', start_timestamp: null, end_timestamp: null, summary: null }
            ],
            key_action_items: [{ action_item: 'Send proposal', speaker_name: 'Sam', start_timestamp: 300, end_timestamp: null }]
        });
        expect(toSeconds('')).toBeNull();
        expect(toSeconds('abc')).toBeNull();
    });

    it('maps crm_info, metrics with categories, and normalises date-time flavours', () => {
        const record = mapRaw({
            id: 'c5',
            time: '2026-01-05T10:00:00+0000',
            last_modified_time: '2026-01-05T11:30:00.000Z',
            deal_close_date: '2026-03-31T00:00:00Z',
            crm_info: { source_crm: 'SALESFORCE', deal_id: 'D1' },
            metrics: {
                talk_listen_ratio: 0.42,
                call_duration: 1800,
                categories: [{ name: 'Pricing', occurences: 2, phrases_matched: [{ text: 'price', time: 31.2 }], ai_detected: false }]
            }
        });
        expect(record.time).toBe('2026-01-05T10:00:00.000Z');
        expect(record.last_modified_time).toBe('2026-01-05T11:30:00.000Z');
        expect(record.crm_info).toEqual({ source_crm: 'SALESFORCE', deal_id: 'D1', account_id: null, contact_ids: null });
        expect(record.metrics?.talk_listen_ratio).toBe(0.42);
        expect(record.metrics?.num_questions_asked).toBeNull();
        expect(record.metrics?.categories).toEqual([
            {
                name: 'Pricing',
                occurences: 2,
                phrases_matched: [{ text: 'price', user_id: null, name: null, time: 31.2 }],
                ai_detected: false
            }
        ]);
    });
});

describe('raw call validation', () => {
    it('rejects a call without an id or with an unreadable time, and says which field', () => {
        const noId = parseCall(rawCallSchema, { time: '2026-01-05T10:00:00Z' });
        expect(noId).toMatchObject({ ok: false, id: null });
        const badTime = parseCall(rawCallSchema, { id: 'c6', time: 'not-a-date' });
        expect(badTime.ok).toBe(false);
        expect(badTime.ok ? '' : badTime.reason).toContain('time');
        expect(badTime.ok ? null : badTime.id).toBe('c6');
    });

    it('rejects wrongly typed nested data instead of passing it through', () => {
        const result = parseCall(rawCallSchema, { id: 'c7', time: '2026-01-05T10:00:00Z', users: 'rep@example.com' });
        expect(result.ok).toBe(false);
        expect(result.ok ? '' : result.reason).toContain('users');
    });
});
