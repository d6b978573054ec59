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
});
