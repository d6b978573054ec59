import { z } from 'zod';

/**
 * What the bench parent hands to `sync-child.ts` and `nango-child.ts` (one JSON argument each) and what they
 * print back (one JSON line each; the server also prints its URL once it listens).
 */

export const RESULT_PREFIX = 'BENCH_RESULT ';

export const childConfigSchema = z
    .object({
        strategy: z.enum(['ours', 'naive']),
        /** The local Nango (`nango-child.ts`) that owns this run's store and proxies Clari with the connection's credentials. */
        nangoUrl: z.url(),
        secretKey: z.string().min(1),
        /** Clari (the emulator) as the server's proxy reaches it; the child never talks to it directly. */
        clariBaseUrl: z.url(),
        connectionId: z.string().min(1),
        metadata: z.record(z.string(), z.unknown())
    })
    .strict();
export type ChildConfig = z.infer<typeof childConfigSchema>;

export const childResultSchema = z
    .object({
        strategy: z.enum(['ours', 'naive']),
        ok: z.boolean(),
        error: z.string().nullable(),
        /** Wall time of runSync alone (store open and process start excluded). */
        wallMs: z.number(),
        /** HTTP attempts the runner sent to Clari, by endpoint. */
        listRequests: z.number(),
        detailRequests: z.number(),
        otherRequests: z.number(),
        status429: z.number(),
        /** Retries the runner knows of: the sync's own (from its summary line); the server's proxy retries are counted there. */
        retries: z.number(),
        saved: z.number(),
        added: z.number(),
        updated: z.number(),
        unchanged: z.number(),
        deleted: z.number(),
        /** The sync's final summary line (ours) or the naive sync's own summary. */
        summary: z.string().nullable(),
        /** process.resourceUsage().maxRSS of the child, in bytes: the runner alone, the store lives in the server process. */
        peakRssBytes: z.number(),
        /** CPU time (user + system) the child spent during the run, in ms: above ~50% of wallMs the machine, not Clari, sets the pace. */
        cpuMs: z.number(),
        /** Event-loop delay during the run (perf_hooks): long synchronous stretches (store writes, JSON) delay every request behind them. */
        eventLoopDelayP99Ms: z.number(),
        eventLoopDelayMaxMs: z.number(),
        /** Highest V8 heapUsed sampled every 100 ms during the run, in bytes. */
        peakHeapBytes: z.number(),
        /** Naive only: it stopped listing at Clari's skip cap (400 at skip > 10,000). */
        skipCapHit: z.boolean()
    })
    .strict();
export type ChildResult = z.infer<typeof childResultSchema>;

export const NANGO_URL_PREFIX = 'NANGO_URL ';
export const NANGO_RESULT_PREFIX = 'NANGO_RESULT ';

export const nangoChildConfigSchema = z
    .object({
        storeDir: z.string().min(1),
        secretKey: z.string().min(1),
        clariBaseUrl: z.url(),
        /** Whose records the once-a-second `GET /records` probe asks for while a run is in progress. */
        probe: z.object({ connectionId: z.string().min(1), providerConfigKey: z.string().min(1), model: z.string().min(1) }).strict()
    })
    .strict();
export type NangoChildConfig = z.infer<typeof nangoChildConfigSchema>;

export const recordsProbeSchema = z
    .object({ count: z.number(), failures: z.number(), p50Ms: z.number(), p99Ms: z.number(), maxMs: z.number() })
    .strict();
export type RecordsProbe = z.infer<typeof recordsProbeSchema>;

export const PROBE_READY = 'PROBE_READY';
export const PROBE_RESULT_PREFIX = 'PROBE_RESULT ';
export const recordsProbeConfigSchema = z
    .object({
        url: z.url(),
        secretKey: z.string().min(1),
        probe: nangoChildConfigSchema.shape.probe
    })
    .strict();
export type RecordsProbeConfig = z.infer<typeof recordsProbeConfigSchema>;

/** What the local Nango process measured, printed when the parent closes its stdin. */
export const serverResultSchema = z
    .object({
        /** From the run's POST /persist/runs to the answer to its finish (the whole life of the server if no run finished). */
        windowMs: z.number(),
        /** CPU time (user + system) the server spent in that window, in ms. */
        cpuMs: z.number(),
        /** process.resourceUsage().maxRSS over the server's life (store open included, initdb excluded), in bytes. */
        peakRssBytes: z.number(),
        /** Event-loop delay in the window: a stall here delays store writes and every Clari request the server proxies. */
        eventLoopDelayP99Ms: z.number(),
        eventLoopDelayMaxMs: z.number(),
        /** Upstream attempts the server's proxy made to Clari, the retries among them (Nango's proxy retries), and 429s. */
        proxyAttempts: z.number(),
        proxyRetries: z.number(),
        proxy429s: z.number(),
        /**
         * One `GET /records?limit=100` a second while the run is in progress, timed from request to the last byte,
         * as an app polling the records API would see it. Absent from results recorded before it was measured.
         */
        recordsProbe: recordsProbeSchema.optional()
    })
    .strict();
export type ServerResult = z.infer<typeof serverResultSchema>;
