import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import * as prettier from 'prettier';

import { OUTPUT_DIRS, USAGE, UsageError, commandLine, parseBenchArgs, type BenchArgs, type OutputDir } from './args.js';
import { renderCharts } from './charts.js';
import { measureNpmStart, type NpmStartFigures } from './npm-start.js';
import {
    BenchEmulator,
    CLARI_RATE,
    REAL_LATENCY,
    REPO_ROOT,
    comparisonLatency,
    measure,
    prepareStore,
    pruneEveryRecord,
    scaledLatency,
    type Measurement,
    type RunOptions
} from './measure.js';
import {
    consoleReport,
    evaluateTargets,
    recordedRunSchema,
    summaryMarkdown,
    type BaselineComparison,
    type BenchResults,
    type RecordedRun,
    type SizeResult
} from './report.js';

/**
 * `npm run bench`: first sync of N calls against the Clari Copilot emulator at Clari's 10 req/s with
 * realistic latency, then an incremental run with no change, a reconciliation, a reconciliation after every
 * payload was pruned, an incremental run with 1% changed (on the pruned store), a reconciliation after
 * pruning again, and the naive baseline at a fixed 300 ms detail latency. Each sync runs in a child process (sync-child.ts).
 * See USAGE in args.ts for the flags and bench/results/summary.md for the latest published figures.
 */

const CONNECTION_ID = 'bench';
/** Incremental runs must not turn into a reconciliation because a period boundary fell between two runs. */
const NO_RECONCILE_HOURS = 720;
const DATASET_LEAD_MS = 60 * 60 * 1000;

async function benchSize(n: number, args: BenchArgs, now: Date): Promise<SizeResult> {
    const { speed } = args;
    const emulator = await BenchEmulator.start({ calls: n, seed: args.seed, now, speed });
    const tmp = await mkdtemp(path.join(os.tmpdir(), `clari-bench-${n}-`));
    try {
        const dataset = emulator.dataset();
        console.log(
            `\n=== N=${n}: ${dataset.expectedSynced} public calls in the window (${dataset.privateCalls} private, ${dataset.scheduledCalls} scheduled), ` +
                `/call-details mean ${dataset.meanDetailKb.toFixed(1)} KB (max ${dataset.maxDetailKb.toFixed(0)} KB), speed ${speed}, ${emulator.url}`
        );
        const latency = scaledLatency(REAL_LATENCY, speed);
        const rate = CLARI_RATE * speed;
        const oursConfig = (reconcileEveryHours: number): RunOptions['config'] => ({
            strategy: 'ours',
            storeDir: path.join(tmp, 'ours'),
            connectionId: CONNECTION_ID,
            // The daily refresh of recent calls would join whichever run crosses midnight UTC; its cost is capped apart.
            metadata: { maxRequestsPerSecond: rate, reconcileEveryHours, refreshRecentDays: 0 }
        });
        const run = (label: string, config: RunOptions['config'], expectedRequests: number): ReturnType<typeof measure> =>
            measure({ label: `N=${n} ${label}`, emulator, speed, latency, config, expectedRequests });

        const listPages = Math.ceil(dataset.expectedSynced / 100);
        await prepareStore(emulator, oursConfig(NO_RECONCILE_HOURS));
        const first = await run('ours: first sync', oursConfig(NO_RECONCILE_HOURS), dataset.expectedSynced + listPages);
        const noChange = await run('ours: incremental, nothing changed', oursConfig(NO_RECONCILE_HOURS), 2);
        const reconcile = await run('ours: reconciliation (reconcileEveryHours 0)', oursConfig(0), listPages);
        // Nango prunes a payload 30 days after its last update; here every payload at once.
        await pruneEveryRecord(oursConfig(0).storeDir);
        const reconcilePruned = await run('ours: reconciliation, every payload pruned', oursConfig(0), listPages);
        const changedCalls = await emulator.modify(Math.round(n / 100));
        const changed = await run(`ours: incremental, ${changedCalls} calls changed`, oursConfig(NO_RECONCILE_HOURS), changedCalls + 2);
        // The changed calls were stored seconds after Clari changed them: the case a fixed clock-skew allowance
        // would fetch again after every prune.
        await pruneEveryRecord(oursConfig(0).storeDir);
        const reconcilePrunedTwice = await run('ours: reconciliation, store pruned twice', oursConfig(0), listPages);

        let baseline: BaselineComparison | null = null;
        let baselineSkipped: string | null = null;
        if (n <= args.baselineMax) {
            const baselineSpeed = args.baselineSpeed;
            const comparison = comparisonLatency(baselineSpeed);
            await emulator.resetTo(CLARI_RATE * baselineSpeed, comparison);
            const compare = (label: string, config: RunOptions['config'], expectedRequests: number): ReturnType<typeof measure> =>
                measure({ label: `N=${n} ${label}`, emulator, speed: baselineSpeed, latency: comparison, config, expectedRequests });
            console.log(
                `  ours vs naive at fixed ${comparison.details.minMs} ms details (300 ms / speed ${baselineSpeed}), ${CLARI_RATE * baselineSpeed} req/s`
            );
            const comparisonConfig = (strategy: 'ours' | 'naive', folder: string): RunOptions['config'] => ({
                strategy,
                storeDir: path.join(tmp, folder),
                connectionId: CONNECTION_ID,
                metadata: { maxRequestsPerSecond: CLARI_RATE * baselineSpeed, refreshRecentDays: 0 }
            });
            const oursAt300 = comparisonConfig('ours', 'ours-300ms');
            await prepareStore(emulator, oursAt300);
            const ours = await compare('ours: first sync, 300 ms details', oursAt300, dataset.expectedSynced + listPages);
            const naiveConfig = comparisonConfig('naive', 'naive');
            await prepareStore(emulator, naiveConfig);
            const naive = await compare('naive baseline: first sync, 300 ms details', naiveConfig, dataset.expectedSynced + listPages);
            if (naive.skipCapHit) {
                console.log(`  !!! the naive baseline hit Clari's skip cap (400 at skip > 10,000): it listed only part of the ${n} calls`);
            }
            baseline = { speed: baselineSpeed, ours, naive, speedup: ours.wallS > 0 ? naive.wallS / ours.wallS : 0 };
        } else {
            baselineSkipped = `not run: N > --baseline-max ${args.baselineMax}`;
            console.log(`  naive baseline SKIPPED for N=${n} (above --baseline-max ${args.baselineMax})`);
        }
        return {
            n,
            dataset,
            first,
            noChange,
            changedCalls,
            changed,
            reconcile,
            reconcilePruned,
            reconcilePrunedTwice,
            baseline,
            baselineSkipped
        };
    } finally {
        await emulator.close();
        await rm(tmp, { recursive: true, force: true });
    }
}

/** summary.md is pasted into README.md, which `npm run format:check` checks: write it the way prettier would. */
async function prettierFormatted(text: string, file: string): Promise<string> {
    const options = (await prettier.resolveConfig(file)) ?? {};
    return prettier.format(text, { ...options, filepath: file });
}

/** Earlier runs with other settings (run-*.json in the same folder), quoted in summary.md next to this one. */
async function otherRecordedRuns(dir: string, except: string): Promise<RecordedRun[]> {
    const names = (await readdir(dir)).filter((name) => /^run-.*\.json$/.test(name) && name !== except).sort();
    const runs: RecordedRun[] = [];
    for (const name of names) {
        try {
            const parsed = recordedRunSchema.safeParse(JSON.parse(await readFile(path.join(dir, name), 'utf8')));
            if (parsed.success) {
                runs.push(parsed.data);
            }
        } catch {
            console.log(`(ignoring ${name}: not readable JSON)`);
        }
    }
    return runs;
}

/** Writes latest.json (and its run-*.json copy), both charts and summary.md into `outDir`, then prints the report. */
async function writeOutputs(results: BenchResults, outDir: OutputDir): Promise<void> {
    const { args } = results;
    const dir = path.join(REPO_ROOT, outDir);
    await mkdir(dir, { recursive: true });
    const charts = await renderCharts(results);
    const json = `${JSON.stringify(results, null, 2)}\n`;
    await writeFile(path.join(dir, 'latest.json'), json);
    const runFile = `run-n${args.sizes.join('-')}-x${args.speed}-b${args.baselineSpeed}.json`;
    await writeFile(path.join(dir, runFile), json);
    await writeFile(path.join(dir, 'time-vs-n.svg'), charts.time);
    await writeFile(path.join(dir, 'memory-vs-n.svg'), charts.memory);
    const summaryFile = path.join(dir, 'summary.md');
    await writeFile(
        summaryFile,
        await prettierFormatted(summaryMarkdown(results, await otherRecordedRuns(dir, runFile), outDir), summaryFile)
    );

    console.log(consoleReport(results));
    console.log(
        `\nWrote ${outDir}/latest.json, ${runFile}, time-vs-n.svg, memory-vs-n.svg, summary.md ` +
            `(bench ran ${(results.totalBenchSeconds / 60).toFixed(1)} min).`
    );
    if (outDir !== OUTPUT_DIRS.published) {
        console.log(`${outDir}/ is not tracked by git; --publish writes to ${OUTPUT_DIRS.published}/, which the README quotes.`);
    }
}

async function runBench(args: BenchArgs): Promise<BenchResults> {
    // The emulator parks every delayed response on one AbortSignal; at 10+ in flight Node warns about a leak that is not one.
    setMaxListeners(1000);
    const benchStarted = Date.now();
    // Fixed for the whole run, and close to the real clock: the sync's window is relative to it. It is an hour
    // back, as a dataset's last changes are in a store that Nango prunes after 30 days.
    const now = new Date(Math.floor(benchStarted / 60_000) * 60_000 - DATASET_LEAD_MS);
    const command = commandLine(args);
    console.log(
        `${command}\nsizes ${args.sizes.join(', ')}; speed ${args.speed}; baseline up to N=${args.baselineMax} at speed ${args.baselineSpeed}`
    );
    const skipped = args.sizes.filter((n) => n > args.baselineMax);
    if (skipped.length > 0) {
        console.log(`The naive baseline is SKIPPED for N=${skipped.join(', ')} (above --baseline-max ${args.baselineMax}).`);
    }

    const sizes: SizeResult[] = [];
    for (const n of args.sizes) {
        sizes.push(await benchSize(n, args, now));
    }
    let npmStart: NpmStartFigures | null = null;
    if (args.npmStart) {
        console.log(
            "npm start, default dataset at Clari's real rate, fresh store folders: sampling every process of its session until it serves"
        );
        npmStart = await measureNpmStart();
        console.log(`  served after ${(npmStart.servedAfterMs / 1000).toFixed(0)} s; ${npmStart.samples} samples`);
    }
    return {
        generatedAt: new Date().toISOString(),
        command,
        args,
        datasetNow: now.toISOString(),
        machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` },
        sizes,
        targets: evaluateTargets(sizes, args, npmStart),
        totalBenchSeconds: (Date.now() - benchStarted) / 1000,
        npmStart
    };
}

/** Results recorded before the store moved to a server process lack `storeIn` and `server`: their store was in the runner. */
function withStoreLocation(results: BenchResults): BenchResults {
    const upgrade = (run: Measurement): Measurement => {
        const recorded: Partial<Measurement> = run;
        return { ...run, storeIn: recorded.storeIn ?? 'runner', server: recorded.server ?? null };
    };
    return {
        ...results,
        sizes: results.sizes.map((size) => ({
            ...size,
            first: upgrade(size.first),
            noChange: upgrade(size.noChange),
            changed: upgrade(size.changed),
            reconcile: upgrade(size.reconcile),
            reconcilePruned: upgrade(size.reconcilePruned),
            reconcilePrunedTwice: size.reconcilePrunedTwice && upgrade(size.reconcilePrunedTwice),
            baseline: size.baseline && { ...size.baseline, ours: upgrade(size.baseline.ours), naive: upgrade(size.baseline.naive) }
        }))
    };
}

async function main(): Promise<void> {
    const command = parseBenchArgs(process.argv.slice(2));
    if (command.kind === 'help') {
        console.log(USAGE);
        return;
    }
    if (command.kind === 'render') {
        const latest = path.join(REPO_ROOT, command.outDir, 'latest.json');
        if (!existsSync(latest)) {
            throw new UsageError(`--render: there is no ${command.outDir}/latest.json yet; run the bench first`);
        }
        const results = withStoreLocation(JSON.parse(await readFile(latest, 'utf8')) as BenchResults);
        results.targets = evaluateTargets(results.sizes, results.args, results.npmStart);
        await writeOutputs(results, command.outDir);
        return;
    }
    await writeOutputs(await runBench(command.args), command.outDir);
}

main().catch((error: unknown) => {
    if (error instanceof UsageError) {
        console.error(`${error.message}\n\n${USAGE}`);
    } else {
        console.error('bench crashed:', error);
    }
    process.exit(1);
});
