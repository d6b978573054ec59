import { describe, expect, it } from 'vitest';
import { DELETE_METHODS, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';
import { emptyCounts } from '../runner/events.js';
import { describeRun } from './run-words.js';

function summary(overrides: Partial<Omit<RunSummary, 'counts'>> & { counts?: Partial<RunSummary['counts']> } = {}): RunSummary {
    const { counts, ...rest } = overrides;
    return {
        run: 'incremental',
        elapsedMs: 1_200,
        deletes: 'listRecords',
        paused: null,
        ...rest,
        counts: {
            listed: 2,
            detailsFetched: 0,
            unchangedSkipped: 2,
            prunedSkipped: 0,
            saved: 0,
            invalid: 0,
            deleted: 0,
            failed: 0,
            requests: 1,
            retries: 0,
            throttled: 0,
            refreshed: 0,
            deferred: 0,
            confirmedAlive: 0,
            withheld: 0,
            weekSpent: 40,
            ...counts
        }
    };
}

describe('describeRun', () => {
    it('says why an unchanged call was not saved, so the store line does not contradict the sync', () => {
        const lines = describeRun(summary(), emptyCounts());
        expect(lines[0]).toBe(
            'Incremental run done in 1.2s: Clari listed 2 calls; 0 fetched in full, 2 left alone as unchanged since they were stored.'
        );
        expect(lines.at(-1)).toBe('Record store: 0 added, 0 updated, 0 deleted.');
        expect(lines.join('\n')).not.toMatch(/unchangedSkipped|=/);
    });

    it('tells the store counting a re-saved identical call apart from an added one', () => {
        const lines = describeRun(summary(), { ...emptyCounts(), added: 1_500, unchanged: 3 });
        expect(lines.at(-1)).toBe('Record store: 1,500 added, 0 updated, 0 deleted; 3 saved again as they were.');
    });

    it('names every way of deleting in words, never by its method name', () => {
        for (const deletes of DELETE_METHODS) {
            const text = describeRun(summary({ deletes, counts: { deleted: 3, withheld: 40 } }), null).join('\n');
            const line = text.split('\n').find((candidate) => candidate.startsWith('Deleted calls: '));
            expect(line, deletes).toBeDefined();
            expect(line, deletes).not.toMatch(/listRecords|previousExecutions|deletes=/);
        }
        expect(describeRun(summary({ deletes: 'withheld', counts: { withheld: 40 } }), null).join('\n')).toContain(
            '40 withheld: more calls went missing'
        );
    });

    it('names calls that were not saved and a pause, and prints no store line for a failed run', () => {
        const lines = describeRun(summary({ paused: 'budget', counts: { invalid: 1, failed: 2 } }), null);
        expect(lines).toContain(
            'Not saved: 1 call Clari sent malformed (skipped, named in the log above); 2 calls Clari failed to serve (the next run tries them again).'
        );
        expect(lines.some((line) => line.startsWith('Paused: the weekly request budget'))).toBe(true);
        expect(lines.some((line) => line.startsWith('Record store'))).toBe(false);
    });
});
