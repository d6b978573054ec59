import type { DeleteMethod, RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';
import type { RunCounts } from '../runner/events.js';

/**
 * A run's outcome in plain words for the terminal. The summary line itself is a machine format (run-report.ts)
 * that the run's log keeps; a person reading the terminal gets these lines instead. Without `store` (the run
 * failed), only what the sync said.
 */
export function describeRun(summary: RunSummary | null, store: RunCounts | null): string[] {
    const lines: string[] = [];
    if (summary) {
        lines.push(...describeClari(summary));
    }
    if (!store) {
        return lines;
    }
    lines.push(
        `Record store: ${count(store.added)} added, ${count(store.updated)} updated, ${count(store.deleted)} deleted` +
            (store.unchanged > 0 ? `; ${count(store.unchanged)} saved again as they were.` : '.')
    );
    return lines;
}

function describeClari(summary: RunSummary): string[] {
    const { counts } = summary;
    const skipped = counts.unchangedSkipped + counts.prunedSkipped;
    const lines = [
        `${capitalise(summary.run)} run done in ${(summary.elapsedMs / 1000).toFixed(1)}s: Clari listed ${calls(counts.listed)}; ` +
            `${count(counts.detailsFetched)} fetched in full` +
            (skipped > 0 ? `, ${count(skipped)} left alone as unchanged since they were stored` : '') +
            '.'
    ];
    const problems = [
        counts.invalid > 0 ? `${calls(counts.invalid)} Clari sent malformed (skipped, named in the log above)` : null,
        counts.failed > 0 ? `${calls(counts.failed)} Clari failed to serve (the next run tries them again)` : null
    ].filter((problem) => problem !== null);
    if (problems.length > 0) {
        lines.push(`Not saved: ${problems.join('; ')}.`);
    }
    lines.push(`Deleted calls: ${describeDeletes(summary.deletes, counts.deleted, counts.withheld)}`);
    lines.push(
        `Clari requests: ${count(counts.requests)} (${count(counts.retries)} retries, ${count(counts.throttled)} answered 429); ` +
            `${count(counts.weekSpent)} so far this Clari week.`
    );
    if (summary.paused === 'budget') {
        lines.push('Paused: the weekly request budget is spent for now; a later run carries on where this one stopped.');
    } else if (summary.paused === 'refused') {
        lines.push('Paused: Clari kept refusing requests (429); the next scheduled run tries again.');
    }
    return lines;
}

function describeDeletes(method: DeleteMethod, deleted: number, withheld: number): string {
    const howMany = deleted === 0 ? 'none' : count(deleted);
    switch (method) {
        case 'listRecords':
            return `${howMany}; Clari's whole listing was compared with the stored calls.`;
        case 'previousExecutions':
            return `${howMany}; the stored calls this run did not see again are the deleted ones.`;
        case 'skipped':
            return "none checked this run, because part of Clari's listing could not be read; a later run checks.";
        case 'withheld':
            return `${count(withheld)} withheld: more calls went missing from Clari's listing than a run may delete at once, so none was deleted.`;
        case 'none':
            return deleted === 0
                ? "none; this run did not compare the store with Clari's whole listing (a reconciliation does)."
                : `${howMany} that Clari answered 404 for; the store is compared with Clari's whole listing at a reconciliation.`;
    }
}

function calls(n: number): string {
    return n === 1 ? '1 call' : `${count(n)} calls`;
}

function count(n: number): string {
    return n.toLocaleString('en-US');
}

function capitalise(text: string): string {
    return text.charAt(0).toUpperCase() + text.slice(1);
}
