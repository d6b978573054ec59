import { z } from 'zod';

import {
    DEFAULT_CREDENTIALS,
    startClariEmulator,
    type FaultRule,
    type FaultRuleState,
    type MutationRequest,
    type MutationResult,
    type QuotaSettings,
    type QuotaStatus,
    type RunningClariEmulator,
    type ScheduledMutation,
    type ScheduledMutationStatus,
    type StartOptions,
    type StatsSnapshot
} from '../emulator/index.js';
import type { ClariCredentials } from '../nango-server/index.js';

/** The e2e suite's side of the Clari emulator: starting one, its control API over HTTP, and its ground truth. */

export const CREDENTIALS: ClariCredentials = { apiKey: DEFAULT_CREDENTIALS.apiKey, apiPassword: DEFAULT_CREDENTIALS.apiPassword };
/** Statuses the emulator's `lateProcess` turns into POST_PROCESSING_DONE (the call was recorded, not yet processed). */
export const AWAITING_PROCESSING: readonly string[] = ['PROCESSING', 'WAITING_IN_QUEUE', 'ERROR_IN_PROCESSING', 'ERROR_IN_TRANSCRIBE'];

/** An emulator on a free port, unthrottled and without latency unless asked; its "now" is the real clock. */
export function startEmulator(options: StartOptions = {}): Promise<RunningClariEmulator> {
    return startClariEmulator({ port: 0, rate: 0, now: new Date(), ...options });
}

const truthPageSchema = z.object({
    total: z.number(),
    nextOffset: z.number().optional(),
    calls: z.array(z.looseObject({ id: z.string(), private: z.boolean() }))
});

/** Clari's clock as the emulator runs it: the offset from the real clock, and what Clari's "now" is. */
export interface ClariClock {
    offsetMs: number;
    now: string;
}

export interface TruthCall {
    id: string;
    /** The payload as Clari would send it (details, or list payload), without media URLs. */
    payload: Record<string, unknown>;
    private: boolean;
}

/** The emulator's control API (documented in local-stack/emulator/README.md), over HTTP. */
export class EmulatorControl {
    constructor(readonly baseUrl: string) {}

    private async call(method: 'GET' | 'POST' | 'PUT', route: string, body?: unknown): Promise<unknown> {
        const response = await fetch(`${this.baseUrl}${route}`, {
            method,
            ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        });
        const text = await response.text();
        if (!response.ok) {
            throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
        }
        return JSON.parse(text) as unknown;
    }

    async stats(): Promise<StatsSnapshot> {
        return (await this.call('GET', '/_control/stats')) as StatsSnapshot;
    }

    async resetStats(): Promise<void> {
        await this.call('POST', '/_control/stats/reset');
    }

    async mutate(request: MutationRequest): Promise<MutationResult> {
        return (await this.call('POST', '/_control/mutate', request)) as MutationResult;
    }

    /**
     * Queues a mutation that applies just before the `afterListRequests`-th /calls request from now is answered
     * (1 = the next one), e.g. to reschedule or delete a call in the middle of a sync's listing.
     */
    async queueMutation(request: MutationRequest, afterListRequests: number): Promise<ScheduledMutation> {
        const body = (await this.call('POST', '/_control/mutate', { ...request, afterListRequests })) as { mutation: ScheduledMutation };
        return body.mutation;
    }

    /** Queued mutations in queue order, with their status and, once applied, the ids they touched. */
    async mutations(status?: ScheduledMutationStatus): Promise<ScheduledMutation[]> {
        const query = status === undefined ? '' : `?status=${status}`;
        return ((await this.call('GET', `/_control/mutations${query}`)) as { mutations: ScheduledMutation[] }).mutations;
    }

    async mutation(id: string): Promise<ScheduledMutation> {
        return ((await this.call('GET', `/_control/mutations/${encodeURIComponent(id)}`)) as { mutation: ScheduledMutation }).mutation;
    }

    async setFaults(rules: FaultRule[]): Promise<void> {
        await this.call('PUT', '/_control/faults', { rules });
    }

    /** The current rules, with how often each fired and, for counted rules, how many failures are left. */
    async faults(): Promise<FaultRuleState[]> {
        return ((await this.call('GET', '/_control/faults')) as { rules: FaultRuleState[] }).rules;
    }

    /** Whether calls with equal sort keys come in a different order on every /calls request. */
    async setUnstableTies(unstableTies: boolean): Promise<void> {
        await this.call('PUT', '/_control/ordering', { unstableTies });
    }

    async unstableTies(): Promise<boolean> {
        return ((await this.call('GET', '/_control/ordering')) as { unstableTies: boolean }).unstableTies;
    }

    /** Clari's clock runs `offsetMs` ahead of (positive) or behind (negative) the real one from now on. */
    async setClockOffset(offsetMs: number): Promise<ClariClock> {
        return (await this.call('PUT', '/_control/clock', { offsetMs })) as ClariClock;
    }

    async clock(): Promise<ClariClock> {
        return (await this.call('GET', '/_control/clock')) as ClariClock;
    }

    /** Response latency per endpoint, in ms; an endpoint left out keeps its range. */
    async setLatency(latency: { list?: { minMs: number; maxMs: number }; details?: { minMs: number; maxMs: number } }): Promise<void> {
        await this.call('PUT', '/_control/latency', latency);
    }

    async setRate(rate: number, retryAfter: boolean): Promise<void> {
        await this.call('PUT', '/_control/rate', { rate, retryAfter });
    }

    /** The current Clari week (on the emulator's clock) and its spend, the quota settings, and every week seen so far. */
    async quota(): Promise<QuotaStatus> {
        return (await this.call('GET', '/_control/quota')) as QuotaStatus;
    }

    /** Sets the weekly quota (null turns it off); the week's spend so far stays. */
    async setWeeklyQuota(weeklyQuota: number | null, settings: Partial<Omit<QuotaSettings, 'weeklyQuota'>> = {}): Promise<QuotaStatus> {
        return (await this.call('PUT', '/_control/quota', { ...settings, weeklyQuota })) as QuotaStatus;
    }

    /**
     * Spends `requests` of the current week as the workspace's other tools would; no more than what is left is
     * spent (`spent` says how many were).
     */
    async spendQuota(requests: number): Promise<{ spent: number; quota: QuotaStatus }> {
        return (await this.call('POST', '/_control/quota/spend', { requests })) as { spent: number; quota: QuotaStatus };
    }

    /** Every live call (time desc, then id), private ones included and flagged. */
    async truth(options: { details: boolean } = { details: true }): Promise<TruthCall[]> {
        const calls: TruthCall[] = [];
        let offset: number | undefined = 0;
        while (offset !== undefined) {
            const page = truthPageSchema.parse(
                await this.call('GET', `/_control/calls?includePrivate=true&details=${String(options.details)}&offset=${offset}&limit=1000`)
            );
            for (const { private: isPrivate, ...payload } of page.calls) {
                calls.push({ id: payload.id, payload, private: isPrivate });
            }
            offset = page.nextOffset;
        }
        return calls;
    }

    /** One call's details payload, whatever its state. */
    async truthCall(id: string): Promise<TruthCall> {
        const body = z
            .object({ call: z.looseObject({ id: z.string() }), private: z.boolean() })
            .parse(await this.call('GET', `/_control/calls/${encodeURIComponent(id)}`));
        return { id: body.call.id, payload: body.call, private: body.private };
    }
}

export function callTimeMs(call: TruthCall): number {
    const time = call.payload['time'];
    return typeof time === 'string' ? Date.parse(time) : Number.NaN;
}

/** `count` calls of `truth` that satisfy `predicate` and are not `taken` yet (lowest ids first, for determinism). */
export function pick(truth: readonly TruthCall[], count: number, predicate: (call: TruthCall) => boolean, taken: Set<string>): string[] {
    const chosen = truth
        .filter((call) => !taken.has(call.id) && predicate(call))
        .map((call) => call.id)
        .sort()
        .slice(0, count);
    if (chosen.length < count) {
        throw new Error(`only ${chosen.length} of ${count} suitable calls in the dataset`);
    }
    chosen.forEach((id) => taken.add(id));
    return chosen;
}

export function statusOf(call: TruthCall): string {
    const status = call.payload['status'];
    return typeof status === 'string' ? status : '';
}
