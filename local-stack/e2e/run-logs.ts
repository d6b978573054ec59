import type { RunKind } from '../../nango-integrations/clari-copilot/plan.js';
import { parseReportLine, type ReportLine, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';
import type { TimeWindow } from './oracle.js';

/** What a run logged, read through the sync's run report parser (run-report.ts). */

export interface LogLine {
    level: string;
    message: string;
}

export interface RunPlanSeen {
    kind: RunKind;
    /** The first listing's call-time window, from the run report's start line. */
    window: TimeWindow;
}

/** The run report's lines among a run's logs, in order. */
export function reportOf(logs: readonly LogLine[]): ReportLine[] {
    return logs.flatMap(({ message }) => parseReportLine(message) ?? []);
}

/** The run's plan as its start line tells it: the kind, and the first window's call-time bounds. */
export function planOf(logs: readonly LogLine[]): RunPlanSeen | undefined {
    const start = reportOf(logs).find((line) => line.type === 'start');
    const first = start?.windows[0];
    return start && first ? { kind: start.run, window: { after: first.timeAfter, before: first.timeBefore } } : undefined;
}

/** The sync's one summary line, read. */
export function summaryOf(logs: readonly LogLine[]): RunSummary {
    const summary = reportOf(logs).find((line) => line.type === 'summary');
    if (!summary) {
        throw new Error('the sync logged no summary line');
    }
    return summary;
}
