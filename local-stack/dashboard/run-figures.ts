/**
 * What the dashboard reads from a run's log lines: the sync reports its kind, its size, each page and its
 * totals there (the "run report"). This module is the dashboard's only reader of that wording; once
 * nango-integrations/clari-copilot/run-report.ts and its `parseReportLine` land, `runFigures` becomes a fold
 * over that parser and nothing else here changes.
 */

/** The run's totals from its summary line, named as the summary line names them (`429s` is `throttled`). */
export interface SummaryCounts {
    listed: number;
    detailsFetched: number;
    unchangedSkipped: number;
    prunedSkipped: number;
    saved: number;
    invalid: number;
    deleted: number;
    failed: number;
    requests: number;
    retries: number;
    throttled: number;
}

/** Sums of the page lines so far: what a run that has not (or never) written its summary line has done. */
export interface PageTotals {
    pages: number;
    listed: number;
    unchanged: number;
    pruned: number;
    fetched: number;
    saved: number;
    invalid: number;
    gone: number;
}

export interface RunFigures {
    /** initial, incremental or reconcile; null before the sync's first line. */
    kind: string | null;
    /** Calls the run's windows hold, as Clari counted them (sum of the `window: matched=` lines); null when unknown. */
    matched: number | null;
    pages: PageTotals;
    /** Null until the run wrote its summary line (a failed run may never write it). */
    summary: SummaryCounts | null;
    /** How the delete pass ran (listRecords, previousExecutions, skipped, none); null without a summary. */
    deletes: string | null;
}

const START = /^Starting (\w+) run: /;
const WINDOW = /^window: matched=(\d+)$/;
const PAGE = /^page: (.+)$/;
const SUMMARY = /^Clari Copilot calls sync \((\w+)\) finished in \d+(?:\.\d+)?s: (.+)$/;

const SUMMARY_FIELDS: Record<keyof SummaryCounts, string> = {
    listed: 'listed',
    detailsFetched: 'detailsFetched',
    unchangedSkipped: 'unchangedSkipped',
    prunedSkipped: 'prunedSkipped',
    saved: 'saved',
    invalid: 'invalid',
    deleted: 'deleted',
    failed: 'failed',
    requests: 'requests',
    retries: 'retries',
    throttled: '429s'
};

const PAGE_FIELDS: Record<Exclude<keyof PageTotals, 'pages'>, string> = {
    listed: 'listed',
    unchanged: 'unchanged',
    pruned: 'pruned',
    fetched: 'fetched',
    saved: 'saved',
    invalid: 'invalid',
    gone: 'gone'
};

/** `key=value` pairs of a report line; a line with a malformed pair is not a report line. */
function fields(text: string): Map<string, string> | null {
    const pairs = new Map<string, string>();
    for (const part of text.split(' ')) {
        const match = /^([A-Za-z0-9]+)=(\S+)$/.exec(part);
        if (!match?.[1] || match[2] === undefined) {
            return null;
        }
        pairs.set(match[1], match[2]);
    }
    return pairs;
}

function count(pairs: Map<string, string>, key: string): number | null {
    const value = pairs.get(key);
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

/** Every counter, or null when one is missing: a partial line would show a made-up zero. */
function counts<K extends string>(pairs: Map<string, string>, names: Readonly<Record<K, string>>): Record<K, number> | null {
    const out: Partial<Record<K, number>> = {};
    for (const [name, key] of Object.entries(names) as [K, string][]) {
        const value = count(pairs, key);
        if (value === null) {
            return null;
        }
        out[name] = value;
    }
    return out as Record<K, number>;
}

function emptyPages(): PageTotals {
    return { pages: 0, listed: 0, unchanged: 0, pruned: 0, fetched: 0, saved: 0, invalid: 0, gone: 0 };
}

/** The figures of one run from its log lines, in the order they were written. */
export function runFigures(lines: readonly { message: string }[]): RunFigures {
    const figures: RunFigures = { kind: null, matched: null, pages: emptyPages(), summary: null, deletes: null };
    for (const { message } of lines) {
        const start = START.exec(message);
        const window = WINDOW.exec(message);
        const page = PAGE.exec(message);
        const summary = SUMMARY.exec(message);
        if (start?.[1]) {
            figures.kind = start[1];
        } else if (window?.[1]) {
            figures.matched = (figures.matched ?? 0) + Number(window[1]);
        } else if (page?.[1]) {
            const pairs = fields(page[1]);
            const pageCounts = pairs && counts(pairs, PAGE_FIELDS);
            if (pageCounts) {
                const { pages } = figures;
                figures.pages = {
                    pages: pages.pages + 1,
                    listed: pages.listed + pageCounts.listed,
                    unchanged: pages.unchanged + pageCounts.unchanged,
                    pruned: pages.pruned + pageCounts.pruned,
                    fetched: pages.fetched + pageCounts.fetched,
                    saved: pages.saved + pageCounts.saved,
                    invalid: pages.invalid + pageCounts.invalid,
                    gone: pages.gone + pageCounts.gone
                };
            }
        } else if (summary?.[1] && summary[2]) {
            const pairs = fields(summary[2]);
            const totals = pairs && counts(pairs, SUMMARY_FIELDS);
            if (pairs && totals) {
                figures.kind = summary[1];
                figures.summary = totals;
                figures.deletes = pairs.get('deletes') ?? null;
            }
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
