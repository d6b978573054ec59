import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatPage, formatPause, formatRunStart, formatSummary, formatWindow } from '../../nango-integrations/clari-copilot/run-report.js';
import type { RunnerEvent } from '../runner/run-sync.js';
import { SyncProgress } from './progress.js';

/** What a sync run says, then stop() at once: lines logged just before the end are the ones at risk. */

function capture(isTTY: boolean): { stream: Writable & { isTTY: boolean; columns: number }; text: () => string } {
    const chunks: string[] = [];
    const stream = Object.assign(
        new Writable({
            write(chunk: Buffer | string, _encoding, done): void {
                chunks.push(chunk.toString());
                done();
            }
        }),
        { isTTY, columns: 200 }
    );
    return { stream, text: () => chunks.join('') };
}

const log = (level: string, message: string): RunnerEvent => ({ type: 'log', level, message });

const START = formatRunStart({
    run: 'initial',
    windows: [{ timeAfter: new Date('2025-06-01T12:00:00.000Z'), timeBefore: new Date('2026-06-01T12:00:00.000Z') }]
});
const SUMMARY = formatSummary({
    run: 'initial',
    elapsedMs: 1000,
    counts: {
        listed: 3,
        detailsFetched: 1,
        unchangedSkipped: 0,
        prunedSkipped: 0,
        saved: 1,
        invalid: 1,
        deleted: 1,
        failed: 1,
        requests: 9,
        retries: 5,
        throttled: 0,
        refreshed: 0,
        deferred: 0,
        confirmedAlive: 0,
        withheld: 0,
        weekSpent: 9
    },
    deletes: 'skipped',
    paused: null
});

const SAID = [
    log('warn', 'Ignoring connection metadata keys this sync does not use: backfilDays'),
    log('info', START),
    log('info', formatWindow(3)),
    log('warn', 'Skipped invalid call call-17 from GET /calls: time: Invalid ISO datetime'),
    log('error', 'Skipped call call-42 for now: GET /call-details failed after 6 attempt(s): HTTP 502'),
    log('info', formatPage({ listed: 3, unchanged: 0, pruned: 0, fetched: 1, saved: 1, invalid: 1, gone: 1 })),
    log('info', 'Deleted 1 call(s) Clari no longer serves (404): call-99'),
    log('info', SUMMARY)
];

const EXPECTED_LINES = [
    'warn: Ignoring connection metadata keys this sync does not use: backfilDays',
    START,
    'warn: Skipped invalid call call-17 from GET /calls: time: Invalid ISO datetime',
    'error: Skipped call call-42 for now: GET /call-details failed after 6 attempt(s): HTTP 502',
    'Deleted 1 call(s) Clari no longer serves (404): call-99'
];

describe('SyncProgress', () => {
    for (const isTTY of [false, true]) {
        it(`prints every line the sync logs once, in order, even right before stop() (${isTTY ? 'terminal' : 'pipe'})`, () => {
            const output = capture(isTTY);
            const progress = new SyncProgress(output.stream);
            SAID.forEach(progress.onEvent);
            progress.stop();

            const text = output.text();
            const positions = EXPECTED_LINES.map((line) => text.indexOf(line));
            expect(positions, text).not.toContain(-1);
            expect([...positions].sort((a, b) => a - b)).toEqual(positions);
            for (const line of EXPECTED_LINES) {
                expect(text.split(line).length - 1, line).toBe(1);
            }
        });
    }

    it('shows the counters in the bar and keeps the summary for the caller instead of echoing them', () => {
        const output = capture(false);
        const progress = new SyncProgress(output.stream);
        SAID.forEach(progress.onEvent);
        progress.stop();

        const text = output.text();
        expect(text).not.toContain(formatWindow(3));
        expect(text).not.toContain('page: ');
        expect(text).not.toContain(SUMMARY);
        expect(text).toContain('listed 3/3');
        expect(text).toContain('retries 5');
        expect(progress.summaryLine).toBe(SUMMARY);
    });

    it('says the run is paused by the weekly budget, and until when, instead of freezing on an ETA', () => {
        const output = capture(false);
        const progress = new SyncProgress(output.stream);
        [
            log('info', START),
            log('info', formatWindow(3000)),
            log('info', formatPage({ listed: 100, unchanged: 0, pruned: 0, fetched: 100, saved: 100, invalid: 0, gone: 0 }))
        ].forEach(progress.onEvent);
        const resumes = new Date('2026-06-21T00:00:00.000Z');
        progress.onEvent(log('info', formatPause({ reason: 'budget', resumes, weekSpent: 49_000, budget: 50_000, backfilledTo: null })));
        progress.stop();
        const text = output.text();
        expect(text).toContain('paused by the weekly budget until 2026-06-21T00:00:00.000Z (49000 of 50000 requests this Clari week)');
        expect(text).toContain('ETA paused by the weekly budget until 2026-06-21T00:00:00.000Z');
        expect(text).not.toContain('paused: reason=');
    });
});
