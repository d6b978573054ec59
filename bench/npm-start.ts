import { readdirSync, readFileSync, rmSync } from 'node:fs';

import { cleanEnv, collect, freePort, startCommand, tempDir, waitFor } from '../local-stack/cli/test-helpers.js';

/**
 * `npm start` as a newcomer runs it: the default dataset at Clari's real rate, fresh store folders, the real
 * `nango deploy`, the first sync and the reference app's first pull, up to "Serving.". Every process of its session
 * (npm, the shell, the main process, the deploy CLI and its helpers) is sampled from /proc, and the figure is the
 * largest sum of their resident memory at one moment: what a laptop must hold at once.
 */

export interface NpmStartFigures {
    /** From the spawn to "Serving." */
    servedAfterMs: number;
    /** The largest sum of RSS over the session's processes at one sample. */
    peakTotalBytes: number;
    /** Each process at that sample, largest first: its command line (shortened) and its RSS. */
    atPeak: { command: string; rssBytes: number }[];
    samples: number;
}

const SAMPLE_EVERY_MS = 200;
/** The deploy's compile and a first sync of ~1,600 calls at 10 req/s, on a busy machine. */
const SERVE_TIMEOUT_MS = 10 * 60_000;
const PAGE_BYTES = 4096;

interface ProcessSample {
    /** Its command line, whole. */
    command: string;
    rssBytes: number;
}

function readProc(pid: number, file: string): string | undefined {
    try {
        return readFileSync(`/proc/${pid}/${file}`, 'utf8');
    } catch {
        // The process ended between the listing and the read.
        return undefined;
    }
}

/** The processes of one session (process group) and their resident memory now. */
function sampleSession(sessionId: number): ProcessSample[] {
    const samples: ProcessSample[] = [];
    for (const entry of readdirSync('/proc')) {
        const pid = Number(entry);
        if (!Number.isInteger(pid)) {
            continue;
        }
        const stat = readProc(pid, 'stat');
        const statm = readProc(pid, 'statm');
        if (stat === undefined || statm === undefined) {
            continue;
        }
        // Fields after the parenthesised name: state, ppid, pgrp, session...
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[3]) !== sessionId) {
            continue;
        }
        const command = (readProc(pid, 'cmdline') ?? '').split('\0').filter(Boolean).join(' ');
        samples.push({ command, rssBytes: Number(statm.split(' ')[1]) * PAGE_BYTES });
    }
    return samples;
}

/** A process as a reader knows it: `npm start`, `sh start.ts`, `node start.ts`, `nango deploy dev`, `esbuild`. */
function shortCommand(command: string): string {
    const words = command.split(' ');
    const nango = words.findIndex((word) => word.endsWith('/.bin/nango'));
    if (nango !== -1) {
        return ['nango', ...words.slice(nango + 1, nango + 3)].join(' ');
    }
    const program = words[0]?.split('/').at(-1) ?? '';
    const script = words.find((word) => /\.(ts|mjs|js)$/.test(word) && !word.endsWith('launch.mjs'));
    return [program, script === undefined ? words[1] : script.split('/').at(-1)].filter(Boolean).join(' ');
}

export async function measureNpmStart(): Promise<NpmStartFigures> {
    const storeDir = tempDir('clari-bench-npm-start-');
    const env = cleanEnv({
        NANGO_LOCAL_PORT: String(await freePort()),
        CLARI_EMULATOR_PORT: String(await freePort()),
        REFERENCE_APP_PORT: String(await freePort()),
        NANGO_LOCAL_DB: storeDir
    });
    const started = performance.now();
    // A session of its own (detached), so that every process it starts can be found by its session id.
    const child = startCommand('npm', ['start'], env);
    const output = collect(child);
    const sessionId = child.pid ?? 0;
    let peakTotalBytes = 0;
    let atPeak: ProcessSample[] = [];
    let samples = 0;
    const sampler = setInterval(() => {
        const session = sampleSession(sessionId);
        samples++;
        const total = session.reduce((sum, process) => sum + process.rssBytes, 0);
        if (total > peakTotalBytes) {
            peakTotalBytes = total;
            atPeak = session;
        }
    }, SAMPLE_EVERY_MS);
    try {
        const served = (): boolean => output.output().stdout.includes('Serving.');
        await waitFor(() => served() || child.exitCode !== null, SERVE_TIMEOUT_MS, 'npm start to serve');
        if (!served()) {
            const { stdout, stderr } = output.output();
            throw new Error(`npm start exited before it served:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
        }
        const servedAfterMs = performance.now() - started;
        return {
            servedAfterMs,
            peakTotalBytes,
            atPeak: atPeak
                .map(({ command, rssBytes }) => ({ command: shortCommand(command), rssBytes }))
                .sort((a, b) => b.rssBytes - a.rssBytes),
            samples
        };
    } finally {
        clearInterval(sampler);
        // Ctrl-C, as a terminal delivers it: to the whole group.
        try {
            process.kill(-sessionId, 'SIGINT');
        } catch {
            // Already gone.
        }
        await output.done;
        rmSync(storeDir, { recursive: true, force: true });
    }
}
