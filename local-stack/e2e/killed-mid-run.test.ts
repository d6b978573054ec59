import { isDeepStrictEqual } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningClariEmulator } from '../emulator/index.js';
import { SAVE_PART_SIZE } from '../../nango-integrations/clari-copilot/page-saves.js';
import { openStore } from '../nango-server/index.js';
import { EmulatorControl, callTimeMs, startEmulator, type TruthCall } from './emulator-client.js';
import { expectRecordsEqualTruth, expectedRecords, lastDays } from './oracle.js';
import { listServed, listStored, type ServedRecord } from './served-records.js';
import { E2EStack, FAST_METADATA, makeTempDir } from './stack.js';
import { startSyncCli, waitUntil, type SyncCli } from './sync-cli.js';

/**
 * `npm run sync` SIGKILLed part-way, twice, then run to completion: every page is saved in whole parts of
 * SAVE_PART_SIZE calls, in the order listed, and the completing run fetches details only for the calls the
 * killed runs did not save.
 */

const CONNECTION_ID = 'killed';
const PAGE_SIZE = 100;
/** Fractions of the expected detail requests after which each killed run is stopped. */
const KILL_POINTS = [0.25, 0.6] as const;

describe('a sync killed mid-run', () => {
    const tmp = makeTempDir('killed');
    let emulator: RunningClariEmulator;
    const children: SyncCli[] = [];

    beforeAll(async () => {
        // Creating the PGlite database takes seconds; do it here so each child only reopens it.
        const store = await openStore({ dir: tmp.dir });
        await store.close();
        // 11 months: every past call is inside the backfill window. Details take 150-250 ms, so the run lasts seconds.
        emulator = await startEmulator({ calls: 600, months: 11, seed: 77, latency: { details: { minMs: 150, maxMs: 250 } } });
    });

    afterAll(async () => {
        await Promise.all(children.map((child) => child.kill()));
        await emulator.close();
        tmp.remove();
    });

    function start(): SyncCli {
        const child = startSyncCli({
            clariBaseUrl: emulator.url,
            storeDir: tmp.dir,
            connectionId: CONNECTION_ID,
            metadata: { ...FAST_METADATA, reconcileEveryHours: 720 }
        });
        children.push(child);
        return child;
    }

    async function readStore(): Promise<{ records: ServedRecord[]; lastSync: Date | undefined }> {
        const store = await openStore({ dir: tmp.dir });
        try {
            return {
                records: await listStored(store, CONNECTION_ID),
                lastSync: await store.runs.lastSuccessfulRunStart(CONNECTION_ID, 'calls')
            };
        } finally {
            await store.close();
        }
    }

    it('keeps whole parts of pages only, and the completing run re-fetches nothing already stored', { timeout: 180_000 }, async () => {
        const truth = await new EmulatorControl(emulator.url).truth();
        const expected = expectedRecords(truth, lastDays(new Date()));
        expect(expected.size).toBeGreaterThan(500);
        // The pages the sync lists: newest first, ties broken by id as the emulator does, 100 a page.
        const newestFirst = truth
            .filter((call) => expected.has(call.id))
            .sort((a: TruthCall, b: TruthCall) => callTimeMs(b) - callTimeMs(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .map((call) => call.id);
        const pageOf = new Map(newestFirst.map((id, index) => [id, Math.floor(index / PAGE_SIZE)]));
        const pageIds = (page: number): string[] => newestFirst.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);

        const storedAfterKill: number[] = [];
        let storedBeforeIds: string[] = [];
        for (const point of KILL_POINTS) {
            emulator.runtime.stats.reset();
            const child = start();
            const target = Math.ceil(point * expected.size);
            await waitUntil(() => emulator.runtime.stats.snapshot().byEndpoint['call-details'] >= target, {
                timeoutMs: 60_000,
                what: `${target} detail requests`,
                abort: () => (child.done ? 'the sync exited before it could be killed' : undefined)
            });
            const exit = await child.kill();
            expect(exit.signal, exit.stderr).toBe('SIGKILL');

            const { records, lastSync } = await readStore();
            // A killed run is not a successful one: the next run starts over from the backfill window.
            expect(lastSync).toBeUndefined();
            expect(records.every((record) => record.deletedAt === null)).toBe(true);
            expect(records.length).toBe(new Set(records.map((record) => record.id)).size);
            // Whatever was saved is final content, and is made of whole parts of pages (one transactional batch each).
            const wrong = records.filter((record) => !isDeepStrictEqual(record.data, expected.get(record.id))).map((record) => record.id);
            expect(wrong).toEqual([]);
            if (storedAfterKill.length === 0) {
                // The first run lists the window from its newest call, 100 a page. A run that resumes from a killed
                // one's checkpoint lists recent changes first and then the backfill from where it stopped, so its
                // pages need not fall on these boundaries; what it stored is checked by the completing run below.
                // A page is saved in parts, in the order listed: one the kill cut short holds its first calls, a
                // whole number of parts of them.
                const savedPerPage = new Map<number, Set<string>>();
                for (const record of records) {
                    const page = pageOf.get(record.id) ?? -1;
                    savedPerPage.set(page, (savedPerPage.get(page) ?? new Set()).add(record.id));
                }
                const notInParts = [...savedPerPage].flatMap(([page, saved]) => {
                    const listed = pageIds(page);
                    const whole = saved.size === listed.length;
                    const prefix = listed.slice(0, saved.size).every((id) => saved.has(id));
                    return whole || (prefix && saved.size % SAVE_PART_SIZE === 0) ? [] : [[page, saved.size]];
                });
                expect(notInParts, `pages saved other than in whole parts (page, records): ${JSON.stringify(notInParts)}`).toEqual([]);
            } else {
                // A kill takes nothing away from what an earlier run saved.
                expect(records.length).toBeGreaterThanOrEqual(storedAfterKill[storedAfterKill.length - 1] ?? 0);
                const storedIds = new Set(records.map((record) => record.id));
                expect(storedBeforeIds.filter((id) => !storedIds.has(id))).toEqual([]);
            }
            storedBeforeIds = records.map((record) => record.id);
            storedAfterKill.push(records.length);
        }
        // The kills landed mid-run: something was saved, not everything, so the completing run has work to skip.
        const storedBefore = storedAfterKill[storedAfterKill.length - 1] ?? 0;
        expect(storedBefore).toBeGreaterThan(0);
        expect(storedBefore).toBeLessThan(expected.size);

        emulator.runtime.stats.reset();
        const exit = await start().exited;
        expect(exit.code, exit.stderr).toBe(0);
        const requests = emulator.runtime.stats.snapshot();
        expect(requests.byEndpoint['call-details']).toBe(expected.size - storedBefore);

        const stack = await E2EStack.open('killed', tmp.dir);
        try {
            const served = await listServed(stack.nango, CONNECTION_ID);
            expectRecordsEqualTruth(served, expected);
            expect(served.every((record) => record.lastAction === 'ADDED')).toBe(true);
            expect(await stack.store.runs.lastSuccessfulRunStart(CONNECTION_ID, 'calls')).toBeInstanceOf(Date);
        } finally {
            await stack.close();
        }
    });
});
