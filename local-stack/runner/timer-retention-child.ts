import type { NangoSync } from '../../nango-integrations/models.js';
import { fetchDataFromBundle } from './sandbox.js';
import type { Measurement, Variant } from './timer-retention.js';

/*
 * One measurement of timer-retention.ts, in a Node started with --expose-gc. Arguments: the probe bundle,
 * the variant, the number of responses and their size. Prints the Measurement as the last line of stdout.
 */

/** About 200 characters a turn, so a body of `bytes` is mostly transcript, as a long call's details are. */
const TURN_TEXT = 'So the next step on our side is the security review, and once legal has signed off we can plan the rollout. '.repeat(2);

/**
 * A `/call-details` body of about `bytes` as JSON text, with `@ID@` where the call id goes. Each answer is
 * parsed from its own text, as the HTTP client does: fresh objects and flat strings per response. (A
 * `'x'.repeat()` body would not do: V8 builds it from shared pieces, and it weighs almost nothing.)
 */
function bodyTemplate(bytes: number): string {
    const turn = { text: `@ID@ ${TURN_TEXT}`, start: 0, end: 0, personId: '@ID@', annotations: [] };
    const turnBytes = JSON.stringify(turn).replaceAll('@ID@', 'call-0000').length + 1;
    const transcript = Array.from({ length: Math.max(1, Math.floor(bytes / turnBytes)) }, (_, index) => ({ ...turn, start: index }));
    return JSON.stringify({ call: { id: '@ID@', transcript } });
}

/** What the probe calls, on the host's side of the sandbox. */
class ProbeNango {
    readonly logs: string[] = [];
    answered = 0;
    answeredBytes = 0;
    private readonly template: string;

    constructor(
        private readonly variant: Variant,
        private readonly requests: number,
        bytes: number
    ) {
        this.template = bodyTemplate(bytes);
    }

    getMetadata(): Promise<Record<string, unknown>> {
        return Promise.resolve({ variant: this.variant, requests: this.requests });
    }

    get(config: { params: { id: string } }): Promise<{ status: number; headers: Record<string, string>; data: unknown }> {
        const text = this.template.replaceAll('@ID@', config.params.id);
        this.answered++;
        this.answeredBytes += text.length;
        return Promise.resolve({ status: 200, headers: {}, data: JSON.parse(text) as unknown });
    }

    log(message: string): Promise<void> {
        this.logs.push(message);
        return Promise.resolve();
    }
}

async function heapAfterGc(): Promise<number> {
    const { gc } = globalThis;
    if (gc === undefined) {
        throw new Error('run with --expose-gc');
    }
    // A few rounds with turns of the event loop between: what one collection frees can release more.
    for (let round = 0; round < 4; round++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
    const [bundleFile, variant, requests, bytes] = process.argv.slice(2);
    if (bundleFile === undefined || (variant !== 'fixed' && variant !== 'control')) {
        throw new Error('usage: timer-retention-child.ts <bundle> fixed|control <responses> <bytes>');
    }
    const fetchData = fetchDataFromBundle(bundleFile);
    const nango = new ProbeNango(variant, Number(requests), Number(bytes));
    const before = await heapAfterGc();
    await fetchData(nango as unknown as NangoSync);
    const after = await heapAfterGc();

    const report = JSON.parse(nango.logs.at(-1) ?? '{}') as { received?: number };
    const measurement: Measurement = {
        variant,
        responses: nango.answered,
        responseBytes: nango.answeredBytes,
        received: report.received ?? 0,
        retainedMiB: (after - before) / 2 ** 20
    };
    console.log(JSON.stringify(measurement));
    // The run's 120 s timers are unref'd: the process ends here instead of waiting them out.
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
});
