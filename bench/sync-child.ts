import { monitorEventLoopDelay } from 'node:perf_hooks';

import { PROVIDER_CONFIG_KEY } from '../nango-integrations/clari-copilot/constants.js';
import { parseReportLine } from '../nango-integrations/clari-copilot/run-report.js';
import fetchData from '../nango-integrations/clari-copilot/syncs/calls.js';
import { createHttpPersist, createServerProxy, probeLocalNango } from '../local-stack/runner/http-persist.js';
import { runSync, type RunnerEvent } from '../local-stack/runner/run-sync.js';
import naiveFetchData, { NAIVE_SUMMARY_PREFIX, SKIP_CAP_LOG } from './naive-sync.js';
import { RESULT_PREFIX, childConfigSchema, type ChildResult } from './protocol.js';

/**
 * One measured sync run in a process of its own, so that its peak RSS is the runner's alone: runs the
 * real `calls` sync (or the naive baseline) through the local runner, persisting through the local Nango
 * in `nango-child.ts` and reaching Clari through that server's proxy, as Nango's runner does, and prints
 * one JSON line (RESULT_PREFIX + ChildResult). The connection and its credentials are already on the server.
 *
 *   node local-stack/launch.mjs bench/sync-child.ts '{"strategy":"ours","nangoUrl":"http://127.0.0.1:4321","secretKey":"…",...}'
 */

async function main(): Promise<void> {
    const config = childConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
    const server = { url: config.nangoUrl, secretKey: config.secretKey, providerConfigKey: PROVIDER_CONFIG_KEY };
    const proxy = createServerProxy(server, config.connectionId, config.clariBaseUrl);

    const counters = { list: 0, details: 0, other: 0, status429: 0, proxyRetries: 0 };
    const seen: { summary: string | null; retries: number; skipCapHit: boolean } = { summary: null, retries: 0, skipCapHit: false };
    const onEvent = (event: RunnerEvent): void => {
        if (event.type === 'request') {
            if (event.endpoint.startsWith('/call-details')) {
                counters.details++;
            } else if (event.endpoint.startsWith('/calls')) {
                counters.list++;
            } else {
                counters.other++;
            }
            if (event.status === 429) {
                counters.status429++;
            }
        } else if (event.type === 'retry') {
            counters.proxyRetries++;
        } else if (event.type === 'log') {
            const report = parseReportLine(event.message);
            if (report?.type === 'summary') {
                seen.summary = event.message;
                seen.retries = report.counts.retries;
            } else if (event.message.startsWith(NAIVE_SUMMARY_PREFIX)) {
                seen.summary = event.message;
            }
            if (event.message.startsWith(SKIP_CAP_LOG)) {
                seen.skipCapHit = true;
            }
        }
    };

    let ok = true;
    let error: string | null = null;
    let counts = { added: 0, updated: 0, unchanged: 0, deleted: 0 };
    let peakHeapBytes = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => {
        peakHeapBytes = Math.max(peakHeapBytes, process.memoryUsage().heapUsed);
    }, 100);
    // Nango's runners are long-lived: the clock starts on a runner whose HTTP client is loaded and connected.
    await probeLocalNango(server);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    try {
        const result = await runSync({
            persist: createHttpPersist(server),
            connectionId: config.connectionId,
            metadata: config.metadata,
            proxy,
            fetchData: config.strategy === 'ours' ? fetchData : naiveFetchData,
            onEvent
        });
        counts = result.counts;
    } catch (err) {
        ok = false;
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    loopDelay.disable();
    clearInterval(sampler);
    peakHeapBytes = Math.max(peakHeapBytes, process.memoryUsage().heapUsed);
    proxy.close();

    const result: ChildResult = {
        strategy: config.strategy,
        ok,
        error,
        wallMs,
        listRequests: counters.list,
        detailRequests: counters.details,
        otherRequests: counters.other,
        status429: counters.status429,
        retries: (config.strategy === 'ours' ? seen.retries : 0) + counters.proxyRetries,
        saved: counts.added + counts.updated + counts.unchanged,
        added: counts.added,
        updated: counts.updated,
        unchanged: counts.unchanged,
        deleted: counts.deleted,
        summary: seen.summary,
        // maxRSS is in kilobytes.
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        peakHeapBytes,
        cpuMs: (cpu.user + cpu.system) / 1000,
        // The histogram is in nanoseconds.
        eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        eventLoopDelayMaxMs: loopDelay.max / 1e6,
        skipCapHit: seen.skipCapHit
    };
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
