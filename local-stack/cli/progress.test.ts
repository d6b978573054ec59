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
        expect(text).toContain('done 3/3 | listed 3');
        expect(text).toContain('retries 5');
        expect(progress.summary).toMatchObject({ run: 'initial', deletes: 'skipped', counts: { listed: 3, failed: 1 } });
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

    describe('figures', () => {
        const page = (listed: number): RunnerEvent =>
            log('info', formatPage({ listed, unchanged: 0, pruned: 0, fetched: listed, saved: listed, invalid: 0, gone: 0 }));
        const detail: RunnerEvent = { type: 'request', method: 'GET', endpoint: '/call-details', attempt: 1, status: 200, durationMs: 1 };
        const RESUMED_START = formatRunStart({
            run: 'incremental',
            windows: [
                { timeAfter: new Date('2026-05-31T12:00:00.000Z'), timeBefore: new Date('2026-06-01T12:00:00.000Z') },
                { timeAfter: new Date('2025-06-01T12:00:00.000Z'), timeBefore: new Date('2026-02-01T00:00:00.000Z'), role: 'backfill' }
            ]
        });

        function resumedRun(): { progress: SyncProgress; advance: (ms: number) => void } {
            let now = 1_000_000;
            const progress = new SyncProgress(capture(false).stream, () => now);
            return {
                progress,
                advance: (ms) => {
                    now += ms;
                }
            };
        }

        it('moves while the details of a page are fetched, before the page line', () => {
            const { progress } = resumedRun();
            [log('info', START), log('info', formatWindow(100)), detail, detail, detail].forEach(progress.onEvent);
            expect(progress.figures()).toMatchObject({ done: 3, total: 100 });
            progress.onEvent(page(100));
            expect(progress.figures()).toMatchObject({ done: 100, total: 100 });
            progress.stop();
        });

        it("on a resumed run, gives no ETA until the backfill window is sized, then one from this execution's pace", () => {
            const { progress, advance } = resumedRun();
            // The changes window first: small and quick. An ETA from it alone would promise the end in seconds.
            [log('info', RESUMED_START), log('info', formatWindow(10))].forEach(progress.onEvent);
            for (let i = 0; i < 10; i++) {
                advance(100);
                progress.onEvent(detail);
            }
            progress.onEvent(page(10));
            advance(1_000);
            expect(progress.figures()).toMatchObject({ done: 10, total: 10, eta: '…' });

            // The rest of the backfill: 1,000 calls, done at a steady 10 a second.
            progress.onEvent(log('info', formatWindow(1_000)));
            const etas: number[] = [];
            for (let second = 0; second < 30; second++) {
                for (let i = 0; i < 10; i++) {
                    advance(100);
                    progress.onEvent(detail);
                }
                if (second % 10 === 9) {
                    progress.onEvent(page(100));
                }
                etas.push(seconds(progress.figures().eta));
            }
            const last = progress.figures();
            expect(last).toMatchObject({ done: 310, total: 1_010 });
            // 700 calls left at 10 a second.
            expect(Math.abs((etas.at(-1) ?? 0) - 70)).toBeLessThanOrEqual(10);
            for (let i = 5; i < etas.length; i++) {
                // A steady pace gives an ETA that only counts down; it never jumps up between redraws.
                expect(etas[i], etas.join(' ')).toBeLessThanOrEqual((etas[i - 1] ?? 0) + 1);
            }
            progress.stop();
        });
    });
});

/** An ETA as the bar prints it (…, 45s, 1m10s) in seconds; NaN while unknown. */
function seconds(eta: string): number {
    const match = /^(?:(\d+)m)?(\d+)s$/.exec(eta);
    return match ? Number(match[1] ?? 0) * 60 + Number(match[2]) : Number.NaN;
}
