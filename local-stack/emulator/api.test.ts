import { beforeAll, describe, expect, it } from 'vitest';
import { createClariEmulator, type ClariEmulator } from './server.js';
import { listAll, request, truth, type CallsPage, type ListedCall } from './test-helpers.js';

/** Behaviour of /calls and /call-details: auth, validation, paging, filters, sorting, privacy and media URLs. */

const NOW = new Date('2025-06-01T12:00:00Z');

describe('Clari API behaviour', () => {
    let emulator: ClariEmulator;
    let everything: ListedCall[];

    beforeAll(async () => {
        emulator = createClariEmulator({ calls: 450, seed: 3, rate: 0, now: NOW });
        everything = await truth(emulator, '&includePrivate=true&details=false');
    });

    it('answers 401 without or with wrong credentials, whatever the header case', async () => {
        const missing = await request(emulator, '/calls', { headers: {} });
        expect(missing.status).toBe(401);
        expect(missing.body['errorMessage']).toMatch(/^Credentials not provided!/);
        const onlyKey = await request(emulator, '/call-details?id=x', { headers: { 'X-Api-Key': 'emulator-key' } });
        expect(onlyKey.status).toBe(401);
        const wrong = await request(emulator, '/calls', { headers: { 'X-Api-Key': 'emulator-key', 'X-Api-Password': 'nope' } });
        expect(wrong.status).toBe(401);
        expect(wrong.body['errorMessage']).toMatch(/credentials/i);
        const shouting = await request(emulator, '/calls?limit=1', {
            headers: { 'X-API-KEY': 'emulator-key', 'X-API-PASSWORD': 'emulator-password' }
        });
        expect(shouting.status).toBe(200);
    });

    it.each([
        ['skip=10001', 'skip'],
        ['skip=-1', 'skip'],
        ['skip=1.5', 'skip'],
        ['limit=101', 'limit'],
        ['limit=0', 'limit'],
        ['limit=ten', 'limit'],
        ['filterTimeGt=yesterday', 'filterTimeGt'],
        ['filterModifiedLt=2024-02-30T00:00:00Z', 'filterModifiedLt'],
        ['filterTimeLt=2024-01-01T00:00:00+0000', 'filterTimeLt'], // unencoded "+" decodes to a space
        ['filterStatus=DONE', 'filterStatus'],
        ['filterType=SKYPE', 'filterType'],
        ['filterDurationGt=7201', 'filterDurationGt'],
        ['sortTime=up', 'sortTime'],
        ['includePrivate=yes', 'includePrivate'],
        ['includePagination=maybe', 'includePagination']
    ])('answers 400 naming the parameter for %s', async (query, parameter) => {
        const response = await request(emulator, `/calls?${query}`);
        expect(response.status).toBe(400);
        expect(response.body['errorMessage']).toContain(parameter);
    });

    it('accepts the bounds, encoded offsets and ignores unknown parameters', async () => {
        for (const query of [
            'skip=10000',
            'limit=100',
            'limit=1',
            'filterTimeGt=2024-01-01T00:00:00%2B0000',
            'filterTimeGt=2024-01-01T00:00:00.123%2B01:00',
            'whatever=1'
        ]) {
            expect((await request(emulator, `/calls?${query}`)).status, query).toBe(200);
        }
        expect((await request(emulator, '/call-details')).status).toBe(400);
    });

    it('pages through every public call exactly once, without nextPageSkip on the last page', async () => {
        const { calls, pages } = await listAll(emulator, '', 100);
        const publicIds = everything.filter((call) => call.private !== true).map((call) => call.id);
        expect(calls.map((call) => call.id)).toEqual(publicIds);
        expect(new Set(calls.map((call) => call.id)).size).toBe(calls.length);
        pages.slice(0, -1).forEach((page, index) => {
            expect(page.pagination).toEqual({ matched: publicIds.length, hasMore: true, nextPageSkip: (index + 1) * 100 });
        });
        expect(pages.at(-1)?.pagination).toEqual({ matched: publicIds.length, hasMore: false });
        expect(pages.at(-1)?.calls.length).toBe(publicIds.length % 100);
    });

    it('orders by time desc by default, ties broken by id, and honours sortTime / sortProcessed', async () => {
        const { calls } = await listAll(emulator);
        const key = (call: ListedCall): string => `${call.time}|${call.id}`;
        for (let index = 1; index < calls.length; index++) {
            const [previous, current] = [calls[index - 1], calls[index]];
            if (previous && current) {
                const sameTime = previous.time === current.time;
                expect(sameTime ? previous.id < current.id : previous.time > current.time, key(current)).toBe(true);
            }
        }
        expect(new Set(calls.map((call) => call.time)).size).toBeLessThan(calls.length); // there are ties to break
        const ascending = (await listAll(emulator, '&sortTime=asc')).calls.map((call) => call.time);
        expect(ascending).toEqual([...ascending].sort());
        const processed = (await listAll(emulator, '&sortProcessed=desc')).calls.map((call) => call.last_modified_time);
        expect(processed).toEqual([...processed].sort().reverse());
    });

    it('applies time and modified filters strictly (Gt is >, Lt is <)', async () => {
        const pivot = everything.find((call) => call.private !== true && call.status === 'POST_PROCESSING_DONE');
        if (!pivot) {
            throw new Error('no pivot call');
        }
        const ids = async (query: string): Promise<string[]> => (await listAll(emulator, query)).calls.map((call) => call.id);
        const justBefore = (iso: string): string => encodeURIComponent(new Date(Date.parse(iso) - 1).toISOString());
        const justAfter = (iso: string): string => encodeURIComponent(new Date(Date.parse(iso) + 1).toISOString());
        expect(await ids(`&filterTimeGt=${encodeURIComponent(pivot.time)}`)).not.toContain(pivot.id);
        expect(await ids(`&filterTimeGt=${justBefore(pivot.time)}`)).toContain(pivot.id);
        expect(await ids(`&filterTimeLt=${encodeURIComponent(pivot.time)}`)).not.toContain(pivot.id);
        expect(await ids(`&filterTimeLt=${justAfter(pivot.time)}`)).toContain(pivot.id);
        expect(await ids(`&filterModifiedGt=${encodeURIComponent(pivot.last_modified_time)}`)).not.toContain(pivot.id);
        expect(
            await ids(`&filterModifiedGt=${justBefore(pivot.last_modified_time)}&filterModifiedLt=${justAfter(pivot.last_modified_time)}`)
        ).toContain(pivot.id);
        const window = await listAll(emulator, `&filterTimeGt=${justBefore(pivot.time)}&filterTimeLt=${justAfter(pivot.time)}`);
        expect(window.calls.every((call) => call.time === pivot.time)).toBe(true);
    });

    it('filters by status, type, user, attendee, source id and duration (repeated or comma-separated)', async () => {
        const publicCalls = everything.filter((call) => call.private !== true);
        const count = async (query: string): Promise<number> =>
            (await request<CallsPage>(emulator, `/calls?limit=1${query}`)).body.pagination?.matched ?? -1;
        const byStatus = (status: string): number => publicCalls.filter((call) => call.status === status).length;
        expect(await count('&filterStatus=PROCESSING&filterStatus=NOBODY_JOINED_CALL')).toBe(
            byStatus('PROCESSING') + byStatus('NOBODY_JOINED_CALL')
        );
        expect(await count('&filterStatus=PROCESSING,NOBODY_JOINED_CALL')).toBe(byStatus('PROCESSING') + byStatus('NOBODY_JOINED_CALL'));
        expect(await count('&filterType=RECORDING')).toBe(publicCalls.filter((call) => call.type === 'RECORDING').length);

        const sample = publicCalls.find(
            (call) => call.source_id !== undefined && Array.isArray(call.users) && call.externalParticipants.some((p) => p.email)
        );
        if (!sample || !Array.isArray(sample.users)) {
            throw new Error('no sample call');
        }
        const email = sample.users[0]?.userEmail ?? '';
        const expectedForUser = publicCalls.filter(
            (call) => Array.isArray(call.users) && call.users.some((user) => user.userEmail === email)
        ).length;
        expect(await count(`&filterUser=${email.toUpperCase()}`)).toBe(expectedForUser);
        const attendee = sample.externalParticipants.find((p) => p.email)?.email ?? '';
        const matchedAttendee = (await listAll(emulator, `&filterAttendees=${attendee}`)).calls;
        expect(matchedAttendee.map((call) => call.id)).toContain(sample.id);
        expect(matchedAttendee.every((call) => call.externalParticipants.some((p) => p.email === attendee))).toBe(true);
        expect((await listAll(emulator, `&filterSourceId=${sample.source_id ?? ''},nope`)).calls.map((call) => call.id)).toEqual([
            sample.id
        ]);

        const long = (await listAll(emulator, '&filterDurationGt=2400')).calls;
        expect(long.length).toBeGreaterThan(0);
        expect(long.every((call) => (call.metrics?.call_duration ?? 0) > 2400)).toBe(true);
        expect(await count('&filterDurationGt=2400&filterDurationLt=2400')).toBe(0);

        const topic = (await listAll(emulator, '&filterTopics=pricing')).calls;
        expect(topic.length).toBeGreaterThan(0);
        const firstTopicCall = await request<{ call: ListedCall }>(emulator, `/call-details?id=${topic[0]?.id ?? ''}`);
        expect(firstTopicCall.body.call.summary?.topics_discussed.map((entry) => entry.name)).toContain('Pricing');
    });

    it('leaves private calls out unless includePrivate, and answers 404 for their details', async () => {
        const privateCalls = everything.filter((call) => call.private === true);
        expect(privateCalls.length).toBeGreaterThan(0);
        const listed = new Set((await listAll(emulator)).calls.map((call) => call.id));
        expect(privateCalls.some((call) => listed.has(call.id))).toBe(false);
        for (const flag of ['true', '1']) {
            const withPrivate = new Set((await listAll(emulator, `&includePrivate=${flag}`)).calls.map((call) => call.id));
            expect(privateCalls.every((call) => withPrivate.has(call.id))).toBe(true);
        }
        const hidden = await request(emulator, `/call-details?id=${privateCalls[0]?.id ?? ''}`);
        expect(hidden.status).toBe(404);
        expect(hidden.body['errorMessage']).toBe('Call not found');
    });

    it('keeps transcript, summary and sentiments out of the list and puts them in details', async () => {
        const { calls } = await listAll(emulator);
        for (const field of ['transcript', 'summary', 'competitor_sentiments', 'deal_stage_live']) {
            expect(
                calls.some((call) => field in call),
                field
            ).toBe(false);
        }
        const processed = calls.find((call) => call.status === 'POST_PROCESSING_DONE');
        const details = await request<{ call: ListedCall }>(emulator, `/call-details?id=${processed?.id ?? ''}`);
        expect(details.body.call.transcript?.length).toBeGreaterThan(0);
        expect(details.body.call.summary).toBeDefined();
        expect(Array.isArray(details.body.call.competitor_sentiments)).toBe(true);
        const pending = calls.find((call) => call.status === 'PROCESSING');
        const pendingDetails = await request<{ call: ListedCall }>(emulator, `/call-details?id=${pending?.id ?? ''}`);
        expect(pendingDetails.body.call.transcript).toBeUndefined();
        expect(pendingDetails.body.call.summary).toBeUndefined();
    });

    it('includes future SCHEDULED calls without content', () => {
        const future = everything.filter((call) => Date.parse(call.time) > NOW.getTime());
        expect(future.length).toBe(8);
        expect(future.every((call) => call.status === 'SCHEDULED')).toBe(true);
    });

    it('signs media URLs on its own host for 4 hours, only when asked', async () => {
        const plain = (await request<CallsPage>(emulator, '/calls?limit=100')).body.calls;
        expect(plain.some((call) => 'audio_url' in call || 'video_url' in call)).toBe(false);
        const withMedia = (await request<CallsPage>(emulator, '/calls?limit=100&includeAudio=true&includeVideo=true')).body.calls;
        expect(withMedia.every((call) => 'audio_url' in call)).toBe(true);
        expect(withMedia.some((call) => call.audio_url === null)).toBe(true);
        const signed = withMedia.find((call) => typeof call.audio_url === 'string' && call.video_url !== undefined);
        const url = new URL(signed?.audio_url ?? '');
        expect(url.hostname).toBe('localhost'); // the host the request came to (inject uses localhost:80)
        const expiresInSec = Number(url.searchParams.get('expires')) - Date.now() / 1000;
        expect(expiresInSec).toBeGreaterThan(4 * 3600 - 60);
        expect(expiresInSec).toBeLessThanOrEqual(4 * 3600);
        const media = await emulator.app.inject({ url: url.pathname + url.search });
        expect(media.statusCode).toBe(200);
        const details = await request<{ call: ListedCall }>(emulator, `/call-details?id=${signed?.id ?? ''}&includeVideo=true`);
        expect(details.body.call.video_url).toMatch(/expires=/);
        expect(details.body.call.audio_url).toBeUndefined();
    });

    it('omits pagination when includePagination=false', async () => {
        const response = await request<CallsPage>(emulator, '/calls?includePagination=false');
        expect(response.body.calls).toHaveLength(25);
        expect('pagination' in response.body).toBe(false);
    });
});
