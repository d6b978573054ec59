import { isDeepStrictEqual } from 'node:util';

import { expect } from 'vitest';

import { toCallRecord } from '../../nango-integrations/clari-copilot/mapper.js';
import { rawCallDetailsSchema } from '../../nango-integrations/clari-copilot/schemas.js';
import type { Call } from '../../nango-integrations/models.js';
import { callTimeMs, type TruthCall } from './emulator-client.js';
import { ids, live, sortedIds, type ServedRecord } from './served-records.js';

/**
 * The oracle: what the store must hold, derived from the emulator's ground truth mapped by the sync's
 * own `toCallRecord`, and the check that it does.
 */

const DAY_MS = 86_400_000;

export interface TimeWindow {
    /** Exclusive bounds, as the sync lists them (filterTimeGt / filterTimeLt). */
    after: Date;
    before: Date;
}

export function isInWindow(call: TruthCall, window: TimeWindow): boolean {
    const ms = callTimeMs(call);
    return ms > window.after.getTime() && ms < window.before.getTime();
}

/** The record the sync must store for a ground-truth call, or undefined when the payload is invalid. */
export function expectedRecord(call: TruthCall): Call | undefined {
    const parsed = rawCallDetailsSchema.safeParse(call.payload);
    return parsed.success ? toCallRecord(parsed.data) : undefined;
}

/** What the store must hold after a complete pass over `window`: every valid public call in it, mapped. */
export function expectedRecords(truth: readonly TruthCall[], window: TimeWindow): Map<string, Call> {
    const expected = new Map<string, Call>();
    for (const call of truth) {
        if (call.private || !isInWindow(call, window)) {
            continue;
        }
        const record = expectedRecord(call);
        if (record) {
            expected.set(call.id, record);
        }
    }
    return expected;
}

/** The last `days` days before `now`, as the sync's backfill window. */
export function lastDays(now: Date, days = 365): TimeWindow {
    return { after: new Date(now.getTime() - days * DAY_MS), before: now };
}

/**
 * Asserts the live records are exactly `expected`: same ids, each once, each with the mapped content.
 * A content mismatch is reported as the list of ids that differ, then a diff of the first one.
 */
export function expectRecordsEqualTruth(records: readonly ServedRecord[], expected: ReadonlyMap<string, Call>): void {
    const liveRecords = live(records);
    expect(liveRecords.length, 'each call stored once').toBe(new Set(liveRecords.map((record) => record.id)).size);
    expect(ids(liveRecords)).toEqual(sortedIds(expected.keys()));
    const differing = liveRecords.filter((record) => !isDeepStrictEqual(record.data, expected.get(record.id))).map((record) => record.id);
    const first = differing[0];
    if (first !== undefined) {
        expect(liveRecords.find((record) => record.id === first)?.data, `content of ${first} (${differing.length} differ)`).toEqual(
            expected.get(first)
        );
    }
    expect(differing).toEqual([]);
}
