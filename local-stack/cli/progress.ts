import cliProgress from 'cli-progress';
import { parseReportLine, type RunSummary } from '../../nango-integrations/clari-copilot/run-report.js';
import type { RunnerEvent } from '../runner/run-sync.js';

const RATE_WINDOW_MS = 5_000;
/** The ETA's pace is sampled at most this often and smoothed, so that one slow page does not swing it by a minute. */
const PACE_SAMPLE_MS = 1_000;
const PACE_SMOOTHING = 0.2;

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
    private readonly now: () => number;
    private matched = 0;
    private listed = 0;
    private fetched = 0;
    /** Details fetched since the last finished page: done work the page line has not counted yet. */
    private fetchedInPage = 0;
    /** Windows the start line announced, and how many have said their size: until all have, the total is partial. */
    private windowsAnnounced = 0;
    private windowsSized = 0;
    private paceSample: { at: number; done: number } | null = null;
    /** Calls done per millisecond, smoothed; null until a second sample. */
    private pace: number | null = null;
    private saved = 0;
    private retries = 0;
    private throttled = 0;
    /** Set once the sync paused for the weekly budget: the bar then says so instead of an ETA that never comes. */
    private pausedUntil: Date | null = null;
    private stopped = false;
    /** The run's summary line, parsed; null until the sync wrote it. */
    summary: RunSummary | null = null;
    errorLine: string | null = null;

    constructor(stream: OutputStream = process.stdout, now: () => number = Date.now) {
        this.stream = stream;
        this.now = now;
        this.bars = new cliProgress.MultiBar(
            {
                stream,
                format: ' calls {bar} {percentage}% | done {done}/{total} | listed {listed} | fetched {fetched} | saved {saved} | {rps} req/s | retries {retries} | 429s {throttled} | ETA {remaining}',
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
                this.requestTimes.push(this.now());
                if (event.endpoint.startsWith('/call-details') && event.status === 200) {
                    this.fetched++;
                    this.fetchedInPage++;
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
        if (report?.type === 'start') {
            this.windowsAnnounced = report.windows.length;
            this.print(message);
        } else if (report?.type === 'window') {
            this.matched += report.matched;
            this.windowsSized++;
        } else if (report?.type === 'page') {
            this.listed += report.counts.listed;
            this.fetchedInPage = 0;
        } else if (report?.type === 'pause') {
            this.pausedUntil = report.reason === 'budget' ? report.resumes : null;
            this.print(
                report.reason === 'budget'
                    ? `paused by the weekly budget until ${report.resumes.toISOString()} (${report.weekSpent} of ${report.budget} requests this Clari week)`
                    : 'paused: Clari keeps refusing requests; the next run tries again'
            );
        } else if (report?.type === 'summary') {
            this.summary = report;
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
        const { done, total } = this.figures();
        this.bar.setTotal(Math.max(total, 1));
        this.bar.update(done, this.payload());
    }

    /**
     * What the bar shows: calls done (listed in finished pages, plus details fetched for the page under way, so the
     * bar moves while a page of details is fetched), out of the calls the sized windows hold, and the ETA.
     */
    figures(): { done: number; total: number; eta: string } {
        const total = Math.max(this.matched, this.listed);
        const done = Math.min(this.listed + this.fetchedInPage, total);
        return { done, total, eta: this.eta(this.now(), done, total) };
    }

    private payload(): Record<string, string | number> {
        const now = this.now();
        const { done, total, eta } = this.figures();
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
            remaining: eta,
            done,
            total
        };
    }

    /**
     * From the smoothed pace of work done in this execution (a resumed run's earlier executions are not in it), and
     * unknown while a window has yet to say how many calls it holds: a total still missing a window would promise
     * an end long before the real one.
     */
    private eta(now: number, done: number, total: number): string {
        if (this.pausedUntil) {
            return `paused by the weekly budget until ${this.pausedUntil.toISOString()}`;
        }
        this.samplePace(now, done);
        if (this.pace === null || this.pace <= 0 || total === 0 || this.windowsSized < this.windowsAnnounced) {
            return '…';
        }
        const seconds = Math.max(0, Math.round((total - done) / this.pace / 1000));
        if (seconds < 60) {
            return `${seconds}s`;
        }
        // Whole ten seconds past a minute: finer steps are noise that makes the figure flicker.
        const rounded = Math.round(seconds / 10) * 10;
        return `${Math.floor(rounded / 60)}m${String(rounded % 60).padStart(2, '0')}s`;
    }

    private samplePace(now: number, done: number): void {
        if (this.paceSample === null) {
            if (done > 0) {
                // Pace counts from the first work done, not from the start: sizing the windows is not progress.
                this.paceSample = { at: now, done };
            }
            return;
        }
        const elapsed = now - this.paceSample.at;
        if (elapsed < PACE_SAMPLE_MS) {
            return;
        }
        const sample = (done - this.paceSample.done) / elapsed;
        this.pace = this.pace === null ? sample : this.pace + PACE_SMOOTHING * (sample - this.pace);
        this.paceSample = { at: now, done };
    }
}
