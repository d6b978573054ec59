import { z } from 'zod';

/** What the bench parent hands to `sync-child.ts` (one JSON argument) and what the child prints back (one JSON line). */

export const RESULT_PREFIX = 'BENCH_RESULT ';

export const childConfigSchema = z
    .object({
        strategy: z.enum(['ours', 'naive']),
        /** Store folder; a fresh temp folder for a first sync, the same one for the runs that follow it. */
        storeDir: z.string().min(1),
        baseUrl: z.url(),
        apiKey: z.string(),
        apiPassword: z.string(),
        connectionId: z.string().min(1),
        metadata: z.record(z.string(), z.unknown()),
        /**
         * Only create the store and the connection, then exit. PGlite's initdb on a fresh folder peaks near
         * 900 MB RSS, which would swamp the sync's own memory, so the parent prepares the store first.
         */
        prepareOnly: z.boolean()
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
        /** Retries: the sync's own (from its summary line) plus any the proxy made. */
        retries: z.number(),
        saved: z.number(),
        added: z.number(),
        updated: z.number(),
        unchanged: z.number(),
        deleted: z.number(),
        /** The sync's final summary line (ours) or the naive sync's own summary. */
        summary: z.string().nullable(),
        /** process.resourceUsage().maxRSS of the child, in bytes (store open included, initdb excluded). */
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
