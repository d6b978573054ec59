import { spawn, type ChildProcess } from 'node:child_process';

import { CREDENTIALS } from './emulator-client.js';
import { REPO_ROOT } from './stack.js';

/**
 * `npm run sync` as a child process. It runs as `node --import tsx local-stack/cli/sync.ts`, not through
 * `npm` nor the `tsx` binary: both start the script in a grandchild process, which a SIGKILL sent to the
 * child would leave running.
 */

export interface CliExit {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

export interface SyncCli {
    child: ChildProcess;
    exited: Promise<CliExit>;
    /** Whether the process has exited (or was killed). */
    readonly done: boolean;
    kill(): Promise<CliExit>;
}

export interface SyncCliOptions {
    clariBaseUrl: string;
    storeDir: string;
    connectionId: string;
    metadata: Record<string, unknown>;
}

export function startSyncCli(options: SyncCliOptions): SyncCli {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local-stack/cli/sync.ts', '--metadata', JSON.stringify(options.metadata)], {
        cwd: REPO_ROOT,
        env: {
            ...process.env,
            CLARI_BASE_URL: options.clariBaseUrl,
            CLARI_API_KEY: CREDENTIALS.apiKey,
            CLARI_API_PASSWORD: CREDENTIALS.apiPassword,
            NANGO_LOCAL_DB: options.storeDir,
            NANGO_CONNECTION_ID: options.connectionId
        },
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
    });
    let done = false;
    const exited = new Promise<CliExit>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code, signal) => {
            done = true;
            resolve({ code, signal, stdout, stderr });
        });
    });
    return {
        child,
        exited,
        get done() {
            return done;
        },
        kill() {
            if (!done) {
                child.kill('SIGKILL');
            }
            return exited;
        }
    };
}

/** Polls `condition` every few milliseconds; fails when `abort` says waiting is pointless or time runs out. */
export async function waitUntil(condition: () => boolean, options: { timeoutMs: number; what: string; abort?: () => string | undefined }) {
    const deadline = performance.now() + options.timeoutMs;
    while (!condition()) {
        const reason = options.abort?.();
        if (reason !== undefined) {
            throw new Error(`gave up waiting for ${options.what}: ${reason}`);
        }
        if (performance.now() > deadline) {
            throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
    }
}
