import { z } from 'zod';
import { Rng } from './random.js';

/** Throttling, latency and fault injection: the failure modes a Clari sync has to survive. */

export interface RateLimitConfig {
    /** Requests per second; the bucket holds one second of burst. 0 disables limiting. */
    rate: number;
    /** Whether 429 responses carry a Retry-After header (Clari's behaviour is undocumented). */
    retryAfter: boolean;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSec: number };

export class TokenBucket {
    private tokens: number;
    private updatedAt: number;

    constructor(
        private config: RateLimitConfig,
        private readonly clock: () => number = () => performance.now()
    ) {
        this.tokens = config.rate;
        this.updatedAt = clock();
    }

    get settings(): RateLimitConfig {
        return { ...this.config };
    }

    configure(config: RateLimitConfig): void {
        this.config = config;
        this.tokens = config.rate;
        this.updatedAt = this.clock();
    }

    take(): RateDecision {
        const { rate } = this.config;
        if (rate <= 0) {
            return { allowed: true };
        }
        const now = this.clock();
        this.tokens = Math.min(rate, this.tokens + ((now - this.updatedAt) / 1000) * rate);
        this.updatedAt = now;
        if (this.tokens >= 1) {
            this.tokens -= 1;
            return { allowed: true };
        }
        return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((1 - this.tokens) / rate)) };
    }
}

export interface LatencyRange {
    minMs: number;
    maxMs: number;
}

export interface LatencyConfig {
    list: LatencyRange;
    details: LatencyRange;
}

export const NO_LATENCY: LatencyRange = { minMs: 0, maxMs: 0 };

/** "20" or "150-400" (milliseconds). */
export function parseLatency(text: string): LatencyRange | undefined {
    const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
    if (!match) {
        return undefined;
    }
    const minMs = Number(match[1]);
    const maxMs = match[2] === undefined ? minMs : Number(match[2]);
    return maxMs >= minMs ? { minMs, maxMs } : undefined;
}

export const FAULT_KINDS = [
    '429',
    '429-no-retry-after',
    '400',
    '500',
    '502',
    '503',
    'stall',
    '502-large-pages',
    'empty-listing',
    'truncated-page'
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type Endpoint = 'calls' | 'call-details';

/** Faults that answer /calls with 200 and a wrong body rather than an error status. */
export const LISTING_FAULTS = ['empty-listing', 'truncated-page'] as const;
export type ListingFault = (typeof LISTING_FAULTS)[number];

function isListingFault(kind: FaultKind): kind is ListingFault {
    return (LISTING_FAULTS as readonly string[]).includes(kind);
}

export const faultRuleSchema = z
    .object({
        kind: z.enum(FAULT_KINDS),
        endpoint: z.enum(['calls', 'call-details', 'any']).optional(),
        /** Chance that a matching request fails (seeded). Without probability or count, every matching request fails. */
        probability: z.number().min(0).max(1).optional(),
        /** Fail exactly the next N matching requests, then stop. */
        count: z.number().int().min(0).optional(),
        /** stall only: hold the request this long, then answer normally; "forever" never answers. Default 30000. */
        stallMs: z.union([z.number().int().min(0), z.literal('forever')]).optional(),
        /** 502-large-pages only: /calls requests with limit above this fail. Default 50. */
        threshold: z.number().int().min(1).optional(),
        /** Only /call-details requests for these ids match, so one call can fail forever while the rest load. */
        callIds: z.array(z.string().min(1)).min(1).optional()
    })
    .strict()
    .check((payload) => {
        // A rule that can never match is a test bug; say so rather than silently never firing.
        const rule = payload.value;
        const listing = isListingFault(rule.kind);
        const issue = (path: string, message: string): void => {
            payload.issues.push({ code: 'custom', input: rule, path: [path], message });
        };
        if (rule.callIds !== undefined && (listing || rule.kind === '502-large-pages' || rule.endpoint === 'calls')) {
            issue('callIds', 'callIds applies to /call-details only');
        }
        if (listing && rule.endpoint === 'call-details') {
            issue('endpoint', `${rule.kind} applies to /calls only`);
        }
    });
export type FaultRule = z.infer<typeof faultRuleSchema>;

export interface FaultRuleState extends FaultRule {
    /** Count-based rules: how many failures are left. */
    remaining?: number;
    fired: number;
}

export type StatusFault = Exclude<FaultKind, 'stall' | ListingFault>;

export type FaultDecision =
    | { kind: 'none' }
    | { kind: 'status'; fault: StatusFault; status: 400 | 429 | 500 | 502 | 503; retryAfter: boolean }
    | { kind: 'stall'; ms: number | 'forever' }
    | { kind: 'listing'; fault: ListingFault };

/** What a fault rule can match on besides the endpoint. */
export interface FaultTarget {
    /** The /calls request's limit, if it gave one. */
    pageLimit?: number | undefined;
    /** The /call-details request's id. */
    callId?: string | undefined;
}

const DEFAULT_STALL_MS = 30_000;
const DEFAULT_LARGE_PAGE_THRESHOLD = 50;

/** First matching rule wins; rules are evaluated after authentication and rate limiting. */
export class FaultInjector {
    private states: FaultRuleState[] = [];
    private readonly rng: Rng;

    constructor(rules: readonly FaultRule[], seed: number) {
        this.rng = new Rng(seed, 0xfa017);
        this.setRules(rules);
    }

    setRules(rules: readonly FaultRule[]): void {
        this.states = rules.map((rule) => ({ ...rule, ...(rule.count === undefined ? {} : { remaining: rule.count }), fired: 0 }));
    }

    get rules(): FaultRuleState[] {
        return this.states.map((state) => ({ ...state }));
    }

    decide(endpoint: Endpoint, target: FaultTarget = {}): FaultDecision {
        for (const rule of this.states) {
            if (!this.applies(rule, endpoint, target) || !this.triggers(rule)) {
                continue;
            }
            rule.fired += 1;
            const kind = rule.kind;
            if (kind === 'stall') {
                return { kind: 'stall', ms: rule.stallMs ?? DEFAULT_STALL_MS };
            }
            if (isListingFault(kind)) {
                return { kind: 'listing', fault: kind };
            }
            const status = kind === '502-large-pages' ? 502 : (Number(kind.slice(0, 3)) as 400 | 429 | 500 | 502 | 503);
            return { kind: 'status', fault: kind, status, retryAfter: kind === '429' };
        }
        return { kind: 'none' };
    }

    private applies(rule: FaultRuleState, endpoint: Endpoint, target: FaultTarget): boolean {
        if (rule.kind === '502-large-pages') {
            return endpoint === 'calls' && (target.pageLimit ?? 25) > (rule.threshold ?? DEFAULT_LARGE_PAGE_THRESHOLD);
        }
        if (isListingFault(rule.kind)) {
            return endpoint === 'calls';
        }
        if (rule.callIds !== undefined) {
            return endpoint === 'call-details' && target.callId !== undefined && rule.callIds.includes(target.callId);
        }
        return rule.endpoint === undefined || rule.endpoint === 'any' || rule.endpoint === endpoint;
    }

    private triggers(rule: FaultRuleState): boolean {
        if (rule.remaining !== undefined) {
            if (rule.remaining <= 0) {
                return false;
            }
            rule.remaining -= 1;
            return true;
        }
        return rule.probability === undefined || this.rng.chance(rule.probability);
    }
}

/**
 * CLI syntax: KIND[:PROBABILITY|:Nx][:STALL_MS|:forever][@ENDPOINT], e.g. `429:0.05`, `500:3x@calls`,
 * `stall:0.01:5000`, `502-large-pages` or `502-large-pages:25` (threshold).
 */
export function parseFaultSpec(text: string): FaultRule | undefined {
    const [spec = '', endpoint] = text.split('@');
    const [kind = '', value, extra] = spec.split(':');
    const parsedKind = z.enum(FAULT_KINDS).safeParse(kind);
    if (!parsedKind.success || (endpoint !== undefined && endpoint !== 'calls' && endpoint !== 'call-details' && endpoint !== 'any')) {
        return undefined;
    }
    const rule: FaultRule = { kind: parsedKind.data, ...(endpoint === undefined ? {} : { endpoint }) };
    if (value !== undefined) {
        if (rule.kind === '502-large-pages') {
            rule.threshold = Number(value);
        } else if (/^\d+x$/.test(value)) {
            rule.count = Number(value.slice(0, -1));
        } else {
            rule.probability = Number(value);
        }
    }
    if (extra !== undefined) {
        if (rule.kind !== 'stall') {
            return undefined;
        }
        rule.stallMs = extra === 'forever' ? 'forever' : Number(extra);
    }
    return faultRuleSchema.safeParse(rule).success ? rule : undefined;
}
