import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorControl } from '../e2e/emulator-client.js';
import { startClariEmulator, type RunningClariEmulator } from './server.js';
import { AUTH } from './test-helpers.js';

/** The e2e suite's typed client for the control API, against a real socket: the shapes it assumes are the ones served. */

describe('EmulatorControl', () => {
    let emulator: RunningClariEmulator;
    let control: EmulatorControl;

    beforeAll(async () => {
        emulator = await startClariEmulator({ calls: 60, seed: 51, rate: 0, now: new Date('2025-06-01T12:00:00Z') });
        control = new EmulatorControl(emulator.url);
    });

    afterAll(async () => {
        await emulator.close();
    });

    const listCalls = async (): Promise<number> => (await fetch(`${emulator.url}/calls?limit=5`, { headers: AUTH })).status;

    it('queues a mutation for a later /calls request and reports its result', async () => {
        const [id = ''] = (await control.truth({ details: false })).map((call) => call.id);
        const queued = await control.queueMutation({ reschedule: [id], rescheduleBy: -3_600_000 }, 2);
        expect(queued).toMatchObject({ status: 'pending', remaining: 2, afterListRequests: 2, request: { reschedule: [id] } });
        expect(await listCalls()).toBe(200);
        expect((await control.mutation(queued.id)).remaining).toBe(1);
        expect(await listCalls()).toBe(200);
        const applied = await control.mutations('applied');
        expect(applied.map((entry) => entry.id)).toEqual([queued.id]);
        expect(applied[0]?.result?.reschedule).toEqual([id]);
        await expect(control.queueMutation({ delete: ['missing'] }, 1)).rejects.toThrow(/400/);
    });

    it('reads fault rules back, toggles unstable ties and moves the clock', async () => {
        await control.setFaults([{ kind: '400', callIds: ['abc'], count: 1 }]);
        expect(await control.faults()).toEqual([{ kind: '400', callIds: ['abc'], count: 1, remaining: 1, fired: 0 }]);
        await control.setFaults([]);

        expect(await control.unstableTies()).toBe(false);
        await control.setUnstableTies(true);
        expect(await control.unstableTies()).toBe(true);
        await control.setUnstableTies(false);

        const clock = await control.setClockOffset(-120_000);
        expect(clock.offsetMs).toBe(-120_000);
        expect(Math.abs(Date.parse(clock.now) - (Date.now() - 120_000))).toBeLessThan(5_000);
        expect((await control.clock()).offsetMs).toBe(-120_000);
        const result = await control.mutate({ silentChange: 1, reschedule: 1, rescheduleTo: 'future' });
        expect(result.silentChange).toHaveLength(1);
        expect(result.reschedule).toHaveLength(1);
    });

    it("sets the weekly quota, spends other tools' share, and reads the week back on the shifted clock", async () => {
        // Clari's clock a few seconds before Sunday 2026-01-04 00:00 UTC.
        await control.setClockOffset(Date.parse('2026-01-03T23:59:50Z') - Date.now());
        const set = await control.setWeeklyQuota(3, { retryAfter: 'next-week' });
        expect(set).toMatchObject({ weeklyQuota: 3, retryAfter: 'next-week', week: { start: '2025-12-28T00:00:00.000Z' }, remaining: 3 });
        expect(await control.spendQuota(2)).toMatchObject({ spent: 2, quota: { usedByOthers: 2, remaining: 1 } });
        expect(await listCalls()).toBe(200);
        expect(await listCalls()).toBe(429);
        expect(await control.quota()).toMatchObject({ used: 1, usedByOthers: 2, refused: 1, remaining: 0 });
        expect((await control.stats()).quotaRefused).toBe(1);

        await control.setClockOffset(Date.parse('2026-01-04T00:00:05Z') - Date.now());
        expect(await listCalls()).toBe(200);
        const nextWeek = await control.quota();
        expect(nextWeek).toMatchObject({
            week: { start: '2026-01-04T00:00:00.000Z', end: '2026-01-11T00:00:00.000Z' },
            used: 1,
            remaining: 2
        });
        // Earlier tests' requests were counted in the real week, which comes later.
        expect(nextWeek.weeks.slice(0, 2).map((week) => [week.start, week.used, week.usedByOthers])).toEqual([
            ['2025-12-28T00:00:00.000Z', 1, 2],
            ['2026-01-04T00:00:00.000Z', 1, 0]
        ]);

        expect(await control.setWeeklyQuota(null)).toMatchObject({ weeklyQuota: null, remaining: null });
        await control.setClockOffset(0);
    });
});
