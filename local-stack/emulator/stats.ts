/** Request counters exposed at /_control/stats, so tests and the bench can see how a sync used the API. */

export type EndpointName = 'calls' | 'call-details' | 'other';

export interface StatsSnapshot {
    since: string;
    total: number;
    byEndpoint: Record<EndpointName, number>;
    byStatus: Record<string, number>;
    unauthorized: number;
    /** 429s sent by the token bucket (not injected faults). */
    rateLimited: number;
    /** 429s sent because the Clari week's quota was spent (neither in rateLimited nor in faultsInjected). */
    quotaRefused: number;
    faultsInjected: { total: number; byKind: Record<string, number> };
    /** Most requests that arrived within any one-second window. */
    maxObservedRps: number;
}

export class Stats {
    private snapshotData!: StatsSnapshot;
    private recentArrivals: number[] = [];

    constructor(private readonly clock: () => number = () => performance.now()) {
        this.reset();
    }

    reset(): void {
        this.snapshotData = {
            since: new Date().toISOString(),
            total: 0,
            byEndpoint: { calls: 0, 'call-details': 0, other: 0 },
            byStatus: {},
            unauthorized: 0,
            rateLimited: 0,
            quotaRefused: 0,
            faultsInjected: { total: 0, byKind: {} },
            maxObservedRps: 0
        };
        this.recentArrivals = [];
    }

    snapshot(): StatsSnapshot {
        return structuredClone(this.snapshotData);
    }

    arrival(endpoint: EndpointName): void {
        this.snapshotData.total += 1;
        this.snapshotData.byEndpoint[endpoint] += 1;
        const now = this.clock();
        this.recentArrivals.push(now);
        while ((this.recentArrivals[0] ?? now) <= now - 1000) {
            this.recentArrivals.shift();
        }
        this.snapshotData.maxObservedRps = Math.max(this.snapshotData.maxObservedRps, this.recentArrivals.length);
    }

    response(statusCode: number): void {
        const key = String(statusCode);
        this.snapshotData.byStatus[key] = (this.snapshotData.byStatus[key] ?? 0) + 1;
    }

    unauthorized(): void {
        this.snapshotData.unauthorized += 1;
    }

    rateLimited(): void {
        this.snapshotData.rateLimited += 1;
    }

    quotaRefused(): void {
        this.snapshotData.quotaRefused += 1;
    }

    fault(kind: string): void {
        const injected = this.snapshotData.faultsInjected;
        injected.total += 1;
        injected.byKind[kind] = (injected.byKind[kind] ?? 0) + 1;
    }
}
