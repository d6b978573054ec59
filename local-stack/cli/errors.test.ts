import { describe, expect, it } from 'vitest';
import { ClariAuthError } from '../../nango-integrations/clari-copilot/clari-client.js';
import { parseSyncOptions } from '../../nango-integrations/clari-copilot/options.js';
import { StoreInUseError } from '../nango-server/index.js';
import { ConfigError, parseSyncFlags } from './config.js';
import { describeFailure, exitCodeFor } from './errors.js';

/** How the local commands turn failures into an exit code and one line, without spawning them. */

function thrownBy(action: () => unknown): unknown {
    try {
        action();
    } catch (error) {
        return error;
    }
    throw new Error('expected a throw');
}

describe('exit codes', () => {
    it('is 2 for an invalid metadata value, wherever the sync met it, as for any configuration error', () => {
        expect(exitCodeFor(thrownBy(() => parseSyncOptions({ backfillDays: 0 })))).toBe(2);
        expect(exitCodeFor(new ConfigError('CLARI_BASE_URL is not a URL'))).toBe(2);
    });

    it('is 2 for a port or a store another process holds, as docs/local-stack.md says', () => {
        expect(
            exitCodeFor(Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:3004'), { code: 'EADDRINUSE' }))
        ).toBe(2);
        expect(exitCodeFor(new StoreInUseError('/tmp/store', 1234))).toBe(2);
    });

    it('is 1 when the run itself fails', () => {
        expect(exitCodeFor(new ClariAuthError(401))).toBe(1);
        expect(exitCodeFor(new Error('GET /calls failed after 6 attempt(s)'))).toBe(1);
    });
});

describe('--metadata values', () => {
    it.each([
        ['{"backfillDays":0}', 'backfillDays'],
        ['{"maxRequestsPerSecond":-1}', 'maxRequestsPerSecond'],
        ['{"includeMedia":"yes"}', 'includeMedia']
    ])('rejects %s as a configuration error naming the key, before anything runs', (json, key) => {
        const error = thrownBy(() => parseSyncFlags(['--metadata', json], 'usage'));
        expect(error).toBeInstanceOf(ConfigError);
        expect(String(error)).toContain(`--metadata: Invalid connection metadata`);
        expect(String(error)).toContain(key);
    });

    it('passes valid values and unknown keys through unchanged (the sync warns about unknown keys)', () => {
        const flags = parseSyncFlags(['--metadata', '{"backfillDays":30,"backfilDays":90}'], 'usage');
        expect(flags).toEqual({ help: false, metadata: { backfillDays: 30, backfilDays: 90 } });
    });
});

describe('a 401 from Clari, run locally', () => {
    it('names the variables the local commands read the credentials from', () => {
        const line = describeFailure(new ClariAuthError(401));
        expect(line).toContain('HTTP 401');
        expect(line).toContain('CLARI_API_KEY');
        expect(line).toContain('CLARI_API_PASSWORD');
    });
});
