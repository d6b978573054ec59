export interface RunCounts {
    /** Includes re-saved records that had been deleted, as Nango counts them. */
    added: number;
    updated: number;
    unchanged: number;
    deleted: number;
    /** HTTP attempts, retries included. */
    requests: number;
    retries: number;
}

/** Progress events for a CLI display; emitted synchronously, in order. */
export type RunnerEvent =
    | { type: 'run-start'; runId: number; syncName: string; connectionId: string; lastSyncDate: Date | undefined }
    /** One HTTP attempt; `status` absent when the attempt got no response (then `errorCode` says why). */
    | { type: 'request'; method: string; endpoint: string; attempt: number; durationMs: number; status?: number; errorCode?: string }
    | { type: 'retry'; endpoint: string; attempt: number; waitMs: number; status?: number; errorCode?: string }
    | { type: 'saved'; model: string; count: number; added: number; updated: number; unchanged: number }
    | { type: 'deleted'; model: string; count: number }
    | { type: 'log'; level: string; message: string }
    | {
          type: 'run-end';
          runId: number;
          status: 'success' | 'failed';
          durationMs: number;
          counts: RunCounts;
          error?: string;
          /** A success that ended at a checkpoint past 80% of NANGO_LOCAL_RUN_TIMEOUT_S; the next execution resumes from it. */
          interrupted?: boolean;
      };

export function emptyCounts(): RunCounts {
    return { added: 0, updated: 0, unchanged: 0, deleted: 0, requests: 0, retries: 0 };
}
