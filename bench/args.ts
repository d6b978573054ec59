import { parseArgs } from 'node:util';

import { z } from 'zod';

export const USAGE = `npm run bench -- [options]

  --sizes 1000,5000,20000   call counts to sync (each 100..20000; default 1000)
  --speed K                 emulator rate x K, latencies / K, sync maxRequestsPerSecond = 10*K (default 1 = real time)
  --baseline-max N          skip the naive baseline (and the 300 ms comparison) above N calls (default 5000)
  --baseline-speed K        speed of the 300 ms ours-vs-naive comparison (default: --speed). The naive run's own per-call
                            cost (one store write per record) does not shrink with K, so above 1 its time is overstated
  --seed S                  emulator dataset seed (default 42)
  --skip-npm-start          skip the last measurement: npm start on the default dataset at Clari's real rate (~3 min),
                            every process of its session sampled until it serves
  --publish                 write to bench/results/ (tracked, quoted by the README) instead of bench/out/ (ignored by git)
  --render                  run nothing: redraw the charts, summary.md and targets from latest.json in the output folder
  --help`;

/** Where a run's files go, relative to the repository: a scratch folder unless the run is meant for the README. */
export const OUTPUT_DIRS = { scratch: 'bench/out', published: 'bench/results' } as const;
export type OutputDir = (typeof OUTPUT_DIRS)[keyof typeof OUTPUT_DIRS];

export interface BenchArgs {
    sizes: number[];
    speed: number;
    baselineMax: number;
    baselineSpeed: number;
    seed: number;
    /** Measure `npm start` after the sizes (bench/npm-start.ts). */
    npmStart: boolean;
}

const sizeSchema = z.coerce.number().int().min(100).max(20_000);
const speedSchema = z.coerce.number().min(0.1).max(100);

export class UsageError extends Error {
    override name = 'UsageError';
}

function parseWith<T>(schema: z.ZodType<T>, flag: string, value: string): T {
    const result = schema.safeParse(value);
    if (!result.success) {
        throw new UsageError(`--${flag} ${value}: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    return result.data;
}

export type BenchCommand = { kind: 'help' } | { kind: 'render'; outDir: OutputDir } | { kind: 'run'; args: BenchArgs; outDir: OutputDir };

export function parseBenchArgs(argv: readonly string[]): BenchCommand {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: {
                sizes: { type: 'string' },
                speed: { type: 'string' },
                'baseline-max': { type: 'string' },
                'baseline-speed': { type: 'string' },
                seed: { type: 'string' },
                'skip-npm-start': { type: 'boolean' },
                publish: { type: 'boolean' },
                render: { type: 'boolean' },
                help: { type: 'boolean' }
            },
            strict: true,
            allowPositionals: false
        });
    } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const { values } = parsed;
    if (values.help === true) {
        return { kind: 'help' };
    }
    const outDir = values.publish === true ? OUTPUT_DIRS.published : OUTPUT_DIRS.scratch;
    if (values.render === true) {
        return { kind: 'render', outDir };
    }
    const sizes = (values.sizes ?? '1000')
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '')
        .map((part) => parseWith(sizeSchema, 'sizes', part));
    if (sizes.length === 0) {
        throw new UsageError('--sizes needs at least one size');
    }
    const speed = parseWith(speedSchema, 'speed', values.speed ?? '1');
    const args: BenchArgs = {
        sizes: [...new Set(sizes)].sort((a, b) => a - b),
        speed,
        baselineMax: parseWith(z.coerce.number().int().min(0), 'baseline-max', values['baseline-max'] ?? '5000'),
        baselineSpeed: parseWith(speedSchema, 'baseline-speed', values['baseline-speed'] ?? String(speed)),
        seed: parseWith(z.coerce.number().int().min(0), 'seed', values.seed ?? '42'),
        npmStart: values['skip-npm-start'] !== true
    };
    return { kind: 'run', args, outDir };
}

/** The command line that reproduces a run, every option spelled out. */
export function commandLine(args: BenchArgs): string {
    return (
        `npm run bench -- --sizes ${args.sizes.join(',')} --speed ${args.speed} --baseline-max ${args.baselineMax} ` +
        `--baseline-speed ${args.baselineSpeed} --seed ${args.seed}${args.npmStart ? '' : ' --skip-npm-start'}`
    );
}
