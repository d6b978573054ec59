import { describe, expect, it } from 'vitest';
import { InvalidSyncOptionsError, parseSyncOptions } from '../options.js';

describe('parseSyncOptions', () => {
    it('rejects a maxRequestsPerSecond below 0.1, naming the option and the floor', () => {
        for (const rate of [1e-9, 0.09, 0]) {
            expect(() => parseSyncOptions({ maxRequestsPerSecond: rate })).toThrow(InvalidSyncOptionsError);
            expect(() => parseSyncOptions({ maxRequestsPerSecond: rate })).toThrow(/maxRequestsPerSecond: must be at least 0\.1\b/);
        }
    });

    it('accepts a maxRequestsPerSecond of 0.1', () => {
        expect(parseSyncOptions({ maxRequestsPerSecond: 0.1 }).options.maxRequestsPerSecond).toBe(0.1);
    });
});
