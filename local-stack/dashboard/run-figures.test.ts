import { describe, expect, it } from 'vitest';

import { RunStats } from '../../nango-integrations/clari-copilot/run-stats.js';
import { runFigures, runProgress } from './run-figures.js';

const lines = (...messages: string[]) => messages.map((message) => ({ message }));

describe('runFigures', () => {
    it('reads the summary line the sync writes, 429s and all', () => {
        const stats = new RunStats();
        Object.assign(stats, {
            listed: 223,
            detailsFetched: 220,
            unchangedSkipped: 2,
            prunedSkipped: 1,
            saved: 219,
            invalid: 3,
            deleted: 4,
            failed: 1,
            requests: 226,
            retries: 5,
            throttled: 6,
            refreshed: 7,
            deferred: 8,
            confirmedAlive: 9,
            withheld: 10,
            weekSpent: 11,
            deleteMethod: 'listRecords'
        });
        const figures = runFigures(
            lines(
                'Starting reconcile run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
                'other line',
                stats.summary('reconcile', 2200)
            )
        );
        expect(figures.kind).toBe('reconcile');
        expect(figures.deletes).toBe('listRecords');
        expect(figures.summary).toEqual({
            listed: 223,
            detailsFetched: 220,
            unchangedSkipped: 2,
            prunedSkipped: 1,
            saved: 219,
            invalid: 3,
            deleted: 4,
            failed: 1,
            requests: 226,
            retries: 5,
            throttled: 6,
            refreshed: 7,
            deferred: 8,
            confirmedAlive: 9,
            withheld: 10,
            weekSpent: 11
        });
    });

    it('sums windows and pages of a run that has not finished', () => {
        const figures = runFigures(
            lines(
                'Starting initial run: calls between 2025-01-01T00:00:00.000Z and 2026-01-01T00:00:00.000Z',
                'window: matched=150',
                'page: listed=100 unchanged=3 pruned=1 fetched=96 saved=95 invalid=1 gone=0',
                'window: matched=50',
                'page: listed=40 unchanged=0 pruned=0 fetched=40 saved=40 invalid=0 gone=2'
            )
        );
        expect(figures).toEqual({
            kind: 'initial',
            matched: 200,
            pages: { pages: 2, listed: 140, unchanged: 3, pruned: 1, fetched: 136, saved: 135, invalid: 1, gone: 2 },
            summary: null,
            deletes: null,
            pause: null
        });
    });

    it('ignores lines that only look like report lines', () => {
        const figures = runFigures(
            lines(
                'page: listed=100 unchanged=3',
                'page: listed=x unchanged=0 pruned=0 fetched=0 saved=0 invalid=0 gone=0',
                'Clari Copilot calls sync (initial) finished in 1.0s: listed=3 saved=1',
                'window: matched=many'
            )
        );
        expect(figures).toMatchObject({ kind: null, matched: null, summary: null, pages: { pages: 0, listed: 0 } });
    });
});

describe('runProgress', () => {
    const startedAt = new Date('2026-01-01T00:00:00Z');
    const at = (seconds: number) => new Date(startedAt.getTime() + seconds * 1000);

    it('gives percent, rate and time left from the pages done so far', () => {
        const figures = runFigures(
            lines('window: matched=400', 'page: listed=100 unchanged=0 pruned=0 fetched=100 saved=100 invalid=0 gone=0')
        );
        expect(runProgress(figures, startedAt, at(20))).toEqual({
            listed: 100,
            matched: 400,
            fetched: 100,
            saved: 100,
            percent: 25,
            ratePerSecond: 5,
            etaSeconds: 60,
            elapsedSeconds: 20
        });
    });

    it('leaves percent and time left unknown until the size and a first page are known', () => {
        expect(runProgress(runFigures([]), startedAt, at(3))).toMatchObject({ percent: null, etaSeconds: null, ratePerSecond: 0 });
        expect(runProgress(runFigures(lines('window: matched=10')), startedAt, at(3))).toMatchObject({ percent: 0, etaSeconds: null });
    });
});
