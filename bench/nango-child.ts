import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';

import { createNangoServer, openStoreInThread } from '../local-stack/nango-server/index.js';
import {
    NANGO_RESULT_PREFIX,
    NANGO_URL_PREFIX,
    nangoChildConfigSchema,
    type NangoChildConfig,
    type RecordsProbe,
    type ServerResult
} from './protocol.js';

/**
 * The local Nango of one measured run, in a process of its own: it owns the store folder, so that store
 * writes load neither the runner's event loop nor the emulator's, and its CPU and peak RSS are its own.
 * Prints NANGO_URL_PREFIX + its URL once it listens; when its stdin closes (the parent asks, or the parent
 * died), it closes the store and prints NANGO_RESULT_PREFIX + ServerResult.
 *
 *   node local-stack/launch.mjs bench/nango-child.ts '{"storeDir":"/tmp/x","secretKey":"…","clariBaseUrl":"http://127.0.0.1:1234"}'
 */

const RUN_START = /^\/persist\/runs\/?$/;
const RUN_FINISH = /^\/persist\/runs\/\d+\/finish\/?$/;
const PROBE_EVERY_MS = 1000;

/**
 * An app polling the records API while the sync writes: one `GET /records?limit=100` a second, timed to the
 * last byte. It runs in this process, so the time includes any stall of the loop that also serves the API.
 */
function startRecordsProbe(url: string, secretKey: string, probe: NangoChildConfig['probe']): { stop(): Promise<RecordsProbe> } {
    // Microseconds: the histogram records integers.
    const latencyUs: RecordableHistogram = createHistogram();
    let failures = 0;
    const state = { stopped: false };
    let wake: () => void = () => undefined;
    const loop = (async () => {
        while (!state.stopped) {
            const started = performance.now();
            try {
                const response = await fetch(`${url}/records?model=${encodeURIComponent(probe.model)}&limit=100`, {
                    headers: {
                        authorization: `Bearer ${secretKey}`,
                        'connection-id': probe.connectionId,
                        'provider-config-key': probe.providerConfigKey
                    }
                });
                await response.arrayBuffer();
                if (response.ok) {
                    latencyUs.record(Math.max(1, Math.round((performance.now() - started) * 1000)));
                } else {
                    failures++;
                }
            } catch {
                failures++;
            }
            const waitMs = Math.max(0, started + PROBE_EVERY_MS - performance.now());
            await new Promise<void>((resolve) => {
                wake = resolve;
                setTimeout(resolve, waitMs);
            });
        }
    })();
    return {
        async stop() {
            state.stopped = true;
            wake();
            await loop;
            const ms = (us: number): number => (latencyUs.count === 0 ? 0 : us / 1000);
            return {
                count: latencyUs.count,
                failures,
                p50Ms: ms(latencyUs.percentile(50)),
                p99Ms: ms(latencyUs.percentile(99)),
                maxMs: ms(latencyUs.max)
            };
        }
    };
}

async function main(): Promise<void> {
    const config = nangoChildConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
    mkdirSync(config.storeDir, { recursive: true });
    const store = await openStoreInThread({ dir: config.storeDir });

    const proxy = { attempts: 0, retries: 0, status429: 0 };
    const app = createNangoServer({
        store,
        secretKey: config.secretKey,
        clariBaseUrl: config.clariBaseUrl,
        onProxyAttempt: (attempt) => {
            proxy.attempts++;
            if (attempt.willRetry) proxy.retries++;
            if (attempt.status === 429) proxy.status429++;
        }
    });

    // The figures cover the sync run alone, not the idle seconds while the runner process starts and exits.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    const lifeStarted = performance.now();
    const run: {
        started: { at: number; cpu: NodeJS.CpuUsage; probe: ReturnType<typeof startRecordsProbe> } | null;
        measured: { windowMs: number; cpuMs: number; probe: Promise<RecordsProbe> } | null;
    } = { started: null, measured: null };
    let url = '';
    const closeWindow = (): void => {
        if (run.started !== null && run.measured === null) {
            const cpu = process.cpuUsage(run.started.cpu);
            run.measured = {
                windowMs: performance.now() - run.started.at,
                cpuMs: (cpu.user + cpu.system) / 1000,
                probe: run.started.probe.stop()
            };
            loopDelay.disable();
        }
    };
    app.addHook('onRequest', (request, _reply, done) => {
        if (run.started === null && request.method === 'POST' && RUN_START.test(request.url)) {
            run.started = {
                at: performance.now(),
                cpu: process.cpuUsage(),
                probe: startRecordsProbe(url, config.secretKey, config.probe)
            };
            loopDelay.enable();
        }
        done();
    });
    app.addHook('onResponse', (request, _reply, done) => {
        if (request.method === 'POST' && RUN_FINISH.test(request.url)) {
            closeWindow();
        }
        done();
    });

    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    url = `http://127.0.0.1:${port}`;
    process.stdout.write(`${NANGO_URL_PREFIX}${url}\n`);

    await new Promise<void>((resolve) => {
        process.stdin.on('end', resolve).on('close', resolve).resume();
    });
    closeWindow();
    const recordsProbe = await run.measured?.probe;
    await app.close();
    await store.close();

    const lifeCpu = process.cpuUsage();
    const figures = run.measured ?? { windowMs: performance.now() - lifeStarted, cpuMs: (lifeCpu.user + lifeCpu.system) / 1000 };
    const result: ServerResult = {
        windowMs: figures.windowMs,
        cpuMs: figures.cpuMs,
        // maxRSS is in kilobytes.
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        // The histogram is in nanoseconds; it stays empty (NaN) when no run started.
        eventLoopDelayP99Ms: run.started === null ? 0 : loopDelay.percentile(99) / 1e6,
        eventLoopDelayMaxMs: run.started === null ? 0 : loopDelay.max / 1e6,
        proxyAttempts: proxy.attempts,
        proxyRetries: proxy.retries,
        proxy429s: proxy.status429,
        ...(recordsProbe === undefined ? {} : { recordsProbe })
    };
    process.stdout.write(`${NANGO_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
