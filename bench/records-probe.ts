import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import { PROBE_READY, PROBE_RESULT_PREFIX, recordsProbeConfigSchema, type RecordsProbe, type RecordsProbeConfig } from './protocol.js';

/**
 * An app polling the records API while the sync writes, in a process of its own as an app is: it waits for a
 * `start` line on stdin, then sends one `GET /records?limit=100` a second, timed to the last byte, until its
 * stdin closes; then it prints PROBE_RESULT_PREFIX + RecordsProbe. Reading a page is tens of milliseconds of
 * work for the client; here it loads neither the local Nango's loop nor its memory, which the bench measures.
 *
 *   node local-stack/launch.mjs bench/records-probe.ts '{"url":"http://127.0.0.1:4321","secretKey":"…","probe":{…}}'
 */

const PROBE_EVERY_MS = 1000;

function startProbing(config: RecordsProbeConfig): { stop(): Promise<RecordsProbe> } {
    const { url, secretKey, probe } = config;
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
    const config = recordsProbeConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
    let probing: ReturnType<typeof startProbing> | null = null;
    // An app that polls is long-lived: its HTTP client is loaded and connected before the sync it watches starts,
    // not in the run's first second, where loading it competed for the CPU with the run's start. The route touches
    // no store.
    await fetch(`${config.url}/environment-variables`, { headers: { authorization: `Bearer ${config.secretKey}` } }).then((response) =>
        response.arrayBuffer()
    );
    process.stdout.write(`${PROBE_READY}\n`);
    for await (const line of createInterface({ input: process.stdin })) {
        if (line.trim() === 'start' && probing === null) {
            probing = startProbing(config);
        }
    }
    const result: RecordsProbe = probing === null ? { count: 0, failures: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 } : await probing.stop();
    process.stdout.write(`${PROBE_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
