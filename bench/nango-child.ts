import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { createNangoServer, openStoreInThread } from '../local-stack/nango-server/index.js';
import {
    NANGO_RESULT_PREFIX,
    NANGO_URL_PREFIX,
    nangoChildConfigSchema,
    PROBE_READY,
    PROBE_RESULT_PREFIX,
    recordsProbeSchema,
    type RecordsProbe,
    type RecordsProbeConfig,
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
/**
 * An app polling the records API while the sync writes (`records-probe.ts`), in a process of its own as an app
 * is: its requests wait for any stall of the loop that serves the API, but reading the pages is its own work.
 * Started before any run, so that its start-up is not measured; it probes from `start()` on.
 */
interface RecordsProbeProcess {
    start(): void;
    /** Ends the process: its figures, all zero when it never started. */
    stop(): Promise<RecordsProbe>;
}

async function spawnRecordsProbe(config: RecordsProbeConfig): Promise<RecordsProbeProcess> {
    const child = spawn(
        process.execPath,
        [path.join('local-stack', 'launch.mjs'), path.join('bench', 'records-probe.ts'), JSON.stringify(config)],
        {
            stdio: ['pipe', 'pipe', 'inherit']
        }
    );
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            output += chunk;
            if (output.includes(PROBE_READY)) {
                resolve();
            }
        });
        void exited.then((code) => {
            reject(new Error(`the records probe exited (${code}) before it was ready`));
        });
    });
    return {
        start() {
            child.stdin.write('start\n');
        },
        async stop() {
            child.stdin.end();
            const code = await exited;
            const line = output.split('\n').find((candidate) => candidate.startsWith(PROBE_RESULT_PREFIX));
            if (line === undefined) {
                throw new Error(`the records probe exited (${code}) without a result`);
            }
            return recordsProbeSchema.parse(JSON.parse(line.slice(PROBE_RESULT_PREFIX.length)));
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
        started: { at: number; cpu: NodeJS.CpuUsage } | null;
        measured: { windowMs: number; cpuMs: number; probe: Promise<RecordsProbe> | undefined } | null;
    } = { started: null, measured: null };
    // Spawned once the server listens, before its URL is printed: no run can start without it.
    let probe: RecordsProbeProcess | null = null;
    const closeWindow = (): void => {
        if (run.started !== null && run.measured === null) {
            const cpu = process.cpuUsage(run.started.cpu);
            run.measured = {
                windowMs: performance.now() - run.started.at,
                cpuMs: (cpu.user + cpu.system) / 1000,
                probe: probe?.stop()
            };
            loopDelay.disable();
        }
    };
    app.addHook('onRequest', (request, _reply, done) => {
        if (run.started === null && request.method === 'POST' && RUN_START.test(request.url)) {
            run.started = { at: performance.now(), cpu: process.cpuUsage() };
            probe?.start();
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
    const url = `http://127.0.0.1:${port}`;
    probe = await spawnRecordsProbe({ url, secretKey: config.secretKey, probe: config.probe });
    process.stdout.write(`${NANGO_URL_PREFIX}${url}\n`);

    await new Promise<void>((resolve) => {
        process.stdin.on('end', resolve).on('close', resolve).resume();
    });
    closeWindow();
    // Measured or not, the probe's process ends with this one.
    let recordsProbe: RecordsProbe | undefined;
    if (run.measured) {
        recordsProbe = await run.measured.probe;
    } else {
        await probe.stop();
    }
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
