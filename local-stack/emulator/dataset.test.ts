import { describe, expect, it } from 'vitest';
import { generateDataset, hasContent } from './dataset.js';
import { buildCallDetails } from './payloads.js';
import { createClariEmulator } from './server.js';
import { request, truth, type CallsPage } from './test-helpers.js';

/** The generated dataset: determinism, spread over time, realistic content sizes, and generation speed. */

const NOW = new Date('2025-06-01T12:00:00Z');
const YEAR_MS = 365 * 86_400_000;

describe('dataset', () => {
    it('is deterministic for a seed, size and now, and differs across seeds', async () => {
        const options = { calls: 80, seed: 21, rate: 0, now: NOW };
        const first = await truth(createClariEmulator(options), '&includePrivate=true');
        const again = await truth(createClariEmulator(options), '&includePrivate=true');
        const other = await truth(createClariEmulator({ ...options, seed: 22 }), '&includePrivate=true');
        expect(again).toEqual(first);
        expect(other.map((call) => call.id)).not.toEqual(first.map((call) => call.id));
    });

    it('spreads the default 2,000 calls over 15 months, about 20% older than a year, with some private', () => {
        const { records } = generateDataset({ now: NOW });
        const past = records.filter((record) => record.timeMs < NOW.getTime());
        expect(past).toHaveLength(2000);
        const older = past.filter((record) => record.timeMs < NOW.getTime() - YEAR_MS).length / past.length;
        expect(older).toBeGreaterThan(0.15);
        expect(older).toBeLessThan(0.25);
        expect(records.filter((record) => record.status === 'SCHEDULED').length).toBe(8);
        const privateShare = records.filter((record) => record.isPrivate).length / records.length;
        expect(privateShare).toBeGreaterThan(0.01);
        expect(privateShare).toBeLessThan(0.06);
        for (const record of past) {
            expect(record.lastModifiedMs).toBeGreaterThanOrEqual(record.timeMs);
            expect(record.lastModifiedMs).toBeLessThanOrEqual(NOW.getTime());
        }
        const lateModified = past.filter((record) => record.lastModifiedMs - record.timeMs > 86_400_000).length;
        expect(lateModified).toBeGreaterThan(10);
    });

    it('supports a dense window: 10,500 calls within a year, past the 10,000 skip cap', async () => {
        const emulator = createClariEmulator({ calls: 10_500, months: 11, rate: 0, now: NOW });
        const since = encodeURIComponent(new Date(NOW.getTime() - YEAR_MS).toISOString());
        const page = await request<CallsPage>(emulator, `/calls?limit=100&skip=10000&filterTimeGt=${since}&includePrivate=true`);
        expect(page.status).toBe(200);
        expect(page.body.pagination?.matched).toBeGreaterThanOrEqual(10_500);
        expect(page.body.pagination?.hasMore).toBe(true);
        expect((await request(emulator, `/calls?limit=100&skip=10100&filterTimeGt=${since}`)).status).toBe(400);
    });

    it('generates realistic transcripts quickly: hundreds of turns for long calls, a few for short ones', () => {
        const dataset = generateDataset({ calls: 1500, seed: 9, now: NOW });
        const context = { seed: dataset.seed, workspace: dataset.workspace };
        const processed = dataset.records.filter((record) => hasContent(record.status));
        const long = processed.filter((record) => record.durationSec >= 1800 && record.durationSec <= 3600).slice(0, 20);
        const short = processed.filter((record) => record.durationSec < 300).slice(0, 10);
        expect(long.length).toBe(20);
        expect(short.length).toBe(10);

        const started = performance.now();
        for (const record of long) {
            const call = buildCallDetails(context, record);
            const turns = call.transcript?.length ?? 0;
            expect(turns).toBeGreaterThanOrEqual(200);
            expect(turns).toBeLessThanOrEqual(700);
            expect(JSON.stringify(call).length).toBeGreaterThan(20_000);
            const last = call.transcript?.at(-1);
            expect(last?.end).toBeLessThanOrEqual(record.durationSec);
        }
        expect((performance.now() - started) / long.length).toBeLessThan(25);
        for (const record of short) {
            expect(buildCallDetails(context, record).transcript?.length).toBeLessThan(60);
        }
    });
});
