import { spawn } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const NANGO_BIN = path.join(REPO_ROOT, 'node_modules/.bin/nango');
export const NANGO_INTEGRATIONS_DIR = path.join(REPO_ROOT, 'nango-integrations');

/** Compiling every script comes first and takes tens of seconds on a busy machine. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** How much of the CLI's output a failure message quotes. */
const TAIL_LINES = 4;

export interface DeployWithCliOptions {
    /** The local Nango server, e.g. http://127.0.0.1:3003. */
    serverUrl: string;
    secretKey: string;
    /** The Nango project folder; defaults to the repo's nango-integrations/. */
    cwd?: string | undefined;
    /** Deploy even when it removes syncs that have connections or models (the CLI's --allow-destructive). */
    allowDestructive?: boolean | undefined;
    timeoutMs?: number | undefined;
}

export interface DeployWithCliResult {
    /** `name@vversion` of each deployed sync and action, as the CLI printed them. */
    deployed: string[];
    /** stdout and stderr, interleaved as they arrived. */
    output: string;
}

export class DeployFailedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'DeployFailedError';
    }
}

function stripAnsi(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** One line: why, then the CLI's last lines; the secret key never appears, even if the CLI echoed it. */
function failure(why: string, output: string, secretKey: string): DeployFailedError {
    const lines = stripAnsi(output)
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
    const tail = lines.slice(-TAIL_LINES).join(' | ');
    const message = `nango deploy ${why}${tail ? `: ${tail}` : ' without output'}`;
    return new DeployFailedError(redact(message, secretKey));
}

const DEPLOY_CLI_HEAP = '--max-old-space-size=224 --max-semi-space-size=4';

/** Whole occurrences only, so a short key does not garble the words that happen to contain it. */
export function redact(text: string, secret: string): string {
    if (secret === '') {
        return text;
    }
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return text.replace(new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, 'g'), '***');
}

/**
 * Deploys the project with the pinned CLI (`nango deploy dev --auto-confirm`) to a local server.
 * Resolves once the CLI reports success; anything else, including an exit 0 that deployed
 * nothing (the CLI returns quietly on a nango.yaml it cannot parse), is a DeployFailedError.
 */
export async function deployWithCli(options: DeployWithCliOptions): Promise<DeployWithCliResult> {
    const args = ['deploy', 'dev', '--auto-confirm', ...(options.allowDestructive ? ['--allow-destructive'] : [])];
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        NANGO_HOSTPORT: options.serverUrl,
        NANGO_SECRET_KEY_DEV: options.secretKey,
        NANGO_CLI_UPGRADE_MODE: 'ignore',
        NANGO_DEPLOY_AUTO_CONFIRM: 'true',
        // In CI mode the CLI fails instead of prompting (a destructive deploy); nobody is there to answer.
        CI: 'true',
        // The CLI type-checks the project with TypeScript in a heap sized for the whole machine: 510 MB of RSS. With
        // 224 MB of old space and 4 MB semi-spaces `nango compile` peaks at ~315 MB, about a second slower; a tighter
        // heap costs seconds more for each 15 MB saved (bench/README.md, "Where the memory goes").
        NODE_OPTIONS: [process.env['NODE_OPTIONS'], DEPLOY_CLI_HEAP].filter(Boolean).join(' ')
    };
    // NANGO_SECRET_KEY_DEV wins over this one, but an inherited key has no business reaching the child.
    delete env['NANGO_SECRET_KEY'];

    const child = spawn(NANGO_BIN, args, { cwd: options.cwd ?? NANGO_INTEGRATIONS_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error | 'timeout'>((resolve) => {
        timer = setTimeout(() => {
            child.kill('SIGTERM');
            resolve('timeout');
        }, timeoutMs);
        child.once('error', resolve);
        child.once('close', (code, signal) => {
            resolve({ code, signal });
        });
    }).finally(() => {
        clearTimeout(timer);
    });

    if (exit === 'timeout') {
        throw failure(`timed out after ${timeoutMs} ms`, output, options.secretKey);
    }
    if (exit instanceof Error) {
        throw new DeployFailedError(`nango deploy could not start (${NANGO_BIN}): ${exit.message}; run npm ci`);
    }
    if (exit.code !== 0) {
        throw failure(
            exit.code === null ? `was killed by ${exit.signal ?? 'a signal'}` : `failed (exit code ${exit.code})`,
            output,
            options.secretKey
        );
    }
    const text = stripAnsi(output);
    const deployedLine = /Successfully deployed the functions: (.+)!/.exec(text);
    if (deployedLine?.[1] !== undefined) {
        return { deployed: deployedLine[1].split(', '), output };
    }
    if (text.includes('Successfully removed the syncs/actions.')) {
        return { deployed: [], output };
    }
    throw failure('exited without deploying', output, options.secretKey);
}
