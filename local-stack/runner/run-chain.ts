import { runSync, type RunSyncOptions, type RunSyncResult } from './run-sync.js';

export interface RunChainOptions extends RunSyncOptions {
    /** After each interrupted execution, before the next one starts. */
    onHandOver?: ((interrupted: RunSyncResult) => void) | undefined;
}

/**
 * Runs a sync until an execution ends without being interrupted, as Nango does after an interruption: the
 * next execution starts at once, with lastSyncDate at the interrupted run's start and the checkpoint it
 * saved. Only the first execution of a full refresh runs without lastSyncDate. Rejects as the failing run does.
 */
export async function runSyncChain(options: RunChainOptions): Promise<{ final: RunSyncResult; interrupted: RunSyncResult[] }> {
    const interrupted: RunSyncResult[] = [];
    for (let fullRefresh = options.fullRefresh; ; fullRefresh = false) {
        const result = await runSync({ ...options, fullRefresh });
        if (!result.interrupted) {
            return { final: result, interrupted };
        }
        interrupted.push(result);
        options.onHandOver?.(result);
    }
}

/** The one line a hand-over prints: it says "interrupted" and names the checkpoint reached. */
export function handOverLine(result: RunSyncResult): string {
    const reached = result.checkpoints?.to;
    return (
        `Run ${result.runId} interrupted at checkpoint ${reached ? JSON.stringify(reached) : '(none)'}; ` +
        'it counts as a success and the next execution starts now from that checkpoint.'
    );
}
