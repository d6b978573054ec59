/**
 * How Nango's Lambda runtime bounds a sync execution (NANGO_LOCAL_RUN_TIMEOUT_S here): from 80% of the time
 * on, the next saveCheckpoint saves and then ends the run as interrupted, which counts as a success; at 95%
 * the execution is killed and the run fails, because the script did not reach a checkpoint in time.
 */

export const INTERRUPT_AT = 0.8;
export const KILL_AT = 0.95;

/** Thrown to the script by saveCheckpoint once the run is past 80%: the checkpoint is saved, the run hands over. */
export class RunInterruptedError extends Error {
    override name = 'RunInterruptedError';
}

/** Why a run failed at 95% of its execution. */
export class ExecutionKilledError extends Error {
    override name = 'ExecutionKilledError';
}

export class ExecutionLimit {
    private readonly startedAt = Date.now();
    private killTimer: NodeJS.Timeout | undefined;
    /** Settles at 95% of the execution, never when there is no limit. */
    readonly killed: Promise<ExecutionKilledError>;

    /** `timeoutMs` undefined: no limit, as on Nango's 24 h runner. */
    constructor(readonly timeoutMs: number | undefined) {
        this.killed = new Promise((resolve) => {
            if (timeoutMs === undefined) {
                return;
            }
            this.killTimer = setTimeout(() => {
                resolve(
                    new ExecutionKilledError(
                        `killed at ${KILL_AT * 100}% of its ${timeoutMs / 1000} s execution (NANGO_LOCAL_RUN_TIMEOUT_S): ` +
                            `the script did not save a checkpoint after ${INTERRUPT_AT * 100}%, when it would have been handed over`
                    )
                );
            }, timeoutMs * KILL_AT);
        });
    }

    /** True from 80% of the execution on. */
    get pastInterruptPoint(): boolean {
        return this.timeoutMs !== undefined && Date.now() - this.startedAt >= this.timeoutMs * INTERRUPT_AT;
    }

    stop(): void {
        clearTimeout(this.killTimer);
    }
}
