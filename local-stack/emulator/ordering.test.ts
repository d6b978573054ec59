import { describe, expect, it } from 'vitest';
import { generateDataset } from './dataset.js';
import { createClariEmulator, type ClariEmulator } from './server.js';
import { listAll, request, truth, type CallsPage } from './test-helpers.js';

/** Calls that share a time (the ties dataset option) and a listing that orders them differently per request. */

const NOW = new Date('2025-06-01T12:00:00Z');

function tiedShare(times: readonly number[]): number {
    const counts = new Map<number, number>();
    times.forEach((time) => counts.set(time, (counts.get(time) ?? 0) + 1));
    return times.filter((time) => (counts.get(time) ?? 0) > 1).length / times.length;
}

async function pageIds(emulator: ClariEmulator, query: string): Promise<string[]> {
    return (await request<CallsPage>(emulator, `/calls?${query}`)).body.calls.map((call) => call.id);
}

describe('ties', () => {
    it('snaps call times to the hour or half past, so many more calls share a time, and changes nothing else', () => {
        const options = { calls: 600, seed: 41, months: 3, now: NOW };
        const plain = generateDataset(options).records;
        const tied = generateDataset({ ...options, ties: true }).records;
        expect(tied).toHaveLength(plain.length);
        for (const record of tied) {
            const time = new Date(record.timeMs);
            expect([0, 30]).toContain(time.getUTCMinutes());
            expect(time.getUTCSeconds() + time.getUTCMilliseconds()).toBe(0);
            if (record.status !== 'SCHEDULED') {
                expect(record.lastModifiedMs).toBeGreaterThanOrEqual(record.timeMs);
            }
        }
        for (const [index, record] of tied.entries()) {
            const original = plain[index];
            expect(record.timeMs).toBeLessThanOrEqual(original?.timeMs ?? 0);
            expect(original && original.timeMs - record.timeMs).toBeLessThan(3_600_000);
            expect(record.title).toBe(original?.title);
        }
        const past = (records: typeof tied): number[] =>
            records.filter((record) => record.timeMs < NOW.getTime()).map((record) => record.timeMs);
        // About 11% of these calls share a time without the option (meetings start on quarter hours), 38% with it.
        expect(tiedShare(past(tied))).toBeGreaterThan(0.3);
        expect(tiedShare(past(tied))).toBeGreaterThan(3 * tiedShare(past(plain)));
    });

    it('added calls and the config follow the option', async () => {
        const emulator = createClariEmulator({ calls: 50, seed: 42, rate: 0, now: NOW, ties: true });
        expect((await request<{ dataset: { ties: boolean } }>(emulator, '/_control/config')).body.dataset.ties).toBe(true);
        const added = (await request<{ add: string[] }>(emulator, '/_control/mutate', { method: 'POST', body: { add: 3 } })).body.add;
        for (const id of added) {
            const time = (await request<{ call: { time: string } }>(emulator, `/_control/calls/${id}`)).body.call.time;
            expect(new Date(time).getUTCSeconds()).toBe(0);
            expect([0, 30]).toContain(new Date(time).getUTCMinutes());
        }
    });
});

describe('unstable ties', () => {
    const tiedEmulator = (unstableTies: boolean): ClariEmulator =>
        createClariEmulator({ calls: 400, seed: 43, months: 2, rate: 0, now: NOW, ties: true, unstableTies });

    it('orders equal times differently on every /calls request, while every page stays sorted by its keys', async () => {
        const emulator = tiedEmulator(true);
        const first = (await request<CallsPage>(emulator, '/calls?limit=100')).body.calls;
        const second = (await request<CallsPage>(emulator, '/calls?limit=100')).body.calls;
        // The same times in the same places: only which of the tied calls sits where changes.
        expect(second.map((call) => call.time)).toEqual(first.map((call) => call.time));
        expect(second.map((call) => call.id)).not.toEqual(first.map((call) => call.id));
        for (const query of ['limit=100', 'limit=100&sortTime=asc', 'limit=100&sortProcessed=desc']) {
            const calls = (await request<CallsPage>(emulator, `/calls?${query}`)).body.calls;
            const key = query.includes('sortProcessed') ? 'last_modified_time' : 'time';
            const keys = calls.map((call) => call[key]);
            const sorted = [...keys].sort();
            expect(keys).toEqual(query.includes('asc') ? sorted : sorted.reverse());
        }
    });

    it('makes offset paging skip and repeat calls, which a stable order never does', async () => {
        const unstable = tiedEmulator(true);
        const expected = (await truth(unstable, '&details=false')).map((call) => call.id);
        const listed = (await listAll(unstable, '', 25)).calls.map((call) => call.id);
        expect(listed).toHaveLength(expected.length);
        expect(new Set(listed).size).toBeLessThan(expected.length);

        const stable = tiedEmulator(false);
        expect((await listAll(stable, '', 25)).calls.map((call) => call.id)).toEqual(expected);
    });

    it('can be toggled at runtime; the control API ground truth keeps its stable order', async () => {
        const emulator = tiedEmulator(false);
        const stableTruth = await truth(emulator, '&details=false');
        const stablePage = await pageIds(emulator, 'limit=100');
        expect(await pageIds(emulator, 'limit=100')).toEqual(stablePage);
        const on = await request(emulator, '/_control/ordering', { method: 'PUT', body: { unstableTies: true } });
        expect(on.body).toEqual({ unstableTies: true });
        expect(await pageIds(emulator, 'limit=100')).not.toEqual(stablePage);
        expect(await truth(emulator, '&details=false')).toEqual(stableTruth);
        expect((await request(emulator, '/_control/ordering')).body).toEqual({ unstableTies: true });
        expect((await request(emulator, '/_control/ordering', { method: 'PUT', body: { unstableTies: 'yes' } })).status).toBe(400);
        await request(emulator, '/_control/ordering', { method: 'PUT', body: { unstableTies: false } });
        expect(await pageIds(emulator, 'limit=100')).toEqual(stablePage);
    });
});
