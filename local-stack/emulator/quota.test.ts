import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from './cli-options.js';
import { clariWeek, clariWeekStart, WEEK_MS, WeeklyQuota, type QuotaStatus } from './quota.js';
import { createClariEmulator, type ClariEmulator } from './server.js';
import type { StatsSnapshot } from './stats.js';
import { request } from './test-helpers.js';

/** The weekly quota: Clari's week arithmetic, the accounting, and how the emulator answers once a week is spent. */

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('clariWeekStart', () => {
    it.each([
        // Wednesday 31 December 2025 and Thursday 1 January 2026 share the week from Sunday 28 December.
        ['2025-12-31T23:59:59.999Z', '2025-12-28T00:00:00.000Z'],
        ['2026-01-01T00:00:00.000Z', '2025-12-28T00:00:00.000Z'],
        ['2026-01-03T23:59:59.999Z', '2025-12-28T00:00:00.000Z'],
        // The exact boundary belongs to the week it starts; one millisecond before, to the previous one.
        ['2026-01-04T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
        ['2026-01-04T00:00:00.001Z', '2026-01-04T00:00:00.000Z'],
        // 1 January 2023 was a Sunday: the new year starts a new week, and New Year's Eve is the old one's last day.
        ['2023-01-01T00:00:00.000Z', '2023-01-01T00:00:00.000Z'],
        ['2022-12-31T23:59:59.999Z', '2022-12-25T00:00:00.000Z'],
        // Saturday 31 December 2016, the last day of its week, in a leap year.
        ['2016-12-31T12:00:00.000Z', '2016-12-25T00:00:00.000Z'],
        // Around the epoch (a Thursday), where a truncating division would round the wrong way.
        ['1970-01-01T00:00:00.000Z', '1969-12-28T00:00:00.000Z'],
        ['1970-01-04T00:00:00.000Z', '1970-01-04T00:00:00.000Z'],
        ['1969-12-27T23:59:59.999Z', '1969-12-21T00:00:00.000Z']
    ])('puts %s in the week from %s', (time, start) => {
        expect(iso(clariWeekStart(at(time)))).toBe(start);
        expect(clariWeek(at(time))).toEqual({ start: at(start), end: at(start) + WEEK_MS });
    });

    it('agrees with the calendar: always a Sunday midnight UTC, at most a week back', () => {
        // Deterministic spread of times over 1990-2060, hours and milliseconds included.
        for (let index = 0; index < 5000; index++) {
            const time = at('1990-01-01T00:00:00Z') + ((index * 7_919_876_543_21) % (70 * 365 * 86_400_000));
            const start = new Date(clariWeekStart(time));
            expect(start.getUTCDay()).toBe(0);
            expect(start.getUTCHours() + start.getUTCMinutes() + start.getUTCSeconds() + start.getUTCMilliseconds()).toBe(0);
            expect(time - start.getTime()).toBeGreaterThanOrEqual(0);
            expect(time - start.getTime()).toBeLessThan(WEEK_MS);
        }
    });
});

describe('WeeklyQuota', () => {
    const clocked = (
        startIso: string
    ): { quota: (settings?: ConstructorParameters<typeof WeeklyQuota>[0]) => WeeklyQuota; set: (time: string) => void } => {
        let now = at(startIso);
        return {
            quota: (settings = {}) => new WeeklyQuota(settings, () => now),
            set: (time) => {
                now = at(time);
            }
        };
    };
    const take = (quota: WeeklyQuota, refusedByRate = false): boolean => {
        const decision = quota.admit();
        if (decision.allowed) {
            quota.count(refusedByRate);
        }
        return decision.allowed;
    };

    it('admits the quota, refuses the rest without counting them, and starts afresh on Sunday 00:00 UTC', () => {
        const clock = clocked('2025-12-31T10:00:00Z');
        const quota = clock.quota({ weeklyQuota: 3 });
        expect([1, 2, 3, 4, 5].map(() => take(quota))).toEqual([true, true, true, false, false]);
        expect(quota.status()).toMatchObject({
            week: { start: '2025-12-28T00:00:00.000Z', end: '2026-01-04T00:00:00.000Z' },
            used: 3,
            refused: 2,
            remaining: 0
        });
        clock.set('2026-01-03T23:59:59.999Z');
        expect(take(quota)).toBe(false);
        clock.set('2026-01-04T00:00:00.000Z');
        expect(take(quota)).toBe(true);
        expect(quota.status()).toMatchObject({ week: { start: '2026-01-04T00:00:00.000Z' }, used: 1, refused: 0, remaining: 2 });
        expect(quota.status().weeks).toEqual([
            { start: '2025-12-28T00:00:00.000Z', end: '2026-01-04T00:00:00.000Z', used: 3, usedByOthers: 0, refused: 3 },
            { start: '2026-01-04T00:00:00.000Z', end: '2026-01-11T00:00:00.000Z', used: 1, usedByOthers: 0, refused: 0 }
        ]);
        // A clock moved back finds that week as it was left.
        clock.set('2025-12-30T00:00:00Z');
        expect(take(quota)).toBe(false);
    });

    it('counts token-bucket refusals unless told not to', () => {
        const counted = clocked('2025-06-04T00:00:00Z').quota({ weeklyQuota: 10 });
        take(counted, true);
        take(counted, false);
        expect(counted.status().used).toBe(2);
        const uncounted = clocked('2025-06-04T00:00:00Z').quota({ weeklyQuota: 10, countRefused: false });
        take(uncounted, true);
        take(uncounted, false);
        expect(uncounted.status().used).toBe(1);
    });

    it("spends other tools' requests up to what is left, and counts weeks without a quota", () => {
        const clock = clocked('2025-06-04T00:00:00Z');
        const quota = clock.quota({ weeklyQuota: 10 });
        take(quota);
        expect(quota.spend(4)).toBe(4);
        expect(quota.spend(100)).toBe(5);
        expect(quota.status()).toMatchObject({ used: 1, usedByOthers: 9, remaining: 0 });
        expect(take(quota)).toBe(false);

        const unlimited = clock.quota();
        expect(unlimited.spend(250)).toBe(250);
        expect(take(unlimited)).toBe(true);
        expect(unlimited.status()).toMatchObject({ weeklyQuota: null, used: 1, usedByOthers: 250, remaining: null });
    });

    it('sends a Retry-After to the next week only when asked, rounded up to a whole second', () => {
        const clock = clocked('2026-01-03T23:59:58.500Z');
        expect(clock.quota({ weeklyQuota: 0 }).admit()).toEqual({ allowed: false, retryAfterSec: undefined });
        expect(clock.quota({ weeklyQuota: 0, retryAfter: 'next-week' }).admit()).toEqual({ allowed: false, retryAfterSec: 2 });
        clock.set('2026-01-01T00:00:00Z');
        expect(clock.quota({ weeklyQuota: 0, retryAfter: 'next-week' }).admit()).toEqual({ allowed: false, retryAfterSec: 3 * 86_400 });
    });
});

describe('weekly quota over HTTP', () => {
    /** An emulator whose clock reads `clariIso` now (the offset is taken from the real clock). */
    const emulatorAt = (clariIso: string, options: Parameters<typeof createClariEmulator>[0] = {}): ClariEmulator =>
        createClariEmulator({
            calls: 40,
            seed: 9,
            rate: 0,
            now: new Date('2025-12-01T00:00:00Z'),
            clockOffsetMs: at(clariIso) - Date.now(),
            ...options
        });
    const quotaOf = async (emulator: ClariEmulator): Promise<QuotaStatus> => (await request<QuotaStatus>(emulator, '/_control/quota')).body;
    const statsOf = async (emulator: ClariEmulator): Promise<StatsSnapshot> =>
        (await request<StatsSnapshot>(emulator, '/_control/stats')).body;

    it('answers 429 once the week is spent, counted apart from throttling and faults, until the clock reaches the next week', async () => {
        const emulator = emulatorAt('2026-01-03T22:00:00Z', { weeklyQuota: 4, faults: [{ kind: '500', count: 1 }] });
        // Refused by auth: not counted. The injected 500 reached Clari: counted.
        expect((await request(emulator, '/calls', { headers: {} })).status).toBe(401);
        const answers = [];
        for (let index = 0; index < 6; index++) {
            answers.push(await request(emulator, index % 2 === 0 ? '/calls?limit=1' : '/call-details?id=none'));
        }
        expect(answers.map((answer) => answer.status)).toEqual([500, 404, 200, 404, 429, 429]);
        expect(answers[4]?.headers['retry-after']).toBeUndefined();
        expect(answers[4]?.body).toEqual({ message: 'Limit Exceeded' });
        expect(await quotaOf(emulator)).toMatchObject({
            weeklyQuota: 4,
            week: { start: '2025-12-28T00:00:00.000Z', end: '2026-01-04T00:00:00.000Z' },
            used: 4,
            usedByOthers: 0,
            refused: 2,
            remaining: 0
        });
        expect(await statsOf(emulator)).toMatchObject({ quotaRefused: 2, rateLimited: 0, unauthorized: 1, faultsInjected: { total: 1 } });

        const offsetMs = at('2026-01-04T00:00:01Z') - Date.now();
        await request(emulator, '/_control/clock', { method: 'PUT', body: { offsetMs } });
        expect((await request(emulator, '/calls?limit=1')).status).toBe(200);
        const nextWeek = await quotaOf(emulator);
        expect(nextWeek).toMatchObject({ week: { start: '2026-01-04T00:00:00.000Z' }, used: 1, refused: 0, remaining: 3 });
        expect(nextWeek.weeks.map((week) => [week.start, week.used, week.refused])).toEqual([
            ['2025-12-28T00:00:00.000Z', 4, 2],
            ['2026-01-04T00:00:00.000Z', 1, 0]
        ]);
    });

    it('counts requests the token bucket refuses by default, not with countRefused false, and refuses before the bucket', async () => {
        const burst = async (emulator: ClariEmulator): Promise<number[]> => {
            const responses = await Promise.all(Array.from({ length: 5 }, () => request(emulator, '/calls?limit=1')));
            return responses.map((response) => response.status).sort();
        };
        const counted = emulatorAt('2025-06-04T12:00:00Z', { rate: 2, weeklyQuota: 100 });
        expect(await burst(counted)).toEqual([200, 200, 429, 429, 429]);
        expect((await quotaOf(counted)).used).toBe(5);
        expect((await statsOf(counted)).rateLimited).toBe(3);

        const uncounted = emulatorAt('2025-06-04T12:00:00Z', { rate: 2, weeklyQuota: 100, quota: { countRefused: false } });
        expect(await burst(uncounted)).toEqual([200, 200, 429, 429, 429]);
        expect((await quotaOf(uncounted)).used).toBe(2);

        // Once spent, the bucket is never asked: every refusal is the quota's.
        const spent = emulatorAt('2025-06-04T12:00:00Z', { rate: 2, weeklyQuota: 0 });
        expect(await burst(spent)).toEqual([429, 429, 429, 429, 429]);
        expect(await statsOf(spent)).toMatchObject({ quotaRefused: 5, rateLimited: 0 });
    });

    it("spends other tools' requests, sets the quota at run time, and forgets it all on reset", async () => {
        const emulator = emulatorAt('2026-01-03T23:59:00Z', { weeklyQuota: 10 });
        const spend = await request<{ spent: number; quota: QuotaStatus }>(emulator, '/_control/quota/spend', {
            method: 'POST',
            body: { requests: 9 }
        });
        expect(spend.body).toMatchObject({ spent: 9, quota: { used: 0, usedByOthers: 9, remaining: 1 } });
        expect((await request(emulator, '/calls?limit=1')).status).toBe(200);
        expect((await request(emulator, '/calls?limit=1')).status).toBe(429);

        const raised = await request<QuotaStatus>(emulator, '/_control/quota', {
            method: 'PUT',
            body: { weeklyQuota: 12, retryAfter: 'next-week' }
        });
        expect(raised.body).toMatchObject({
            weeklyQuota: 12,
            retryAfter: 'next-week',
            countRefused: true,
            used: 1,
            usedByOthers: 9,
            remaining: 2
        });
        await request(emulator, '/_control/quota/spend', { method: 'POST', body: { requests: 5 } });
        const refused = await request(emulator, '/calls?limit=1');
        expect(refused.status).toBe(429);
        // Under a minute to Sunday 00:00 UTC on the emulator's clock.
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);

        const off = await request<QuotaStatus>(emulator, '/_control/quota', { method: 'PUT', body: { weeklyQuota: null } });
        expect(off.body).toMatchObject({ weeklyQuota: null, remaining: null });
        expect((await request(emulator, '/calls?limit=1')).status).toBe(200);
        expect((await request(emulator, '/_control/config')).body).toMatchObject({ quota: { weeklyQuota: null, retryAfter: 'next-week' } });

        const reset = await request(emulator, '/_control/reset', { method: 'POST' });
        expect(reset.status).toBe(200);
        expect(await quotaOf(emulator)).toMatchObject({
            weeklyQuota: 10,
            retryAfter: 'none',
            used: 0,
            usedByOthers: 0,
            refused: 0,
            weeks: []
        });
    });

    it('rejects invalid quota bodies', async () => {
        const emulator = emulatorAt('2025-06-04T12:00:00Z');
        for (const body of [{ weeklyQuota: -1 }, { weeklyQuota: 1.5 }, { retryAfter: 'soon' }, { quota: 3 }]) {
            expect((await request(emulator, '/_control/quota', { method: 'PUT', body })).status).toBe(400);
        }
        for (const body of [{}, { requests: -1 }, { requests: 'all' }]) {
            expect((await request(emulator, '/_control/quota/spend', { method: 'POST', body })).status).toBe(400);
        }
        expect(await quotaOf(emulator)).toMatchObject({ weeklyQuota: null, usedByOthers: 0 });
    });
});

describe('weekly quota flags', () => {
    it('reads --weekly-quota, then CLARI_EMULATOR_WEEKLY_QUOTA, and is off by default', () => {
        expect(parseCli([], {}).valueOf()).not.toHaveProperty('weeklyQuota');
        expect(parseCli([], {})).toMatchObject({ quota: { countRefused: true, retryAfter: 'none' } });
        expect(parseCli([], { CLARI_EMULATOR_WEEKLY_QUOTA: '100000' })).toMatchObject({ weeklyQuota: 100_000 });
        expect(parseCli(['--weekly-quota', '500'], { CLARI_EMULATOR_WEEKLY_QUOTA: '100000' })).toMatchObject({ weeklyQuota: 500 });
        expect(parseCli(['--weekly-quota', '0', '--quota-retry-after', '--no-quota-count-refused'], {})).toMatchObject({
            weeklyQuota: 0,
            quota: { countRefused: false, retryAfter: 'next-week' }
        });
    });

    it('names the flag or the variable that is wrong', () => {
        expect(() => parseCli(['--weekly-quota', 'lots'], {})).toThrow(UsageError);
        expect(() => parseCli(['--weekly-quota', '-5'], {})).toThrow('--weekly-quota');
        expect(() => parseCli([], { CLARI_EMULATOR_WEEKLY_QUOTA: '1e5' })).toThrow('CLARI_EMULATOR_WEEKLY_QUOTA');
    });
});
