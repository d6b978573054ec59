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
