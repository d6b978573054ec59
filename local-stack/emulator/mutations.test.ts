import { describe, expect, it } from 'vitest';
import type { MutationResult } from './state.js';
import { createClariEmulator, type ClariEmulator } from './server.js';
import { listAll, request, truth, type CallsPage, type ListedCall } from './test-helpers.js';

/** Control-API mutations, seen through the Clari endpoints the way a sync would see them. */

const NOW = new Date('2025-06-01T12:00:00Z');

function mutate(emulator: ClariEmulator, body: Record<string, unknown>): Promise<MutationResult> {
    return request<MutationResult>(emulator, '/_control/mutate', { method: 'POST', body }).then((response) => {
        if (response.status !== 200) {
            throw new Error(`mutate answered ${response.status}: ${response.raw}`);
        }
        return response.body;
    });
}

async function details(emulator: ClariEmulator, id: string): Promise<{ status: number; call?: ListedCall }> {
    const response = await request<{ call?: ListedCall }>(emulator, `/call-details?id=${id}`);
    return { status: response.status, ...(response.body.call ? { call: response.body.call } : {}) };
}

const iso = (ms: number): string => encodeURIComponent(new Date(ms).toISOString());

describe('mutations', () => {
    it('add, modify and lateProcess move last_modified_time to the real now and show up on filterModifiedGt', async () => {
        const emulator = createClariEmulator({ calls: 300, seed: 11, rate: 0, now: NOW });
        const before = await truth(emulator, '&details=false');
        const beforeById = new Map(before.map((call) => [call.id, call]));
        const startedAt = Date.now();
        const result = await mutate(emulator, { add: 3, modify: 2, lateProcess: 2 });
        expect(result.add).toHaveLength(3);
        expect(result.modify).toHaveLength(2);
        expect(result.lateProcess).toHaveLength(2);

        const changed = (await listAll(emulator, `&filterModifiedGt=${iso(startedAt - 1)}`)).calls;
        expect(new Set(changed.map((call) => call.id))).toEqual(new Set([...result.add, ...result.modify, ...result.lateProcess]));
        for (const call of changed) {
            expect(Date.parse(call.last_modified_time)).toBeGreaterThanOrEqual(startedAt);
        }

        for (const id of result.add) {
            const added = await details(emulator, id);
            expect(added.call?.status).toBe('POST_PROCESSING_DONE');
            expect(added.call?.transcript?.length).toBeGreaterThan(0);
            expect(Date.parse(added.call?.time ?? '')).toBeLessThan(Date.now());
            expect(Date.now() - Date.parse(added.call?.time ?? '')).toBeLessThan(12 * 3_600_000);
        }
        for (const id of result.modify) {
            const modified = changed.find((call) => call.id === id);
            expect(modified?.title).not.toBe(beforeById.get(id)?.title);
            expect(modified?.time).toBe(beforeById.get(id)?.time);
        }
        for (const id of result.lateProcess) {
            const old = beforeById.get(id);
            expect(old?.status).toMatch(/PROCESSING|WAITING_IN_QUEUE|ERROR_IN_TRANSCRIBE/);
            const processed = await details(emulator, id);
            expect(processed.call?.status).toBe('POST_PROCESSING_DONE');
            expect(processed.call?.time).toBe(old?.time); // keeps its old call time...
            expect(processed.call?.transcript?.length).toBeGreaterThan(0);
            expect(processed.call?.summary).toBeDefined();
        }
        // ...so a sync filtering on call time since its last run never sees it.
        const byTime = (await listAll(emulator, `&filterTimeGt=${iso(startedAt - 1)}`)).calls.map((call) => call.id);
        expect(byTime.some((id) => result.lateProcess.includes(id))).toBe(false);
    });

    it('regenerates content when a call changes', async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 11, rate: 0, now: NOW });
        const target = (await truth(emulator, '&details=false')).find(
            (call) => call.status === 'POST_PROCESSING_DONE' && (call.metrics?.call_duration ?? 0) > 600
        );
        const id = target?.id ?? '';
        const first = await details(emulator, id);
        expect((await details(emulator, id)).call).toEqual(first.call); // stable between requests
        await mutate(emulator, { modify: [id] });
        const second = await details(emulator, id);
        expect(second.call?.transcript).not.toEqual(first.call?.transcript);
    });

    it('delete and makePrivate remove calls from the list and make details 404', async () => {
        const emulator = createClariEmulator({ calls: 300, seed: 12, rate: 0, now: NOW });
        const result = await mutate(emulator, { delete: 3, makePrivate: 2 });
        const gone = [...result.delete, ...result.makePrivate];
        expect(new Set(gone).size).toBe(5);
        for (const id of gone) {
            expect((await details(emulator, id)).status).toBe(404);
        }
        const listed = new Set((await listAll(emulator)).calls.map((call) => call.id));
        expect(gone.some((id) => listed.has(id))).toBe(false);
        const withPrivate = new Set((await listAll(emulator, '&includePrivate=true')).calls.map((call) => call.id));
        expect(result.makePrivate.every((id) => withPrivate.has(id))).toBe(true);
        expect(result.delete.some((id) => withPrivate.has(id))).toBe(false);
        const groundTruth = await truth(emulator, '&includePrivate=true&details=false');
        expect(groundTruth.some((call) => result.delete.includes(call.id))).toBe(false);
        expect(groundTruth.filter((call) => result.makePrivate.includes(call.id)).every((call) => call.private === true)).toBe(true);
        const control = await request<{ deleted: boolean }>(emulator, `/_control/calls/${result.delete[0] ?? ''}`);
        expect(control.body.deleted).toBe(true);
    });

    it('corrupt puts a schema-breaking call in the middle of the first list page', async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 13, rate: 0, now: NOW });
        const result = await mutate(emulator, { corrupt: 2 });
        const page = (await request<CallsPage>(emulator, '/calls?limit=25')).body.calls;
        const positions = result.corrupt.map((id) => page.findIndex((call) => call.id === id));
        expect(positions.every((position) => position > 0 && position < 24)).toBe(true);
        const [usersBroken, timeBroken] = result.corrupt.map((id) => page.find((call) => call.id === id));
        expect(typeof usersBroken?.users).toBe('string');
        expect(timeBroken?.time).toBe('not-a-date');
        const single = await mutate(emulator, { corrupt: [page[0]?.id ?? ''], corruptKind: 'time-not-a-date' });
        expect((await details(emulator, single.corrupt[0] ?? '')).call?.time).toBe('not-a-date');
    });

    it('rejects unknown ids and bad bodies, and reset restores the initial dataset', async () => {
        const emulator = createClariEmulator({ calls: 60, seed: 14, rate: 0, now: NOW });
        const initial = await truth(emulator, '&includePrivate=true');
        expect((await request(emulator, '/_control/mutate', { method: 'POST', body: { delete: ['no-such-call'] } })).status).toBe(400);
        expect((await request(emulator, '/_control/mutate', { method: 'POST', body: { explode: 1 } })).status).toBe(400);
        await mutate(emulator, { add: 2, delete: 2, modify: 2, corrupt: 1 });
        expect(await truth(emulator, '&includePrivate=true')).not.toEqual(initial);
        await request(emulator, '/_control/reset', { method: 'POST' });
        expect(await truth(emulator, '&includePrivate=true')).toEqual(initial);
    });
});

const DAY_MS = 86_400_000;

async function page(emulator: ClariEmulator, query: string): Promise<CallsPage> {
    const response = await request<CallsPage>(emulator, `/calls?${query}`);
    if (response.status !== 200) {
        throw new Error(`GET /calls answered ${response.status}: ${response.raw}`);
    }
    return response.body;
}

describe('reschedule', () => {
    it('moves a call one day earlier by default, stamps last_modified_time, and re-sorts every order', async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 21, rate: 0, now: NOW });
        // Fill the sort caches first: a stale cache would keep the old positions.
        const ascendingBefore = (await listAll(emulator, '&sortTime=asc')).calls.map((call) => call.id);
        await listAll(emulator, '&sortProcessed=desc');
        const before = await truth(emulator, '&details=false');
        // A call with a neighbour less than a day before it, so moving a day earlier changes its position.
        const index = before.findIndex(
            (call, position) => position > 0 && Date.parse(call.time) - Date.parse(before[position + 1]?.time ?? '') < DAY_MS / 2
        );
        const target = before[index];
        const startedAt = Date.now();
        const result = await mutate(emulator, { reschedule: [target?.id ?? ''] });
        expect(result.reschedule).toEqual([target?.id]);

        const after = await truth(emulator, '&details=false');
        const moved = after.find((call) => call.id === target?.id);
        expect(Date.parse(moved?.time ?? '')).toBe(Date.parse(target?.time ?? '') - DAY_MS);
        expect(Date.parse(moved?.last_modified_time ?? '')).toBeGreaterThanOrEqual(startedAt);
        expect(after.findIndex((call) => call.id === target?.id)).toBeGreaterThan(index);

        const ascending = (await listAll(emulator, '&sortTime=asc')).calls;
        expect(ascending.map((call) => call.id)).not.toEqual(ascendingBefore);
        const times = ascending.map((call) => call.time);
        expect(times).toEqual([...times].sort());
        const processed = (await listAll(emulator, '&sortProcessed=desc')).calls;
        expect(processed[0]?.id).toBe(target?.id);
        const byTime = (await listAll(emulator, `&filterTimeLt=${iso(Date.parse(target?.time ?? '') - DAY_MS + 1)}`)).calls;
        expect(byTime.map((call) => call.id)).toContain(target?.id);
    });

    it('honours rescheduleBy and rescheduleTouches: false leaves last_modified_time alone', async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 22, rate: 0, now: NOW });
        const before = new Map((await truth(emulator, '&details=false')).map((call) => [call.id, call]));
        const startedAt = Date.now();
        const result = await mutate(emulator, { reschedule: 3, rescheduleBy: 2 * 3_600_000, rescheduleTouches: false });
        expect(result.reschedule).toHaveLength(3);
        const after = new Map((await truth(emulator, '&details=false')).map((call) => [call.id, call]));
        for (const id of result.reschedule) {
            expect(Date.parse(after.get(id)?.time ?? '')).toBe(Date.parse(before.get(id)?.time ?? '') + 2 * 3_600_000);
            expect(after.get(id)?.last_modified_time).toBe(before.get(id)?.last_modified_time);
        }
        expect((await listAll(emulator, `&filterModifiedGt=${iso(startedAt - 1)}`)).calls).toEqual([]);
    });

    it("rescheduleTo: 'future' puts calls on a business hour 1 to 14 days after now", async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 23, rate: 0, now: NOW });
        const result = await mutate(emulator, { reschedule: 6, rescheduleTo: 'future' });
        const startOfToday = Math.floor(Date.now() / DAY_MS) * DAY_MS;
        for (const id of result.reschedule) {
            const call = (await details(emulator, id)).call;
            const time = Date.parse(call?.time ?? '');
            expect(time).toBeGreaterThanOrEqual(startOfToday + DAY_MS);
            expect(time).toBeLessThan(startOfToday + 15 * DAY_MS);
            expect(new Date(time).getUTCHours()).toBeGreaterThanOrEqual(13);
            expect(new Date(time).getUTCHours()).toBeLessThanOrEqual(22);
        }
        const future = (await listAll(emulator, `&filterTimeGt=${iso(Date.now())}`)).calls.map((call) => call.id);
        expect(result.reschedule.every((id) => future.includes(id))).toBe(true);
    });

    it('rejects options that contradict each other or lack reschedule', async () => {
        const emulator = createClariEmulator({ calls: 40, seed: 24, rate: 0, now: NOW });
        for (const body of [
            { reschedule: 1, rescheduleBy: 1000, rescheduleTo: 'future' },
            { rescheduleBy: 1000 },
            { reschedule: 1, rescheduleTo: 'past' },
            { reschedule: 1, rescheduleBy: 1.5 }
        ]) {
            expect((await request(emulator, '/_control/mutate', { method: 'POST', body })).status, JSON.stringify(body)).toBe(400);
        }
    });
});

describe('silentChange', () => {
    it('changes the summary and deal_stage_live of details only, without moving last_modified_time', async () => {
        const emulator = createClariEmulator({ calls: 300, seed: 25, rate: 0, now: NOW });
        const listBefore = await truth(emulator, '&details=false');
        const withDeal = (
            await Promise.all(
                listBefore
                    .filter((call) => call.status === 'POST_PROCESSING_DONE')
                    .map(async (call) => (await details(emulator, call.id)).call)
            )
        ).find((call) => call?.deal_stage_live !== undefined);
        const id = withDeal?.id ?? '';
        const startedAt = Date.now();
        const result = await mutate(emulator, { silentChange: [id] });
        expect(result.silentChange).toEqual([id]);

        const after = (await details(emulator, id)).call;
        expect(after?.summary).not.toEqual(withDeal?.summary);
        expect(after?.deal_stage_live).not.toBe(withDeal?.deal_stage_live);
        expect(after?.transcript).toEqual(withDeal?.transcript);
        expect(after?.last_modified_time).toBe(withDeal?.last_modified_time);
        expect(await truth(emulator, '&details=false')).toEqual(listBefore);
        expect((await listAll(emulator, `&filterModifiedGt=${iso(startedAt - 1)}`)).calls).toEqual([]);

        const again = await mutate(emulator, { silentChange: [id] });
        expect(again.silentChange).toEqual([id]);
        expect((await details(emulator, id)).call?.summary).not.toEqual(after?.summary);
    });

    it('picks processed public calls for a count, and refuses a call with nothing to change', async () => {
        const emulator = createClariEmulator({ calls: 300, seed: 26, rate: 0, now: NOW });
        const result = await mutate(emulator, { silentChange: 4 });
        expect(result.silentChange).toHaveLength(4);
        const listed = await truth(emulator, '&details=false');
        for (const id of result.silentChange) {
            expect(listed.find((call) => call.id === id)?.status).toMatch(/^(POST_PROCESSING_DONE|PROCESSED)$/);
        }
        const truthWithDetails = await truth(emulator);
        const bare = truthWithDetails.find((call) => call.summary === undefined && call.deal_stage_live === undefined);
        const refused = await request(emulator, '/_control/mutate', { method: 'POST', body: { silentChange: [bare?.id ?? ''] } });
        expect(refused.status).toBe(400);
    });
});

interface Queued {
    id: string;
    status: 'pending' | 'applied' | 'failed';
    remaining: number;
    afterListRequests: number;
    result?: MutationResult;
    error?: string;
}

describe('mutations queued during paging', () => {
    it('applies just before the n-th following /calls request, and reports the result', async () => {
        const emulator = createClariEmulator({ calls: 300, seed: 27, rate: 0, now: NOW });
        const first = await page(emulator, 'limit=50&skip=0');
        const victim = first.calls[10]?.id ?? '';
        const queued = await request<{ queued: boolean; mutation: Queued }>(emulator, '/_control/mutate', {
            method: 'POST',
            body: { delete: [victim], afterListRequests: 2 }
        });
        expect(queued.status).toBe(200);
        expect(queued.body).toMatchObject({ queued: true, mutation: { id: 'm1', status: 'pending', remaining: 2, afterListRequests: 2 } });
        expect((await details(emulator, victim)).status).toBe(200); // not yet applied

        const second = await page(emulator, 'limit=50&skip=50');
        expect(second.pagination?.matched).toBe(first.pagination?.matched);
        let listed = (await request<{ mutations: Queued[] }>(emulator, '/_control/mutations')).body.mutations;
        expect(listed).toMatchObject([{ id: 'm1', status: 'pending', remaining: 1 }]);

        const third = await page(emulator, 'limit=50&skip=100');
        expect(third.pagination?.matched).toBe((first.pagination?.matched ?? 0) - 1);
        // The call that was 101st moved up into the second page, which the client already has: the listing skips it.
        const seen = new Set([first, second, third].flatMap((listed) => listed.calls.map((call) => call.id)));
        const shifted = (await listAll(emulator)).calls[99]?.id ?? '';
        expect(seen.has(shifted)).toBe(false);
        expect(seen.has(victim)).toBe(true);
        expect((await details(emulator, victim)).status).toBe(404);
        listed = (await request<{ mutations: Queued[] }>(emulator, '/_control/mutations?status=applied')).body.mutations;
        expect(listed).toMatchObject([{ id: 'm1', status: 'applied', remaining: 0, result: { delete: [victim] } }]);
        expect((await request(emulator, '/_control/mutations/m1')).body).toMatchObject({ mutation: { status: 'applied' } });
        expect((await request(emulator, '/_control/mutations/m9')).status).toBe(404);
    });

    it('applies several queued mutations in order, and records a mutation that can no longer apply as failed', async () => {
        const emulator = createClariEmulator({ calls: 200, seed: 28, rate: 0, now: NOW });
        const [a = '', b = ''] = (await truth(emulator, '&details=false')).map((call) => call.id);
        const queue = (body: Record<string, unknown>): Promise<unknown> =>
            request(emulator, '/_control/mutate', { method: 'POST', body }).then((response) => response.body);
        await queue({ reschedule: [a], afterListRequests: 1 });
        await queue({ delete: [b], afterListRequests: 1 });
        await queue({ modify: [b], afterListRequests: 1 }); // b is gone by then
        await page(emulator, 'limit=5');
        const listed = (await request<{ mutations: Queued[] }>(emulator, '/_control/mutations')).body.mutations;
        expect(listed.map((entry) => [entry.id, entry.status])).toEqual([
            ['m1', 'applied'],
            ['m2', 'applied'],
            ['m3', 'failed']
        ]);
        expect(listed[0]?.result?.reschedule).toEqual([a]);
        expect(listed[2]?.error).toContain(b);
        expect((await request<{ mutations: Queued[] }>(emulator, '/_control/mutations?status=pending')).body.mutations).toEqual([]);
    });

    it('does not count requests that get no listing, refuses bad requests at once, and reset clears the queue', async () => {
        const emulator = createClariEmulator({ calls: 100, seed: 29, rate: 0, now: NOW });
        const badIds = await request(emulator, '/_control/mutate', { method: 'POST', body: { delete: ['nope'], afterListRequests: 1 } });
        expect(badIds.status).toBe(400);
        const zero = await request(emulator, '/_control/mutate', { method: 'POST', body: { add: 1, afterListRequests: 0 } });
        expect(zero.status).toBe(400);
        await request(emulator, '/_control/mutate', { method: 'POST', body: { add: 1, afterListRequests: 1 } });
        expect((await request(emulator, '/calls', { headers: {} })).status).toBe(401);
        expect((await request(emulator, '/calls?limit=500')).status).toBe(400);
        expect((await request<{ mutations: Queued[] }>(emulator, '/_control/mutations')).body.mutations[0]?.status).toBe('pending');
        await request(emulator, '/_control/reset', { method: 'POST' });
        expect((await request<{ mutations: Queued[] }>(emulator, '/_control/mutations')).body.mutations).toEqual([]);
    });
});

describe("Clari's clock", () => {
    it('stamps mutations and added calls with the real time plus the offset, set at start or at runtime', async () => {
        const ahead = 3 * 3_600_000;
        const emulator = createClariEmulator({ calls: 200, seed: 30, rate: 0, now: NOW, clockOffsetMs: ahead });
        expect((await request(emulator, '/_control/clock')).body).toMatchObject({ offsetMs: ahead });
        let startedAt = Date.now();
        const result = await mutate(emulator, { add: 1, modify: 1 });
        let changed = (await listAll(emulator, `&filterModifiedGt=${iso(startedAt + ahead - 1)}`)).calls;
        expect(new Set(changed.map((call) => call.id))).toEqual(new Set([...result.add, ...result.modify]));
        for (const call of changed) {
            expect(Date.parse(call.last_modified_time) - Date.now()).toBeGreaterThan(ahead - 60_000);
        }
        const added = (await details(emulator, result.add[0] ?? '')).call;
        expect(Date.parse(added?.time ?? '')).toBeLessThan(Date.now() + ahead);
        expect(Date.parse(added?.time ?? '')).toBeGreaterThan(Date.now() + ahead - 12 * 3_600_000);

        const behind = -10 * 60_000;
        const put = await request<{ offsetMs: number; now: string }>(emulator, '/_control/clock', {
            method: 'PUT',
            body: { offsetMs: behind }
        });
        expect(put.body.offsetMs).toBe(behind);
        expect(Math.abs(Date.parse(put.body.now) - (Date.now() + behind))).toBeLessThan(5_000);
        startedAt = Date.now();
        const late = await mutate(emulator, { modify: 1 });
        // A sync asking for changes since its own "now" misses a change stamped ten minutes earlier.
        expect(
            (await listAll(emulator, `&filterModifiedGt=${iso(startedAt - 1)}&filterModifiedLt=${iso(startedAt + ahead / 2)}`)).calls
        ).toEqual([]);
        changed = (await listAll(emulator, `&filterModifiedGt=${iso(startedAt + behind - 1_000)}&filterModifiedLt=${iso(startedAt)}`))
            .calls;
        expect(changed.map((call) => call.id)).toEqual(late.modify);
        expect((await request(emulator, '/_control/clock', { method: 'PUT', body: { offsetMs: 'soon' } })).status).toBe(400);
        expect((await request<{ clock: { offsetMs: number } }>(emulator, '/_control/config')).body.clock.offsetMs).toBe(behind);
        await request(emulator, '/_control/reset', { method: 'POST' });
        expect((await request(emulator, '/_control/clock')).body).toMatchObject({ offsetMs: ahead });
    });

    it("puts the dataset's default now on Clari's clock", () => {
        const emulator = createClariEmulator({ calls: 10, seed: 31, clockOffsetMs: -DAY_MS });
        expect(Math.abs(Date.parse(emulator.state.describe().now) - (Date.now() - DAY_MS))).toBeLessThan(5_000);
    });
});
