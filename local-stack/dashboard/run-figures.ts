import { parseReportLine, type PageCounts, type RunPause, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';

/**
 * What the dashboard reads from a run's log lines: the sync reports its kind, its size, each page and its
 * totals there (the run report, specified and parsed by the sync's `run-report.ts`).
 */

/** Every counter of the summary line. */
export type SummaryCounts = RunSummary['counts'];

/** Sums of the page lines so far: what a run that has not (or never) written its summary line has done. */
export interface PageTotals extends PageCounts {
    pages: number;
}

export interface RunFigures {
    /** initial, incremental or reconcile; null before the sync's first line. */
    kind: string | null;
    /** Calls the run's windows hold, as Clari counted them (sum of the `window: matched=` lines); null when unknown. */
    matched: number | null;
    pages: PageTotals;
    /** Null until the run wrote its summary line (a failed run may never write it). */
    summary: SummaryCounts | null;
    /** How the delete pass ran (listRecords, previousExecutions, skipped, withheld, none); null without a summary. */
    deletes: string | null;
    /** Why the run stopped asking Clari early (the weekly budget, or Clari refusing), from its `paused:` line. */
    pause: RunPause | null;
}

function emptyPages(): PageTotals {
    return { pages: 0, listed: 0, unchanged: 0, pruned: 0, fetched: 0, saved: 0, invalid: 0, gone: 0 };
}

function addPage(totals: PageTotals, page: PageCounts): PageTotals {
    return {
        pages: totals.pages + 1,
        listed: totals.listed + page.listed,
        unchanged: totals.unchanged + page.unchanged,
        pruned: totals.pruned + page.pruned,
        fetched: totals.fetched + page.fetched,
        saved: totals.saved + page.saved,
        invalid: totals.invalid + page.invalid,
        gone: totals.gone + page.gone
    };
}

/** The figures of one run from its log lines, in the order they were written. */
export function runFigures(lines: readonly { message: string }[]): RunFigures {
    const figures: RunFigures = { kind: null, matched: null, pages: emptyPages(), summary: null, deletes: null, pause: null };
    for (const { message } of lines) {
        const line = parseReportLine(message);
        if (line?.type === 'start') {
            figures.kind = line.run;
        } else if (line?.type === 'window') {
            figures.matched = (figures.matched ?? 0) + line.matched;
        } else if (line?.type === 'page') {
            figures.pages = addPage(figures.pages, line.counts);
        } else if (line?.type === 'pause') {
            figures.pause = line;
        } else if (line?.type === 'summary') {
            figures.kind = line.run;
            figures.summary = line.counts;
            figures.deletes = line.deletes;
        }
    }
    return figures;
}

export interface RunProgress {
    listed: number;
    /** Calls expected in all; null until Clari said. */
    matched: number | null;
    fetched: number;
    saved: number;
    /** 0..100, null while the size is unknown. */
    percent: number | null;
    /** Calls listed per second since the run started. */
    ratePerSecond: number;
    /** Seconds left at that rate; null until a page is done and the size is known. */
    etaSeconds: number | null;
    elapsedSeconds: number;
}

/** Progress of a running run, from its figures so far (the runner flushes log lines every few seconds). */
export function runProgress(figures: RunFigures, startedAt: Date, now: Date): RunProgress {
    const elapsedSeconds = Math.max(0, (now.getTime() - startedAt.getTime()) / 1000);
    const { listed, fetched, saved } = figures.pages;
    const { matched } = figures;
    const ratePerSecond = elapsedSeconds > 0 ? listed / elapsedSeconds : 0;
    const left = matched === null ? null : Math.max(0, matched - listed);
    return {
        listed,
        matched,
        fetched,
        saved,
        percent: matched === null ? null : matched === 0 ? 100 : Math.min(100, Math.round((listed / matched) * 100)),
        ratePerSecond,
        etaSeconds: left === null || listed === 0 || ratePerSecond === 0 ? null : Math.round(left / ratePerSecond),
        elapsedSeconds
    };
}
