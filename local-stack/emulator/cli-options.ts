import { parseArgs } from 'node:util';
import { DEFAULT_DATASET } from './dataset.js';
import { parseFaultSpec, parseLatency, type FaultRule, type LatencyRange } from './faults.js';
import { DEFAULT_CREDENTIALS, DEFAULT_RATE } from './runtime.js';
import type { StartOptions } from './server.js';

/** Flag parsing for cli.ts, kept apart so it can be tested without spawning a process. */

export const USAGE = `Usage: npm run emulator -- [options]
  --port N             port (default: CLARI_EMULATOR_PORT or 3004)
  --host H             bind address (default: CLARI_EMULATOR_HOST or 127.0.0.1)
  --calls N            past calls in the dataset (default ${DEFAULT_DATASET.calls})
  --seed N             dataset seed (default ${DEFAULT_DATASET.seed})
  --months N           how far back calls go (default ${DEFAULT_DATASET.months})
  --ties               call times on the hour or half past, so many calls share a time
  --unstable-ties      order calls with equal sort keys differently on every /calls request
  --clock-offset=MS    Clari's clock ahead (+) or behind (-) the real one, in ms (default 0)
  --rate N             requests per second before 429 (default ${DEFAULT_RATE}; 0 = unlimited)
  --no-retry-after     send 429s without a Retry-After header
  --weekly-quota N     requests a Clari week (from Sunday 00:00 UTC) allows, then 429 until the next week
                       (default: CLARI_EMULATOR_WEEKLY_QUOTA, else no quota; Clari's is 100000)
  --quota-retry-after  quota 429s carry a Retry-After to the next week's start (default: none)
  --no-quota-count-refused  429s from --rate do not count against the week (default: they count)
  --latency MS|MIN-MAX latency of /call-details (e.g. 150-400)
  --list-latency MS|MIN-MAX  latency of /calls
  --fault SPEC         repeatable: 429:0.05, 429-no-retry-after:0.05, 400:1x@call-details, 500:0.02,
                       502:3x@calls, 503:0.02, stall:0.01[:MS|:forever], 502-large-pages[:THRESHOLD],
                       empty-listing:1x, truncated-page:0.1
  --stall-ms MS|forever  default stall duration (default 30000)
  --api-key K          expected X-Api-Key (default: CLARI_EMULATOR_API_KEY or ${DEFAULT_CREDENTIALS.apiKey})
  --api-password P     expected X-Api-Password (default: CLARI_EMULATOR_API_PASSWORD or ${DEFAULT_CREDENTIALS.apiPassword})`;

export class UsageError extends Error {}

function integer(name: string, raw: string, min: number, max: number): number {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        throw new UsageError(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
    }
    return Number(raw);
}

function latency(name: string, raw: string): LatencyRange {
    const range = parseLatency(raw);
    if (!range) {
        throw new UsageError(`${name} must be milliseconds like 20 or 150-400 (got "${raw}")`);
    }
    return range;
}

export function parseCli(argv: string[], environment: NodeJS.ProcessEnv = process.env): StartOptions | 'help' {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            strict: true,
            allowPositionals: false,
            options: {
                port: { type: 'string' },
                host: { type: 'string' },
                calls: { type: 'string' },
                seed: { type: 'string' },
                months: { type: 'string' },
                ties: { type: 'boolean' },
                'unstable-ties': { type: 'boolean' },
                'clock-offset': { type: 'string' },
                rate: { type: 'string' },
                'no-retry-after': { type: 'boolean' },
                'weekly-quota': { type: 'string' },
                'quota-retry-after': { type: 'boolean' },
                'no-quota-count-refused': { type: 'boolean' },
                latency: { type: 'string' },
                'list-latency': { type: 'string' },
                fault: { type: 'string', multiple: true },
                'stall-ms': { type: 'string' },
                'api-key': { type: 'string' },
                'api-password': { type: 'string' },
                help: { type: 'boolean', short: 'h' }
            }
        });
    } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const { values } = parsed;
    if (values.help) {
        return 'help';
    }
    // An empty variable counts as unset (e.g. `CLARI_EMULATOR_PORT= npm run emulator`).
    const env = (name: string): string | undefined => environment[name] || undefined;
    const portSource = values.port === undefined && env('CLARI_EMULATOR_PORT') !== undefined ? 'CLARI_EMULATOR_PORT' : '--port';
    const rate = values.rate === undefined ? DEFAULT_RATE : Number(values.rate);
    if (!Number.isFinite(rate) || rate < 0 || values.rate?.trim() === '') {
        throw new UsageError(`--rate must be a number >= 0 (got "${values.rate ?? ''}")`);
    }
    const stallRaw = values['stall-ms'];
    const stallMs = stallRaw === undefined || stallRaw === 'forever' ? stallRaw : integer('--stall-ms', stallRaw, 0, 3_600_000);
    const faults = (values.fault ?? []).map((spec): FaultRule => {
        const rule = parseFaultSpec(spec);
        if (!rule) {
            throw new UsageError(
                `--fault "${spec}" is not valid (examples: 429:0.05, 500:3x@calls, stall:0.01:5000, 502-large-pages:50, empty-listing:1x)`
            );
        }
        return rule.kind === 'stall' && rule.stallMs === undefined && stallMs !== undefined ? { ...rule, stallMs } : rule;
    });
    const clockRaw = values['clock-offset'];
    if (clockRaw !== undefined && !/^[+-]?\d+$/.test(clockRaw)) {
        throw new UsageError(`--clock-offset must be an integer number of ms, e.g. --clock-offset=-5000 (got "${clockRaw}")`);
    }
    const quotaSource =
        values['weekly-quota'] === undefined && env('CLARI_EMULATOR_WEEKLY_QUOTA') !== undefined
            ? 'CLARI_EMULATOR_WEEKLY_QUOTA'
            : '--weekly-quota';
    const quotaRaw = values['weekly-quota'] ?? env('CLARI_EMULATOR_WEEKLY_QUOTA');
    const options: StartOptions = {
        port: integer(portSource, values.port ?? env('CLARI_EMULATOR_PORT') ?? '3004', 0, 65_535),
        host: values.host ?? env('CLARI_EMULATOR_HOST') ?? '127.0.0.1',
        calls: integer('--calls', values.calls ?? String(DEFAULT_DATASET.calls), 0, 200_000),
        seed: integer('--seed', values.seed ?? String(DEFAULT_DATASET.seed), 0, 2 ** 31),
        months: integer('--months', values.months ?? String(DEFAULT_DATASET.months), 1, 240),
        ties: values.ties === true,
        unstableTies: values['unstable-ties'] === true,
        clockOffsetMs: clockRaw === undefined ? 0 : Number(clockRaw),
        rate,
        retryAfter: values['no-retry-after'] !== true,
        ...(quotaRaw === undefined ? {} : { weeklyQuota: integer(quotaSource, quotaRaw, 0, 1_000_000_000) }),
        quota: {
            countRefused: values['no-quota-count-refused'] !== true,
            retryAfter: values['quota-retry-after'] === true ? 'next-week' : 'none'
        },
        faults,
        apiKey: values['api-key'] ?? env('CLARI_EMULATOR_API_KEY') ?? DEFAULT_CREDENTIALS.apiKey,
        apiPassword: values['api-password'] ?? env('CLARI_EMULATOR_API_PASSWORD') ?? DEFAULT_CREDENTIALS.apiPassword
    };
    if (values.latency !== undefined || values['list-latency'] !== undefined) {
        options.latency = {
            ...(values.latency === undefined ? {} : { details: latency('--latency', values.latency) }),
            ...(values['list-latency'] === undefined ? {} : { list: latency('--list-latency', values['list-latency']) })
        };
    }
    return options;
}

/** One line for a failed start; a taken port is the common case. */
export function startErrorMessage(error: unknown, port: number | undefined): string {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'EADDRINUSE') {
        return `port ${port ?? 0} is already in use (pick another with --port or CLARI_EMULATOR_PORT)`;
    }
    return `could not start: ${error instanceof Error ? error.message : String(error)}`;
}
