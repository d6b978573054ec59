import { RUN_KINDS, type CallWindow, type RunKind } from './plan.js';

/**
 * The run report: the log lines of a run that programs read as well as people. Nango's activity log
 * shows them as they are; the local CLI's progress display, the benchmark and the tests parse them.
 * This comment is the format's specification. The sync writes the lines with the `format…` functions
 * below and every reader goes through `parseReportLine`; nothing else may match on their wording.
 *
 * Each is one `info` message, in this order within a run:
 *
 *   Starting <run> run: <window>[; plus <window>]...
 *       First, once. <run> is `initial`, `reconcile` or `incremental`. Each <window> is one listing of
 *       /calls, in the order the run lists them:
 *           calls between <time after> and <time before>[, modified after <iso>][, modified before <iso>]
 *       All bounds are exclusive.
 *
 *   window: matched=<n>
 *       After the first page of each window, when Clari says how many calls the window holds
 *       (`pagination.matched`); absent otherwise. The sum over a run is its expected `listed`.
 *
 *   page: listed=<n> unchanged=<n> pruned=<n> fetched=<n> saved=<n> invalid=<n> gone=<n>
 *       After each listed page is saved. listed: valid calls on the page, less any the previous page
 *       already had; unchanged: stored copy current; pruned: stored payload pruned but judged current;
 *       fetched: details fetched; saved: records saved (re-saved ones included); invalid: rows of the
 *       listing that failed validation; gone: calls whose details answered 404 (deleted next).
 *
 *   paused: reason=<budget|refused> resumes=<iso> weekSpent=<n> budget=<n> backfilledTo=<iso|none>
 *       When the run stopped asking Clari before it was done: the week's budget (or the backfill's share of
 *       it) was spent, or Clari refused request after request. resumes: when the next Clari week starts (for
 *       `refused`, the next run tries again); backfilledTo: every call from that time to the backfill's end is
 *       stored (none when no backfill is in progress). A pause is not a failure: the run ends successfully.
 *
 *   Clari Copilot calls sync (<run>) finished in <seconds>s: listed=<n> detailsFetched=<n> unchangedSkipped=<n> prunedSkipped=<n> saved=<n> invalid=<n> deleted=<n> failed=<n> requests=<n> retries=<n> 429s=<n> deletes=<method> refreshed=<n> deferred=<n> confirmedAlive=<n> withheld=<n> weekSpent=<n> paused=<none|budget|refused>
 *       Last, once, unless the run stopped on an error first; a run that fails because most of its calls
 *       failed to load writes it, then fails. The counters are the run's totals (invalid counts listing and
 *       details, 429s the throttled responses, detailsFetched every call-details answer, refreshes and
 *       confirmations included); deletes is how the delete pass ran: `listRecords`, `previousExecutions`,
 *       `skipped` (a reconciliation whose listing was incomplete), `withheld` (one that would have deleted
 *       too much to trust) or `none` (no reconciliation). refreshed: recent calls re-fetched by the daily
 *       refresh; deferred: changed calls not asked for because Clari failed on them earlier today;
 *       confirmedAlive: unlisted stored calls that Clari confirmed still exist; withheld: deletions withheld;
 *       weekSpent: requests this Clari week has cost the sync, this run included; paused: why it paused, if it did.
 *
 * Values: <n> is a non-negative integer, <seconds> has one decimal, and times are UTC ISO 8601 with
 * milliseconds (`Date#toISOString`). `key=value` fields are separated by single spaces.
 *
 * Compatibility: a new field goes at the end of its line, and readers ignore fields they do not know.
 * Renaming or removing a field, or rewording a line's fixed words, breaks readers: change this module
 * and its tests with it. A line that does not follow this format, a field missing included, is not part
 * of the report (`parseReportLine` returns null).
 */

/** How a run's delete pass went (see the summary line above). */
export const DELETE_METHODS = ['listRecords', 'previousExecutions', 'skipped', 'withheld', 'none'] as const;
export type DeleteMethod = (typeof DELETE_METHODS)[number];

/** The per-page counters, in the order the page line lists them. */
export interface PageCounts {
    listed: number;
    unchanged: number;
    pruned: number;
    fetched: number;
    saved: number;
    invalid: number;
    gone: number;
}

/** The run's totals, in the order the summary line lists them. */
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
    /** Written as `429s`. */
    throttled: number;
}

/** Summary counters written after `deletes=`, the order the line lists them. */
export interface LaterSummaryCounts {
    refreshed: number;
    deferred: number;
    confirmedAlive: number;
    withheld: number;
    weekSpent: number;
}

export const PAUSE_REASONS = ['budget', 'refused'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export interface RunPause {
    reason: PauseReason;
    resumes: Date;
    weekSpent: number;
    budget: number;
    backfilledTo: Date | null;
}

export interface RunStart {
    run: RunKind;
    windows: CallWindow[];
}

export interface RunSummary {
    run: RunKind;
    /** To the 0.1 s the line carries. */
    elapsedMs: number;
    counts: SummaryCounts & LaterSummaryCounts;
    deletes: DeleteMethod;
    paused: PauseReason | null;
}

export type ReportLine =
    | ({ type: 'start' } & RunStart)
    | { type: 'window'; matched: number }
    | { type: 'page'; counts: PageCounts }
    | ({ type: 'pause' } & RunPause)
    | ({ type: 'summary' } & RunSummary);

/** Each counter's key on the line. */
const PAGE_KEYS = {
    listed: 'listed',
    unchanged: 'unchanged',
    pruned: 'pruned',
    fetched: 'fetched',
    saved: 'saved',
    invalid: 'invalid',
    gone: 'gone'
} as const satisfies Record<keyof PageCounts, string>;

const SUMMARY_KEYS = {
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
} as const satisfies Record<keyof SummaryCounts, string>;

const LATER_SUMMARY_KEYS = {
    refreshed: 'refreshed',
    deferred: 'deferred',
    confirmedAlive: 'confirmedAlive',
    withheld: 'withheld',
    weekSpent: 'weekSpent'
} as const satisfies Record<keyof LaterSummaryCounts, string>;

const START_PREFIX = 'Starting ';
const WINDOW_PREFIX = 'window: ';
const PAGE_PREFIX = 'page: ';
const PAUSE_PREFIX = 'paused: ';
const SUMMARY_PREFIX = 'Clari Copilot calls sync (';
const WINDOW_SEPARATOR = '; plus ';

const ISO = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`;
const START_LINE = /^Starting (\w+) run: (.+)$/;
const WINDOW_TEXT = new RegExp(`^calls between (${ISO}) and (${ISO})(?:, modified after (${ISO}))?(?:, modified before (${ISO}))?$`);
const SUMMARY_LINE = /^Clari Copilot calls sync \((\w+)\) finished in (\d+\.\d)s: (.+)$/;
const FIELD = /^([A-Za-z0-9]+)=(\S+)$/;
const COUNT = /^\d+$/;

export function formatRunStart(start: RunStart): string {
    return `${START_PREFIX}${start.run} run: ${start.windows.map(formatCallWindow).join(WINDOW_SEPARATOR)}`;
}

export function formatWindow(matched: number): string {
    return `${WINDOW_PREFIX}matched=${matched}`;
}

export function formatPage(counts: PageCounts): string {
    return `${PAGE_PREFIX}${formatCounts(counts, PAGE_KEYS)}`;
}

export function formatSummary(summary: RunSummary): string {
    return (
        `${SUMMARY_PREFIX}${summary.run}) finished in ${(summary.elapsedMs / 1000).toFixed(1)}s: ` +
        `${formatCounts<keyof SummaryCounts>(summary.counts, SUMMARY_KEYS)} deletes=${summary.deletes} ` +
        `${formatCounts<keyof LaterSummaryCounts>(summary.counts, LATER_SUMMARY_KEYS)} paused=${summary.paused ?? 'none'}`
    );
}

export function formatPause(pause: RunPause): string {
    return (
        `${PAUSE_PREFIX}reason=${pause.reason} resumes=${pause.resumes.toISOString()} weekSpent=${pause.weekSpent} ` +
        `budget=${pause.budget} backfilledTo=${pause.backfilledTo?.toISOString() ?? 'none'}`
    );
}

/** The report line `message` is, or null for any other log line. */
export function parseReportLine(message: string): ReportLine | null {
    if (message.startsWith(START_PREFIX)) {
        return parseRunStart(message);
    }
    if (message.startsWith(WINDOW_PREFIX)) {
        const matched = fieldsOf(message.slice(WINDOW_PREFIX.length))?.get('matched');
        return matched !== undefined && COUNT.test(matched) ? { type: 'window', matched: Number(matched) } : null;
    }
    if (message.startsWith(PAGE_PREFIX)) {
        const fields = fieldsOf(message.slice(PAGE_PREFIX.length));
        const counts = fields && readCounts(fields, PAGE_KEYS);
        return counts ? { type: 'page', counts } : null;
    }
    if (message.startsWith(SUMMARY_PREFIX)) {
        return parseSummary(message);
    }
    if (message.startsWith(PAUSE_PREFIX)) {
        return parsePause(message.slice(PAUSE_PREFIX.length));
    }
    return null;
}

function parsePause(text: string): ReportLine | null {
    const fields = fieldsOf(text);
    const reason = PAUSE_REASONS.find((known) => known === fields?.get('reason'));
    const resumes = isoDate(fields?.get('resumes'));
    const weekSpent = fields?.get('weekSpent');
    const budget = fields?.get('budget');
    const backfilled = fields?.get('backfilledTo');
    const backfilledTo = backfilled === 'none' ? null : isoDate(backfilled);
    if (!reason || !resumes || !weekSpent || !COUNT.test(weekSpent) || !budget || !COUNT.test(budget) || backfilledTo === undefined) {
        return null;
    }
    return { type: 'pause', reason, resumes, weekSpent: Number(weekSpent), budget: Number(budget), backfilledTo };
}

/** A Date for an ISO time as `Date#toISOString` writes it; undefined for anything else. */
function isoDate(text: string | undefined): Date | undefined {
    return text !== undefined && new RegExp(`^${ISO}$`).test(text) ? new Date(text) : undefined;
}

function formatCallWindow(window: CallWindow): string {
    const modifiedAfter = window.modifiedAfter ? `, modified after ${window.modifiedAfter.toISOString()}` : '';
    const modifiedBefore = window.modifiedBefore ? `, modified before ${window.modifiedBefore.toISOString()}` : '';
    return `calls between ${window.timeAfter.toISOString()} and ${window.timeBefore.toISOString()}${modifiedAfter}${modifiedBefore}`;
}

function parseRunStart(message: string): ReportLine | null {
    const match = START_LINE.exec(message);
    const run = runKind(match?.[1]);
    if (!match?.[2] || run === null) {
        return null;
    }
    const windows: CallWindow[] = [];
    for (const text of match[2].split(WINDOW_SEPARATOR)) {
        const parts = WINDOW_TEXT.exec(text);
        if (!parts?.[1] || !parts[2]) {
            return null;
        }
        windows.push({
            timeAfter: new Date(parts[1]),
            timeBefore: new Date(parts[2]),
            ...(parts[3] ? { modifiedAfter: new Date(parts[3]) } : {}),
            ...(parts[4] ? { modifiedBefore: new Date(parts[4]) } : {})
        });
    }
    return { type: 'start', run, windows };
}

function parseSummary(message: string): ReportLine | null {
    const match = SUMMARY_LINE.exec(message);
    const run = runKind(match?.[1]);
    const fields = match?.[3] === undefined ? null : fieldsOf(match[3]);
    const counts = fields && readCounts(fields, SUMMARY_KEYS);
    const later = fields && readCounts(fields, LATER_SUMMARY_KEYS);
    const deletes = DELETE_METHODS.find((method) => method === fields?.get('deletes'));
    const pausedText = fields?.get('paused');
    const paused = PAUSE_REASONS.find((reason) => reason === pausedText) ?? null;
    if (run === null || !counts || !later || deletes === undefined || (paused === null && pausedText !== 'none')) {
        return null;
    }
    return { type: 'summary', run, elapsedMs: Math.round(Number(match?.[2]) * 1000), counts: { ...counts, ...later }, deletes, paused };
}

function runKind(text: string | undefined): RunKind | null {
    return RUN_KINDS.find((kind) => kind === text) ?? null;
}

function formatCounts<F extends string>(counts: Readonly<Record<F, number>>, keys: Readonly<Record<F, string>>): string {
    return (Object.entries(keys) as [F, string][]).map(([field, key]) => `${key}=${counts[field]}`).join(' ');
}

/** `key=value` fields separated by single spaces, or null when the text is anything else. */
function fieldsOf(text: string): Map<string, string> | null {
    const fields = new Map<string, string>();
    for (const token of text.split(' ')) {
        const match = FIELD.exec(token);
        if (!match?.[1] || match[2] === undefined) {
            return null;
        }
        fields.set(match[1], match[2]);
    }
    return fields;
}

function readCounts<F extends string>(fields: ReadonlyMap<string, string>, keys: Readonly<Record<F, string>>): Record<F, number> | null {
    const counts: Partial<Record<F, number>> = {};
    for (const [field, key] of Object.entries(keys) as [F, string][]) {
        const value = fields.get(key);
        if (value === undefined || !COUNT.test(value)) {
            return null;
        }
        counts[field] = Number(value);
    }
    return counts as Record<F, number>;
}
