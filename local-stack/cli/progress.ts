import cliProgress from 'cli-progress';
import { parseReportLine } from '../../nango-integrations/clari-copilot/run-report.js';
import type { RunnerEvent } from '../runner/run-sync.js';

const RATE_WINDOW_MS = 5_000;

type OutputStream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Live progress of one sync run, fed by the runner's events. The sync reports its size (window lines)
 * and each finished page (page lines) in its run report (run-report.ts); requests, retries and saves
 * come from the runner. Those counters and the final summary line are what the bar and the caller show;
 * every other line the sync logs is printed as it arrives, above the bar on a terminal.
 */
export class SyncProgress {
    private readonly stream: OutputStream;
    private readonly bars: cliProgress.MultiBar;
    private readonly bar: cliProgress.SingleBar;
    private readonly requestTimes: number[] = [];
    private readonly startedAt = Date.now();
    private matched = 0;
    private listed = 0;
    private fetched = 0;
    private saved = 0;
    private retries = 0;
    private throttled = 0;
    /** Set once the sync paused for the weekly budget: the bar then says so instead of an ETA that never comes. */
    private pausedUntil: Date | null = null;
    private stopped = false;
    summaryLine: string | null = null;
    errorLine: string | null = null;

    constructor(stream: OutputStream = process.stdout) {
        this.stream = stream;
        this.bars = new cliProgress.MultiBar(
            {
                stream,
                format: ' calls {bar} {percentage}% | listed {listed}/{matched} | fetched {fetched} | saved {saved} | {rps} req/s | retries {retries} | 429s {throttled} | ETA {remaining}',
                hideCursor: true,
                clearOnComplete: false,
                noTTYOutput: true,
                notTTYSchedule: 5_000,
                fps: 5
            },
            cliProgress.Presets.shades_classic
        );
        this.bar = this.bars.create(1, 0, this.payload());
    }

    readonly onEvent = (event: RunnerEvent): void => {
        switch (event.type) {
            case 'request':
                this.requestTimes.push(Date.now());
                if (event.endpoint.startsWith('/call-details') && event.status === 200) {
                    this.fetched++;
                }
                if (event.status === 429) {
                    this.throttled++;
                }
                break;
            case 'saved':
                this.saved += event.count;
                break;
            case 'log':
                this.onLog(event.level, event.message);
                break;
            default:
                return;
        }
        this.refresh();
    };

    stop(): void {
        if (this.stopped) {
            return;
        }
        this.stopped = true;
        this.refresh();
        if (this.stream.isTTY === true) {
            // MultiBar.stop() discards whatever log() buffered since the last redraw; a redraw writes it out first.
            this.bars.update();
        }
        this.bars.stop();
    }

    private onLog(level: string, message: string): void {
        const report = parseReportLine(message);
        if (report?.type === 'window') {
            this.matched += report.matched;
        } else if (report?.type === 'page') {
            this.listed += report.counts.listed;
        } else if (report?.type === 'pause') {
            this.pausedUntil = report.reason === 'budget' ? report.resumes : null;
            this.print(
                report.reason === 'budget'
                    ? `paused by the weekly budget until ${report.resumes.toISOString()} (${report.weekSpent} of ${report.budget} requests this Clari week)`
                    : 'paused: Clari keeps refusing requests; the next run tries again'
            );
        } else if (report?.type === 'summary') {
            this.summaryLine = message;
            this.retries = report.counts.retries;
        } else {
            this.print(level === 'info' ? message : `${level}: ${message}`);
        }
    }

    private print(line: string): void {
        if (this.stream.isTTY === true) {
            // On a terminal the bar is redrawn in place: lines must go through it to land above the bar.
            this.bars.log(`${line}\n`);
        } else {
            // Without a terminal the bar is only a line every few seconds; writing at once keeps the order.
            this.stream.write(`${line}\n`);
        }
    }

    private refresh(): void {
        if (this.stopped) {
            // Events still arrive after a Ctrl-C stopped the bar; drawing it again would take the cursor back.
            return;
        }
        const total = Math.max(this.matched, this.listed, 1);
        this.bar.setTotal(total);
        this.bar.update(this.listed, this.payload());
    }

    private payload(): Record<string, string | number> {
        const now = Date.now();
        while (this.requestTimes.length > 0 && (this.requestTimes[0] ?? now) < now - RATE_WINDOW_MS) {
            this.requestTimes.shift();
        }
        return {
            matched: this.matched,
            listed: this.listed,
            fetched: this.fetched,
            saved: this.saved,
            rps: (this.requestTimes.length / (RATE_WINDOW_MS / 1000)).toFixed(1),
            retries: this.retries,
            throttled: this.throttled,
            remaining: this.eta(now)
        };
    }

    /** From the pace of finished pages; unknown until the first page is done. */
    private eta(now: number): string {
        if (this.pausedUntil) {
            return `paused by the weekly budget until ${this.pausedUntil.toISOString()}`;
        }
        if (this.listed === 0 || this.matched === 0) {
            return '…';
        }
        const seconds = Math.max(0, Math.round(((this.matched - this.listed) * (now - this.startedAt)) / this.listed / 1000));
        return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
    }
}
