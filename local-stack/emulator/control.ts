import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { faultRuleSchema } from './faults.js';
import { BadRequestError } from './query.js';
import type { EmulatorRuntime } from './runtime.js';

/** Test-only control API under /_control: ground truth, mutations, counters and runtime behaviour. No Clari auth. */

const idsOrCount = z.union([z.number().int().min(0), z.array(z.string().min(1))]);
const mutationSchema = z
    .object({
        add: z.number().int().min(0).max(10_000).optional(),
        modify: idsOrCount.optional(),
        lateProcess: idsOrCount.optional(),
        delete: idsOrCount.optional(),
        makePrivate: idsOrCount.optional(),
        corrupt: idsOrCount.optional(),
        corruptKind: z.enum(['users-string', 'time-not-a-date']).optional(),
        reschedule: idsOrCount.optional(),
        rescheduleBy: z.number().int().optional(),
        rescheduleTo: z.literal('future').optional(),
        rescheduleTouches: z.boolean().optional(),
        silentChange: idsOrCount.optional(),
        /** Queue the mutation: it applies just before the n-th /calls request from now is answered. */
        afterListRequests: z.number().int().min(1).optional()
    })
    .strict();
const mutationsQuerySchema = z.object({ status: z.enum(['pending', 'applied', 'failed']).optional() });

const faultsSchema = z.object({ rules: z.array(faultRuleSchema) }).strict();
const rateSchema = z.object({ rate: z.number().min(0).optional(), retryAfter: z.boolean().optional() }).strict();
const rangeSchema = z
    .object({ minMs: z.number().int().min(0), maxMs: z.number().int().min(0) })
    .strict()
    .refine((range) => range.maxMs >= range.minMs, 'maxMs must be >= minMs');
const latencySchema = z.object({ list: rangeSchema.optional(), details: rangeSchema.optional() }).strict();
const orderingSchema = z.object({ unstableTies: z.boolean() }).strict();
const clockSchema = z.object({ offsetMs: z.number().int() }).strict();
const quotaSchema = z
    .object({
        weeklyQuota: z.number().int().min(0).nullable().optional(),
        countRefused: z.boolean().optional(),
        retryAfter: z.enum(['none', 'next-week']).optional()
    })
    .strict();
const spendSchema = z.object({ requests: z.number().int().min(0) }).strict();

const truthQuerySchema = z.object({
    includePrivate: z.enum(['true', 'false']).default('false'),
    details: z.enum(['true', 'false']).default('true'),
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(5000).default(500)
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
    const result = schema.safeParse(value ?? {});
    if (!result.success) {
        throw new BadRequestError(z.prettifyError(result.error));
    }
    return result.data;
}

export function registerControlRoutes(app: FastifyInstance, runtime: EmulatorRuntime): void {
    const { state, stats, limiter, faults, mutations, quota } = runtime;
    const ordering = (): { unstableTies: boolean } => ({ unstableTies: runtime.unstableTies });
    const clock = (): { offsetMs: number; now: string } => ({
        offsetMs: state.clockOffsetMs,
        now: new Date(state.clariNow()).toISOString()
    });

    app.get('/_control/stats', () => stats.snapshot());
    app.post('/_control/stats/reset', () => {
        stats.reset();
        return stats.snapshot();
    });

    app.get('/_control/config', () => ({
        dataset: state.describe(),
        rate: limiter.settings,
        latency: runtime.latency,
        faults: faults.rules,
        ordering: ordering(),
        clock: clock(),
        quota: quota.settings
    }));

    /** Ground truth: live calls in the default order (time desc, then id), each with a `private` flag. Paged. */
    app.get('/_control/calls', (request) => {
        const query = parse(truthQuerySchema, request.query);
        const all = state.sorted().filter((record) => query.includePrivate === 'true' || !record.isPrivate);
        const page = all.slice(query.offset, query.offset + query.limit);
        const next = query.offset + page.length;
        return {
            total: all.length,
            offset: query.offset,
            ...(next < all.length ? { nextOffset: next } : {}),
            calls: page.map((record) => ({
                ...(query.details === 'true' ? state.detailsPayload(record) : state.listPayload(record)),
                private: record.isPrivate
            }))
        };
    });

    app.get<{ Params: { id: string } }>('/_control/calls/:id', (request, reply) => {
        const record = state.find(request.params.id);
        if (!record) {
            return reply.code(404).send({ errorMessage: 'Unknown call id' });
        }
        return { call: state.detailsPayload(record), private: record.isPrivate, deleted: record.deleted };
    });

    app.post('/_control/mutate', (request) => {
        const { afterListRequests, ...mutation } = parse(mutationSchema, request.body);
        if (afterListRequests !== undefined) {
            return { queued: true, mutation: mutations.schedule(mutation, afterListRequests) };
        }
        return state.mutate(mutation);
    });

    /** Queued mutations in queue order, applied and failed ones included with their result. */
    app.get('/_control/mutations', (request) => {
        const { status } = parse(mutationsQuerySchema, request.query);
        return { mutations: mutations.list().filter((entry) => status === undefined || entry.status === status) };
    });
    app.get<{ Params: { id: string } }>('/_control/mutations/:id', (request, reply) => {
        const mutation = mutations.find(request.params.id);
        return mutation ? { mutation } : reply.code(404).send({ errorMessage: 'Unknown queued mutation id' });
    });

    app.get('/_control/faults', () => ({ rules: faults.rules }));
    app.put('/_control/faults', (request) => {
        faults.setRules(parse(faultsSchema, request.body).rules);
        return { rules: faults.rules };
    });

    app.get('/_control/rate', () => limiter.settings);
    app.put('/_control/rate', (request) => {
        const body = parse(rateSchema, request.body);
        limiter.configure({ rate: body.rate ?? limiter.settings.rate, retryAfter: body.retryAfter ?? limiter.settings.retryAfter });
        return limiter.settings;
    });

    app.get('/_control/latency', () => runtime.latency);
    app.put('/_control/latency', (request) => {
        const body = parse(latencySchema, request.body);
        runtime.latency = { list: body.list ?? runtime.latency.list, details: body.details ?? runtime.latency.details };
        return runtime.latency;
    });

    app.get('/_control/ordering', ordering);
    app.put('/_control/ordering', (request) => {
        runtime.unstableTies = parse(orderingSchema, request.body).unstableTies;
        return ordering();
    });

    app.get('/_control/clock', clock);
    app.put('/_control/clock', (request) => {
        state.clockOffsetMs = parse(clockSchema, request.body).offsetMs;
        return clock();
    });

    app.get('/_control/quota', () => quota.status());
    app.put('/_control/quota', (request) => {
        const body = parse(quotaSchema, request.body);
        // Only the fields given change, and the weeks' spend stays: a test can tighten the quota mid-week.
        quota.configure({
            ...(body.weeklyQuota === undefined ? {} : { weeklyQuota: body.weeklyQuota }),
            ...(body.countRefused === undefined ? {} : { countRefused: body.countRefused }),
            ...(body.retryAfter === undefined ? {} : { retryAfter: body.retryAfter })
        });
        return quota.status();
    });
    /** The workspace's other tools spend part of the current week, as Clari would count them. */
    app.post('/_control/quota/spend', (request) => {
        const spent = quota.spend(parse(spendSchema, request.body).requests);
        return { spent, quota: quota.status() };
    });

    /** Back to the start: regenerated dataset, zeroed counters, initial rate/latency/fault settings. */
    app.post('/_control/reset', () => {
        runtime.resetAll();
        return { ok: true, dataset: state.describe() };
    });
}
