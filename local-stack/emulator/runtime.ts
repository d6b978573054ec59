import { setMaxListeners } from 'node:events';
import { MutationQueue } from './mutation-queue.js';
import { FaultInjector, NO_LATENCY, TokenBucket, type FaultRule, type LatencyConfig, type LatencyRange } from './faults.js';
import { WeeklyQuota, type QuotaRetryAfter, type QuotaSettings } from './quota.js';
import { Rng } from './random.js';
import { CallStore } from './state.js';
import { Stats } from './stats.js';
import type { DatasetOptions } from './dataset.js';

/** Everything one emulator instance holds: data, counters and the current (runtime-adjustable) behaviour. */

export interface ClariEmulatorOptions extends DatasetOptions {
    /** Expected X-Api-Key / X-Api-Password values (defaults: emulator-key / emulator-password). */
    apiKey?: string;
    apiPassword?: string;
    /** Requests per second before 429 (default 10; 0 = unlimited). */
    rate?: number;
    /** Whether 429s carry Retry-After (default true). */
    retryAfter?: boolean;
    latency?: Partial<LatencyConfig>;
    faults?: FaultRule[];
    /**
     * Order calls whose sort keys are equal differently on every /calls request (default false: by id), as a
     * database without a tie-breaker may. The control API's ground truth keeps the stable order.
     */
    unstableTies?: boolean;
    /**
     * How far Clari's clock runs ahead of (positive) or behind (negative) the real one, in ms (default 0). Mutations
     * and added calls are stamped with it, and so is the dataset's default "now".
     */
    clockOffsetMs?: number;
    /**
     * Requests a Clari week (from Sunday 00:00 UTC on the emulator's clock) allows before every request is answered
     * 429 (default: no quota; requests are still counted per week). Clari's own is 100,000.
     */
    weeklyQuota?: number;
    quota?: {
        /** Whether requests the token bucket refuses count against the week (default true: Clari's is unconfirmed). */
        countRefused?: boolean;
        /** 'next-week': quota refusals carry a Retry-After to the next week's start (default 'none'). */
        retryAfter?: QuotaRetryAfter;
    };
    /** Fastify request logging (default false). */
    logger?: boolean;
}

export const DEFAULT_CREDENTIALS = { apiKey: 'emulator-key', apiPassword: 'emulator-password' } as const;
export const DEFAULT_RATE = 10;

export class EmulatorRuntime {
    readonly state: CallStore;
    readonly stats = new Stats();
    readonly limiter: TokenBucket;
    readonly faults: FaultInjector;
    readonly credentials: { apiKey: string; apiPassword: string };
    readonly mutations: MutationQueue;
    readonly quota: WeeklyQuota;
    latency: LatencyConfig;
    unstableTies: boolean;
    /** /calls requests answered with a listing since the start or the last reset. */
    private listRequests = 0;
    private readonly jitter: Rng;
    /** Aborted on close, so pending latency and stall timers never keep the process alive. */
    private readonly closing = new AbortController();

    constructor(private readonly options: ClariEmulatorOptions = {}) {
        this.state = new CallStore(options, options.clockOffsetMs ?? 0);
        this.mutations = new MutationQueue(this.state);
        this.unstableTies = options.unstableTies ?? false;
        this.credentials = {
            apiKey: options.apiKey ?? DEFAULT_CREDENTIALS.apiKey,
            apiPassword: options.apiPassword ?? DEFAULT_CREDENTIALS.apiPassword
        };
        this.limiter = new TokenBucket(this.initialRate());
        this.faults = new FaultInjector(options.faults ?? [], this.state.seed);
        // The week follows Clari's clock, offset included, so moving the clock moves the emulator into another week.
        this.quota = new WeeklyQuota(this.initialQuota(), () => this.state.clariNow());
        this.latency = this.initialLatency();
        this.jitter = new Rng(this.state.seed, 0x1a7);
        // Every pending latency or stall listens for close; hundreds may be pending at once.
        setMaxListeners(0, this.closing.signal);
    }

    private initialRate(): { rate: number; retryAfter: boolean } {
        return { rate: this.options.rate ?? DEFAULT_RATE, retryAfter: this.options.retryAfter ?? true };
    }

    private initialQuota(): Partial<QuotaSettings> {
        const { weeklyQuota, quota } = this.options;
        return {
            ...(weeklyQuota === undefined ? {} : { weeklyQuota }),
            ...(quota?.countRefused === undefined ? {} : { countRefused: quota.countRefused }),
            ...(quota?.retryAfter === undefined ? {} : { retryAfter: quota.retryAfter })
        };
    }

    private initialLatency(): LatencyConfig {
        return { list: this.options.latency?.list ?? NO_LATENCY, details: this.options.latency?.details ?? NO_LATENCY };
    }

    /**
     * Back to the state at start: dataset, counters, rate, latency, fault rules, queued mutations, ordering, clock,
     * and the weekly quota with every week's spend forgotten.
     */
    resetAll(): void {
        this.state.clockOffsetMs = this.options.clockOffsetMs ?? 0;
        this.state.reset();
        this.mutations.clear();
        this.unstableTies = this.options.unstableTies ?? false;
        this.listRequests = 0;
        this.stats.reset();
        this.limiter.configure(this.initialRate());
        this.faults.setRules(this.options.faults ?? []);
        this.latency = this.initialLatency();
        this.quota.reset(this.initialQuota());
    }

    /**
     * Called as a /calls request starts its answer: applies the queued mutations that fall due, and gives the salt
     * that orders ties for this request when ties are unstable.
     */
    beforeListing(): { tieSalt: number | undefined } {
        this.listRequests += 1;
        this.mutations.beforeListRequest();
        return { tieSalt: this.unstableTies ? this.listRequests : undefined };
    }

    async delay(endpoint: 'list' | 'details'): Promise<void> {
        const range: LatencyRange = this.latency[endpoint];
        const ms = range.minMs + Math.round(this.jitter.next() * (range.maxMs - range.minMs));
        await this.sleep(ms);
    }

    sleep(ms: number): Promise<void> {
        const signal = this.closing.signal;
        if (ms <= 0 || signal.aborted) {
            return Promise.resolve();
        }
        return new Promise((resolve) => {
            const done = (): void => {
                clearTimeout(timer);
                signal.removeEventListener('abort', done);
                resolve();
            };
            const timer = setTimeout(done, ms);
            signal.addEventListener('abort', done, { once: true });
        });
    }

    /** Resolves when the emulator closes (used by never-ending stalls). */
    untilClosed(): Promise<void> {
        return new Promise((resolve) => {
            if (this.closing.signal.aborted) {
                resolve();
            }
            this.closing.signal.addEventListener('abort', () => {
                resolve();
            });
        });
    }

    close(): void {
        this.closing.abort();
    }
}
