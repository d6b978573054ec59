import { describe, expect, it } from 'vitest';

import {
    formatPage,
    formatRunStart,
    formatSummary,
    formatWindow,
    parseReportLine,
    type PageCounts,
    type RunStart,
    type RunSummary
} from '../run-report.js';

const initial: RunStart = {
    run: 'initial',
    windows: [{ timeAfter: new Date('2025-06-15T12:00:00.000Z'), timeBefore: new Date('2026-06-15T12:00:00.000Z') }]
};
const incremental: RunStart = {
    run: 'incremental',
    windows: [
        {
            timeAfter: new Date('2025-06-15T12:00:00.000Z'),
            timeBefore: new Date('2026-06-15T12:00:00.000Z'),
            modifiedAfter: new Date('2026-06-15T10:50:00.000Z'),
            modifiedBefore: new Date('2026-06-15T12:00:00.000Z')
        },
        { timeAfter: new Date('2026-06-15T10:50:00.000Z'), timeBefore: new Date('2026-06-15T12:00:00.000Z') }
    ]
};
const page: PageCounts = { listed: 98, unchanged: 10, pruned: 2, fetched: 85, saved: 85, invalid: 2, gone: 1 };
const summary: RunSummary = {
    run: 'reconcile',
    elapsedMs: 12_300,
    counts: {
        listed: 1200,
        detailsFetched: 150,
        unchangedSkipped: 1040,
        prunedSkipped: 10,
        saved: 150,
        invalid: 3,
        deleted: 4,
        failed: 0,
        requests: 165,
        retries: 7,
        throttled: 5,
        refreshed: 2,
        deferred: 1,
        confirmedAlive: 3,
        withheld: 0,
        weekSpent: 165
    },
    deletes: 'listRecords',
    paused: null
};

describe('the run report format', () => {
    it('reads back every line kind it writes', () => {
        expect(parseReportLine(formatRunStart(initial))).toEqual({ type: 'start', ...initial });
        expect(parseReportLine(formatRunStart(incremental))).toEqual({ type: 'start', ...incremental });
        expect(parseReportLine(formatWindow(1234))).toEqual({ type: 'window', matched: 1234 });
        expect(parseReportLine(formatPage(page))).toEqual({ type: 'page', counts: page });
        expect(parseReportLine(formatSummary(summary))).toEqual({ type: 'summary', ...summary });
    });

    it('writes the lines the specification shows, readable as they are in Nango’s activity log', () => {
        expect(formatRunStart(incremental)).toBe(
            'Starting incremental run: calls between 2025-06-15T12:00:00.000Z and 2026-06-15T12:00:00.000Z, ' +
                'modified after 2026-06-15T10:50:00.000Z, modified before 2026-06-15T12:00:00.000Z; ' +
                'plus calls between 2026-06-15T10:50:00.000Z and 2026-06-15T12:00:00.000Z'
        );
        expect(formatWindow(7)).toBe('window: matched=7');
        expect(formatPage(page)).toBe('page: listed=98 unchanged=10 pruned=2 fetched=85 saved=85 invalid=2 gone=1');
        expect(formatSummary(summary)).toBe(
            'Clari Copilot calls sync (reconcile) finished in 12.3s: listed=1200 detailsFetched=150 unchangedSkipped=1040 ' +
                'prunedSkipped=10 saved=150 invalid=3 deleted=4 failed=0 requests=165 retries=7 429s=5 deletes=listRecords ' +
                'refreshed=2 deferred=1 confirmedAlive=3 withheld=0 weekSpent=165 paused=none'
        );
    });

    it('keeps the elapsed time to the tenth of a second the line carries', () => {
        expect(parseReportLine(formatSummary({ ...summary, elapsedMs: 1249 }))).toMatchObject({ elapsedMs: 1200 });
    });

    it('lets a line gain fields at its end without breaking readers', () => {
        expect(parseReportLine(`${formatPage(page)} retried=3`)).toEqual({ type: 'page', counts: page });
        expect(parseReportLine(`${formatSummary(summary)} pages=13`)).toEqual({ type: 'summary', ...summary });
    });

    it.each([
        ['another log line', 'Skipped invalid call call-17 from listed: time: Invalid ISO datetime'],
        ['a 404 delete', 'Deleted 1 call(s) Clari no longer serves (404): call-99'],
        ['an empty line', ''],
        ['a start line of an unknown run kind', formatRunStart(initial).replace('initial', 'partial')],
        ['a start line without a window', 'Starting initial run: '],
        ['a start line with a date that is not ISO', formatRunStart(initial).replace('2025-06-15T12:00:00.000Z', '2025-06-15')],
        ['a window line without matched', 'window: listed=3'],
        ['a negative count', 'window: matched=-1'],
        ['a page line missing a field', formatPage(page).replace(' gone=1', '')],
        ['a page line with a count that is not a number', formatPage(page).replace('saved=85', 'saved=many')],
        ['a page line with two spaces between fields', formatPage(page).replace(' ', '  ')],
        ['a summary without its delete method', formatSummary(summary).replace(' deletes=listRecords', '')],
        ['a summary with an unknown delete method', formatSummary(summary).replace('deletes=listRecords', 'deletes=all')],
        ['a summary missing a counter', formatSummary(summary).replace(' 429s=5', '')],
        ['a summary without its elapsed time', formatSummary(summary).replace(' finished in 12.3s', ' finished')]
    ])('reads %s as no report line', (_, line) => {
        expect(parseReportLine(line)).toBeNull();
    });
});
